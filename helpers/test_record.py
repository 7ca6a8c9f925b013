"""The record of every use of the test set: ``results/test_set_record.csv``.

The course reads the 10,000 test digits once per declared seed of a recipe. Before a run,
:func:`check_fresh` refuses a seed that was already scored under the same recipe name
with different settings (a recipe changed after its test figures were seen must use new
seeds); after scoring, :func:`record` appends one row. A reader can see from the file
which seeds and recipes have met the test set, and when.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from pathlib import Path

from helpers import config

FILE_NAME = "test_set_record.csv"
COLUMNS = ("date", "source", "recipe", "fingerprint", "seed", "test_accuracy")


def record_path() -> Path:
    """``results/test_set_record.csv`` in full mode (a scratch folder in quick mode)."""
    return config.results_dir() / FILE_NAME


def fingerprint(settings: dict) -> str:
    """A short hash of a recipe's settings: equal settings give equal fingerprints."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def read_record(path: Path | None = None) -> list[dict[str, str]]:
    """All rows recorded so far (an empty list when nothing was recorded)."""
    path = path or record_path()
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def check_fresh(recipe: str, settings: dict, seeds: tuple[int, ...] | list[int]) -> None:
    """Raise ``ValueError`` if any of ``seeds`` was scored on the test set under the name
    ``recipe`` with other settings: a changed recipe must be confirmed with fresh seeds."""
    mark = fingerprint(settings)
    clashes = sorted({int(row["seed"]) for row in read_record()
                      if row["recipe"] == recipe and row["fingerprint"] != mark
                      and int(row["seed"]) in set(seeds)})
    if clashes:
        raise ValueError(
            f"seeds {clashes} of recipe {recipe!r} were scored on the test set with other "
            f"settings; declare new seeds for the changed recipe ({record_path()})")


def record(source: str, recipe: str, settings: dict, seed: int, test_accuracy: float) -> None:
    """Append one use of the test set: who read it, which recipe and seed, what it scored."""
    path = record_path()
    new_file = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
        writer.writerow({"date": time.strftime("%Y-%m-%d"), "source": source, "recipe": recipe,
                         "fingerprint": fingerprint(settings), "seed": seed,
                         "test_accuracy": f"{test_accuracy:.4f}"})
