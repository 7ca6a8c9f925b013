"""The record of every reading of the test set: ``results/test_set_record.csv``.

The 10,000 test digits are read once per declared seed of a recipe, after every choice was
made on the validation split. Each reading is one row: when, by whom (``source``), which
recipe and seed, a *fingerprint* of everything that defines the run, the test accuracy, and
the code version (git commit) that produced it.

The fingerprint hashes the model's configuration (every layer), the optimizer's (with its
learning-rate schedule), the loss, the arguments of ``fit``, the augmentation's parameters
and the number of training images (:func:`run_settings` collects them). Change any of these
and the fingerprint changes.

Why it matters: a recipe changed *after* its test figure was seen, then scored again on the
same seeds, is chosen with the test set's help, and its figure is optimistic. So:

- In the course's own run (``make course``, ``make benchmark``: ``DIGITS_COURSE_RUN=1``) the
  committed record is written, and a recipe and seed already recorded with another
  fingerprint are refused (:class:`TestSetReuseError`): a changed recipe must be declared
  with new seeds. Re-running the very same run (same fingerprint) reproduces a reading; it
  replaces that row instead of adding one.
- In your own runs (a notebook you run and edit in Jupyter) nothing stops you: your readings
  go to a personal record under ``scratch/`` (ignored by git), and re-scoring a changed
  recipe on a seed that the course or you already scored prints a
  :class:`TestSetReuseWarning` that says why the figure is optimistic.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import time
import warnings
from pathlib import Path

from helpers import config

FILE_NAME = "test_set_record.csv"
COLUMNS = ("date", "source", "recipe", "fingerprint", "seed", "test_accuracy", "commit")


class TestSetReuseError(ValueError):
    """The course's own run re-scored a changed recipe on a seed already read."""

    __test__ = False  # not a pytest test class


class TestSetReuseWarning(UserWarning):
    """A run of your own re-scored a changed recipe on a seed already read."""

    __test__ = False


warnings.simplefilter("always", TestSetReuseWarning)


def committed_record_path() -> Path:
    """The course's record, ``results/test_set_record.csv`` in the repository."""
    return config.committed_dir() / "results" / FILE_NAME


def record_path() -> Path:
    """Where this run's readings go: the committed record in the course's own run, else a
    personal record in this mode's scratch folder (``scratch/full/results/`` or quick mode's)."""
    return config.results_dir() / FILE_NAME


def _plain(value):
    """Settings as JSON-friendly values (NumPy numbers, tuples and paths included)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _canonical_names(model_config: dict) -> dict:
    """A model's configuration with its layers renamed by position (``layer0``, ``layer1``...)
    and without the model's own name: Keras numbers automatic names (``dense_3``,
    ``input_layer_1``) by how many were made before in the session, which says nothing
    about the run."""
    names = {}
    for index, layer in enumerate(model_config.get("layers", [])):
        names[layer.get("name")] = f"layer{index}"
        names[layer.get("config", {}).get("name")] = f"layer{index}"
    names.pop(None, None)

    def rename(value):
        if isinstance(value, dict):
            return {key: rename(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rename(item) for item in value]
        return names.get(value, value) if isinstance(value, str) else value

    config = rename(model_config)
    config.pop("name", None)
    return config


def run_settings(model=None, *, fit: dict, augmentation: dict | None = None,
                 train_size: int, **extra) -> dict:
    """Everything that defines a training run, for its fingerprint.

    ``model`` is a compiled Keras model (its layers, optimizer with schedule, and loss are
    taken from it) or a scikit-learn estimator (its parameters); ``fit`` the arguments given
    to ``fit`` (epochs, batch size, steps); ``augmentation`` the augmentation's name and
    parameters; ``train_size`` the number of training images; ``extra`` anything else.
    """
    settings: dict = {"fit": fit, "augmentation": augmentation, "train_size": int(train_size)}
    if model is not None and hasattr(model, "get_config") and hasattr(model, "optimizer"):
        import keras

        settings["model"] = _canonical_names(_plain(model.get_config()))
        optimizer = _plain(keras.saving.serialize_keras_object(model.optimizer))
        optimizer.get("config", {}).pop("name", None)
        settings["optimizer"] = optimizer
        settings["loss"] = keras.saving.serialize_keras_object(model.loss)
    elif model is not None and hasattr(model, "get_params"):
        settings["model"] = {"class": type(model).__name__, **model.get_params()}
    settings.update(extra)
    return _plain(settings)


def fingerprint(settings: dict) -> str:
    """A short hash of a run's settings: equal settings give equal fingerprints."""
    text = json.dumps(_plain(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def code_version() -> str:
    """The git commit of the course's code (``+changes`` when ``helpers/`` has uncommitted
    edits), or ``unknown`` outside a git checkout."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=config.REPO_ROOT, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--", "helpers")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+changes" if changed else "")


def read_record(path: Path | None = None) -> list[dict[str, str]]:
    """All rows of a record (the current run's by default; an empty list if there is none)."""
    path = path or record_path()
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _records_to_check() -> list[Path]:
    """The course's record and, outside the course's run, this mode's personal record
    (quick mode checks only its own: its short runs never match the course's)."""
    if config.is_quick():
        return [record_path()]
    paths = [committed_record_path()]
    if record_path() != committed_record_path():
        paths.append(record_path())
    return paths


def check(recipe: str, seed: int, settings: dict) -> None:
    """Before training: is ``seed`` of ``recipe`` free to be scored with these settings?

    A seed already scored under ``recipe`` with another fingerprint raises
    :class:`TestSetReuseError` in the course's run and warns
    (:class:`TestSetReuseWarning`) in yours. The same settings again are a reproduction.
    """
    mark = fingerprint(settings)
    for path in _records_to_check():
        for row in read_record(path):
            if row["recipe"] != recipe or int(row["seed"]) != int(seed):
                continue
            if row["fingerprint"] == mark:
                continue
            message = (
                f"seed {seed} of {recipe!r} was already scored on the test set with other "
                f"settings ({row['date']}, {row['source']}, test accuracy {row['test_accuracy']},"
                f" in {config_relative(path)}). ")
            if config.is_course_run():
                raise TestSetReuseError(message + "The course's own run refuses it: declare "
                                        "new seeds for a changed recipe.")
            warnings.warn(message + "You may go on, but this reading is optimistic: the recipe "
                          "was changed after its test figure was seen, so the test set has "
                          "helped to choose it. Judge changes on validation accuracy, and "
                          "read the test set with new seeds once you have decided.",
                          TestSetReuseWarning, stacklevel=2)
            return


def check_seeds(recipe: str, seeds, settings: dict) -> None:
    """:func:`check` for several seeds of one recipe (before any of them trains)."""
    for seed in seeds:
        check(recipe, seed, settings)


def config_relative(path: Path) -> str:
    from helpers import relative_to_repo

    return relative_to_repo(path)


def record(source: str, recipe: str, settings: dict, seed: int, test_accuracy: float) -> None:
    """After scoring: write the reading to this run's record (see :func:`record_path`).

    A reading with the same recipe, seed and fingerprint as a recorded one is a reproduction:
    it replaces that row (with today's date and code version) instead of adding a second one,
    and warns if its accuracy differs from the recorded one.
    """
    check(recipe, seed, settings)
    path = record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    mark = fingerprint(settings)
    rows = read_record(path)
    row = {"date": time.strftime("%Y-%m-%d"), "source": source, "recipe": recipe,
           "fingerprint": mark, "seed": str(int(seed)), "test_accuracy": f"{test_accuracy:.4f}",
           "commit": code_version()}
    same = [index for index, old in enumerate(rows) if old["recipe"] == recipe
            and int(old["seed"]) == int(seed) and old["fingerprint"] == mark]
    if same:
        old = rows[same[0]]
        if old["test_accuracy"] != row["test_accuracy"]:
            warnings.warn(f"{recipe!r}, seed {seed}: the same settings scored "
                          f"{row['test_accuracy']} now and {old['test_accuracy']} before: this "
                          "run does not reproduce exactly", RuntimeWarning, stacklevel=2)
        rows[same[0]] = row
    else:
        rows.append(row)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(rows)
