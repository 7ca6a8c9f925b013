"""Course configuration: paths, the seed, quick/full mode and where outputs go.

Full mode is the real course: all the data and real epochs. Quick mode (environment
variable ``DIGITS_QUICK=1``, set by the tests) uses a subset and few epochs and writes
everything to ``scratch/quick/``, so that tests never overwrite committed results.

Only the course's own full run, ``make course`` or ``make benchmark`` (they set
``DIGITS_COURSE_RUN=1``), writes to the committed ``figures/``, ``models/`` and ``results/``
folders. A full run of your own (opening a notebook in Jupyter and running it) writes to
``scratch/full/``, which git ignores: your experiments never change the course's files, and
later notebooks load your models from there first, then the committed ones.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

REPO_ROOT: Path = Path(__file__).resolve().parent.parent
"""The repository root (the folder holding ``helpers/``)."""

SEED: int = 42
"""The one seed of the course; every notebook passes it to :func:`set_seed`."""

QUICK_ENV = "DIGITS_QUICK"
"""Set to 1 to switch on quick mode."""

DATA_ENV = "DIGITS_MNIST_PATH"
"""Path of an ``mnist.npz`` file in the Keras layout (used by :func:`helpers.data.load_mnist`)."""

COURSE_RUN_ENV = "DIGITS_COURSE_RUN"
"""Set to 1 by ``make course`` and ``make benchmark``: the course's own run, which writes the
committed figures, models and results (and the committed test-set record)."""

OUTPUT_ENV = "DIGITS_OUTPUT_DIR"
"""Optional override of the folder that receives figures, models and results."""

QUICK_TRAIN_SIZE = 6000
"""Training images used in quick mode (a stratified subset)."""

VALIDATION_SIZE = 5000
"""Images held out of the 60,000 training images for validation.

Choices are made on this split; the test set is never used to choose."""


def is_quick() -> bool:
    """Return True when quick mode is switched on through ``DIGITS_QUICK``."""
    return _flag(QUICK_ENV)


def pick(*, full: T, quick: T) -> T:
    """Return ``quick`` in quick mode and ``full`` otherwise.

    Notebooks use it so that both settings stay visible, e.g.
    ``EPOCHS = pick(full=15, quick=2)``.
    """
    return quick if is_quick() else full


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def is_course_run() -> bool:
    """True in the course's own full run (``DIGITS_COURSE_RUN=1``, never in quick mode)."""
    return _flag(COURSE_RUN_ENV) and not is_quick()


def mode_name() -> str:
    """Return ``"quick"`` or ``"full"``."""
    return "quick" if is_quick() else "full"


def output_dir() -> Path:
    """Folder that receives figures, models and results: ``$DIGITS_OUTPUT_DIR`` if set, else
    ``scratch/quick/`` in quick mode, the repository itself in the course's own run, and
    ``scratch/full/`` in a full run of your own."""
    override = os.environ.get(OUTPUT_ENV)
    if override:
        return Path(override).expanduser().resolve()
    if is_quick():
        return REPO_ROOT / "scratch" / "quick"
    return REPO_ROOT if is_course_run() else REPO_ROOT / "scratch" / "full"


def committed_dir() -> Path:
    """The repository root: where the course's own run keeps figures/, models/ and results/."""
    return REPO_ROOT


def _subdir(name: str) -> Path:
    path = output_dir() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def figures_dir() -> Path:
    """Folder for saved figures (``figures/`` in full mode)."""
    return _subdir("figures")


def models_dir() -> Path:
    """Folder for trained models and their histories (``models/`` in full mode)."""
    return _subdir("models")


def results_dir() -> Path:
    """Folder for measured results such as the benchmark (``results/`` in full mode)."""
    return _subdir("results")


def set_seed(seed: int = SEED) -> None:
    """Seed Python, NumPy and TensorFlow in one call so that a run repeats exactly on CPU."""
    import keras

    keras.utils.set_random_seed(int(seed))
