"""The bookkeeping of a notebook's experiments: score each run once, compare runs by seed.

Notebooks 06 and 07 train many runs: each rung of the ladder from several seeds. The
lesson is in the cells that build, compile and fit each model; everything else lives here,
so those cells stay short:

- :meth:`Scoreboard.check` runs before ``fit``: it fingerprints the run (model, optimizer,
  loss, ``fit`` arguments, augmentation, training-set size) and asks the test-set record
  (:mod:`helpers.test_record`) whether that seed may be scored;
- :meth:`Scoreboard.score` runs after ``fit``: validation accuracy, then the test set read
  once for this run and recorded; one printed line per run;
- :meth:`Scoreboard.compare` compares two rungs seed by seed on validation accuracy with
  :mod:`helpers.claims` (the sentence's claim is checked in full mode);
- :meth:`Scoreboard.table` is the summary table, one row per rung.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers import claims, config, test_record


@dataclass
class Run:
    """One trained model of one rung, scored once."""

    rung: str
    seed: int
    parameters: int
    seconds: float
    val_accuracy: float
    test_accuracy: float
    test_probabilities: np.ndarray = field(repr=False)
    val_probabilities: np.ndarray = field(repr=False)


def augmentation_settings(augment: Callable | None) -> dict | None:
    """An augmentation function's name and the defaults of its parameters (its settings)."""
    if augment is None:
        return None
    parameters = {name: parameter.default
                  for name, parameter in inspect.signature(augment).parameters.items()
                  if parameter.default is not inspect.Parameter.empty}
    return {"name": getattr(augment, "__name__", type(augment).__name__), **parameters}


def probabilities_of(model, images: np.ndarray) -> np.ndarray:
    """Class probabilities from a Keras model or a scikit-learn classifier."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(images.reshape(len(images), -1))
    return model.predict(images, batch_size=1000, verbose=0)


def parameters_of(model) -> int:
    """Trainable and other parameters of a Keras model, or weights of a linear classifier."""
    if hasattr(model, "count_params"):
        return int(model.count_params())
    return int(model.coef_.size + model.intercept_.size)


class Scoreboard:
    """The scored runs of one notebook (``source``, e.g. ``"notebook 06"``)."""

    def __init__(self, source: str, splits) -> None:
        self.source = source
        self.splits = splits
        self.runs: list[Run] = []
        self.changes: dict[str, str] = {}

    def settings(self, model, fit: dict, augment: Callable | None = None, **extra) -> dict:
        """Everything that defines this run (see :func:`helpers.test_record.run_settings`)."""
        return test_record.run_settings(model, fit=fit, augmentation=augmentation_settings(augment),
                                        train_size=len(self.splits.y_train), **extra)

    def check(self, rung: str, seed: int, settings: dict) -> None:
        """Before ``fit``: may this seed of this rung be scored on the test set?"""
        test_record.check(rung, seed, settings)

    def score(self, rung: str, seed: int, model, settings: dict, seconds: float,
              changed: str | None = None) -> Run:
        """After ``fit``: validation accuracy, then one reading of the test set, recorded."""
        if changed is not None:
            self.changes[rung] = changed
        val_probabilities = probabilities_of(model, self.splits.x_val)
        val_accuracy = float((val_probabilities.argmax(1) == self.splits.y_val).mean())
        test_probabilities = probabilities_of(model, self.splits.x_test)
        test_accuracy = float((test_probabilities.argmax(1) == self.splits.y_test).mean())
        test_record.record(self.source, rung, settings, seed, test_accuracy)
        run = Run(rung, int(seed), parameters_of(model), float(seconds), val_accuracy,
                  test_accuracy, test_probabilities, val_probabilities)
        self.runs.append(run)
        print(f"{rung}, seed {seed}: {run.parameters:,} parameters, {seconds:.0f} s, "
              f"validation {val_accuracy:.2%}, test {test_accuracy:.2%}")
        return run

    def of(self, rung: str) -> list[Run]:
        """The runs of ``rung``, in the order they were scored."""
        runs = [run for run in self.runs if run.rung == rung]
        if not runs:
            raise KeyError(f"no runs of {rung!r} yet; rungs so far: {self.rungs()}")
        return runs

    def rungs(self) -> list[str]:
        """Rung names in the order they were first scored."""
        return list(dict.fromkeys(run.rung for run in self.runs))

    def compare(self, a: str, b: str, says: str,
                metric: str = "validation accuracy") -> claims.Comparison:
        """Rung ``a`` against rung ``b``, seed by seed (paired when both have the same
        seeds, Welch otherwise), on validation or test accuracy; ``says`` is the claim the
        prose makes ("better", "worse", "no measurable difference"), checked in full mode."""
        runs_a, runs_b = self.of(a), self.of(b)
        key = "val_accuracy" if metric.startswith("validation") else "test_accuracy"
        seeds_a, seeds_b = [run.seed for run in runs_a], [run.seed for run in runs_b]
        paired = seeds_a == seeds_b
        result = claims.compare([getattr(run, key) for run in runs_a],
                                [getattr(run, key) for run in runs_b],
                                a, b, metric=metric, paired=paired)
        return claims.claim(result, says)

    def table(self, rungs: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per rung: what changed, runs, parameters, mean seconds, validation and
        test accuracy (mean and standard deviation over seeds, in %), mean test errors."""
        rows = []
        for rung in rungs or self.rungs():
            runs = self.of(rung)
            val = np.array([run.val_accuracy for run in runs]) * 100
            test = np.array([run.test_accuracy for run in runs]) * 100
            rows.append({
                "rung": rung, "what changed": self.changes.get(rung, ""), "runs": len(runs),
                "parameters": runs[0].parameters,
                "seconds": float(np.mean([run.seconds for run in runs])),
                "validation %": val.mean(), "val sd": val.std(ddof=1) if len(runs) > 1 else np.nan,
                "test %": test.mean(), "test sd": test.std(ddof=1) if len(runs) > 1 else np.nan,
                "test errors": (100 - test.mean()) / 100 * len(self.splits.y_test),
            })
        return pd.DataFrame(rows).set_index("rung")

    def save(self, name: str) -> None:
        """Write every run's scores to ``<results>/<name>.csv`` (the course's run: the
        committed ``results/``), so that a later notebook and the README can use them."""
        rows = [{"rung": run.rung, "what changed": self.changes.get(run.rung, ""),
                 "seed": run.seed, "parameters": run.parameters,
                 "seconds": round(run.seconds, 1), "val_accuracy": round(run.val_accuracy, 4),
                 "test_accuracy": round(run.test_accuracy, 4)} for run in self.runs]
        pd.DataFrame(rows).to_csv(config.results_dir() / f"{name}.csv", index=False)

    def styled_table(self, rungs: Sequence[str] | None = None):
        """:meth:`table` formatted for a notebook."""
        return self.table(rungs).style.format(
            {"parameters": "{:,}", "seconds": "{:.0f}", "validation %": "{:.2f}",
             "val sd": "{:.2f}", "test %": "{:.2f}", "test sd": "{:.2f}", "test errors": "{:.0f}"},
            na_rep="-")


def load_runs(name: str) -> pd.DataFrame:
    """The runs a notebook saved with :meth:`Scoreboard.save`: this mode's results folder
    first, then (in full mode) the committed ``results/``."""
    folders = [config.results_dir()]
    if not config.is_quick():
        folders.append(config.committed_dir() / "results")
    for folder in folders:
        path = folder / f"{name}.csv"
        if path.is_file():
            return pd.read_csv(path)
    raise FileNotFoundError(f"no saved runs called {name!r}: run the notebook that makes them "
                            f"first (looked in {', '.join(str(f) for f in folders)})")
