"""The benchmark command: ``python -m helpers.benchmark`` (``make benchmark``).

Trains, one after the other on this machine:

1. the two speed recipes of notebook 10 (``helpers.speed``), each for five seeds declared
   below and never used before, on all 60,000 training images;
2. the reference model of the Keras example "Simple MNIST convnet" (keras-io
   ``examples/vision/mnist_convnet.py``) and the course's original CNN (notebook 03);
3. an ensemble of five CNNs trained with the recipe of notebook 06's best single model
   (two of them with batch normalization, for diversity), on all 60,000 images.

For each run it records the training seconds (first training step to the end of the
last, first-epoch tracing included), images per second, test accuracy (with and without
test-time shifts where those are declared) and peak resident memory. The test set is read
once per run, at the end; every seed is checked against ``results/test_set_record.csv``
before anything trains and recorded there after it is scored. Recipes were chosen on the
validation split. Results go to ``results/benchmark.json`` and ``results/benchmark.md``.

``--quick`` (or ``DIGITS_QUICK=1``) runs every entry for one epoch on a small subset, so
the tests can keep the code path working; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import keras
import numpy as np
import psutil

from helpers import config, data, models, relative_to_repo, speed, test_record, training

SPEED_SEEDS: dict[float, tuple[int, ...]] = {0.99: (301, 302, 303, 304, 305),
                                             0.995: (311, 312, 313, 314, 315)}
"""Five seeds per speed recipe, declared before the run (seeds 1-3 were scored before)."""

ENSEMBLE_EPOCHS = 25
"""Epochs of each ensemble member (as notebook 07's best CNN)."""

ENSEMBLE_MEMBERS: tuple[tuple[int, float | None], ...] = (
    (411, None), (412, 0.9), (413, None), (414, 0.9), (415, None))
"""(seed, batch-normalization momentum) of each ensemble member: three plain CNNs of notebook
07's recipe and two with batch normalization (momentum 0.9). Seeds 401-405 were scored with an
earlier recipe (label smoothing and weight averaging, 30 epochs): a changed recipe gets fresh
seeds."""

SPEED_LIMITS = {0.99: 6.0, 0.995: 30.0}
"""The seconds of training each speed recipe aims to stay within, on this 2-core CPU."""


@dataclass
class Run:
    """One training run of the benchmark."""

    name: str
    recipe: str  # the name under which the test set record keeps it
    settings: dict
    description: str
    seed: int
    train: Callable[[np.ndarray, np.ndarray, list], keras.Model]  # (x, y, callbacks) -> model
    full_training_set: bool
    test_time_shifts: bool = False


class PeakMemory:
    """Samples this process's resident memory in a background thread; ``peak_mib`` is the max."""

    def __enter__(self) -> PeakMemory:
        self._process = psutil.Process(os.getpid())
        self.peak_mib = self._process.memory_info().rss / 2**20
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_mib = max(self.peak_mib, self._process.memory_info().rss / 2**20)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _speed_run(recipe: speed.SpeedRecipe, seed: int, epochs: float) -> Run:
    recipe = replace(recipe, epochs=epochs)

    def train(x: np.ndarray, y: np.ndarray, callbacks: list) -> keras.Model:
        config.set_seed(seed)
        model = speed.compile_fast_cnn(speed.build_for(recipe), recipe, len(y))
        model.fit(**speed.fit_arguments(recipe, x, y, seed), callbacks=callbacks, verbose=0)
        return model

    return Run(name=f"speed_{recipe.target}_seed{seed}", recipe=f"speed_{recipe.target}",
               settings=vars(recipe), description=recipe.description, seed=seed, train=train,
               full_training_set=True, test_time_shifts=recipe.augment)


def _array_run(name: str, description: str, build: Callable[[], keras.Model],
               compile_model: Callable[[keras.Model], keras.Model], epochs: int,
               batch_size: int, seed: int) -> Run:
    def train(x: np.ndarray, y: np.ndarray, callbacks: list) -> keras.Model:
        config.set_seed(seed)
        model = compile_model(build())
        model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=callbacks, verbose=0)
        return model

    settings = {"description": description, "epochs": epochs, "batch_size": batch_size}
    return Run(name=name, recipe=name, settings=settings, description=description, seed=seed,
               train=train, full_training_set=False)


def _ensemble_member(index: int, seed: int, batch_norm_momentum: float | None,
                     epochs: int) -> Run:
    recipe = replace(training.best_recipe(), epochs=epochs,
                     batch_norm_momentum=batch_norm_momentum)

    def train(x: np.ndarray, y: np.ndarray, callbacks: list) -> keras.Model:
        return training.train_best_cnn(x, y, seed, recipe, callbacks=callbacks)

    kind = "plain" if batch_norm_momentum is None else f"batch norm {batch_norm_momentum}"
    return Run(name=f"ensemble_member_{index}", recipe=f"best_cnn_{kind.replace(' ', '_')}",
               settings=recipe.as_dict(),
               description=f"wider CNN ({kind}), best recipe, {epochs} epochs", seed=seed,
               train=train, full_training_set=True, test_time_shifts=True)


def speed_runs(quick: bool) -> list[Run]:
    """Every speed recipe once per declared seed (one seed, one epoch in quick mode)."""
    return [_speed_run(recipe, seed, 1 if quick else recipe.epochs)
            for recipe in speed.SPEED_RECIPES
            for seed in SPEED_SEEDS[recipe.target][:1 if quick else None]]


def model_runs(quick: bool) -> list[Run]:
    """The keras-io reference and the course's original CNN (notebook 03's recipe)."""
    recipe = training.original_recipe()
    return [
        _array_run("reference_keras_io",
                   "keras-io Simple MNIST convnet (Adam, batch 128, 15 epochs)",
                   models.build_original_cnn,
                   lambda model: training.compile_adam(model, 1e-3),
                   epochs=1 if quick else 15, batch_size=128, seed=config.SEED),
        _array_run("original_cnn", "course original CNN (SGD + momentum, batch 128, 20 epochs)",
                   models.build_original_cnn,
                   lambda model: models.compile_original_cnn(model, recipe.learning_rate,
                                                             recipe.momentum),
                   epochs=1 if quick else 20, batch_size=recipe.batch_size, seed=config.SEED),
    ]


def ensemble_runs(quick: bool) -> list[Run]:
    """The ensemble's members (two, for one epoch, in quick mode)."""
    members = ENSEMBLE_MEMBERS[:2] if quick else ENSEMBLE_MEMBERS
    return [_ensemble_member(index, seed, momentum, 1 if quick else ENSEMBLE_EPOCHS)
            for index, (seed, momentum) in enumerate(members, start=1)]


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose most probable class is the label."""
    return float((np.asarray(probabilities).argmax(axis=1) == labels).mean())


def execute(run: Run, splits: data.Splits) -> tuple[dict, np.ndarray, np.ndarray | None]:
    """Train one run and score it once on the test set; return its record and its test
    probabilities without and (where declared) with test-time shifts."""
    x_train, y_train = splits.x_train, splits.y_train
    if run.full_training_set:
        x_train = np.concatenate([splits.x_train, splits.x_val])
        y_train = np.concatenate([splits.y_train, splits.y_val])
    timer = training.EpochTimer()
    with PeakMemory() as memory:
        model = run.train(x_train, y_train, [timer])
    seconds = float(sum(timer.seconds))
    probabilities = model.predict(splits.x_test, batch_size=1000, verbose=0)
    shifted = speed.predict_with_shifts(model, splits.x_test) if run.test_time_shifts else None
    epochs_run = len(timer.seconds)
    record = {
        "name": run.name,
        "recipe": run.recipe,
        "description": run.description,
        "parameters": int(model.count_params()),
        "train_examples": int(len(y_train)),
        "seed": run.seed,
        "train_seconds": round(seconds, 2),
        "images_per_second": round(len(y_train) * _epochs_of(run) / seconds, 1),
        "keras_epochs": epochs_run,
        "test_accuracy": accuracy(probabilities, splits.y_test),
        "peak_memory_mib": round(memory.peak_mib, 1),
    }
    if shifted is not None:
        record["test_accuracy_with_shifts"] = accuracy(shifted, splits.y_test)
    test_record.record("benchmark", run.recipe, run.settings, run.seed, record["test_accuracy"])
    return record, probabilities, shifted


def _epochs_of(run: Run) -> float:
    return float(run.settings.get("epochs", 1))


def summarise_speed(rungs: list[dict]) -> list[dict]:
    """Mean, spread and extremes of each speed recipe's runs (the ``speed_summary`` key)."""
    summary = []
    for target in sorted({rung["target"] for rung in rungs}):
        group = [rung for rung in rungs if rung["target"] == target]
        accuracies = np.array([rung["test_accuracy"] for rung in group])
        seconds = np.array([rung["train_seconds"] for rung in group])
        entry = {
            "target": target,
            "seeds": [rung["seed"] for rung in group],
            "mean_test_accuracy": float(accuracies.mean()),
            "std_test_accuracy": float(accuracies.std(ddof=1)) if len(group) > 1 else 0.0,
            "min_test_accuracy": float(accuracies.min()),
            "max_test_accuracy": float(accuracies.max()),
            "mean_train_seconds": float(seconds.mean()),
            "min_train_seconds": float(seconds.min()),
            "max_train_seconds": float(seconds.max()),
            "seconds_limit": SPEED_LIMITS[target],
        }
        with_shifts = [rung["test_accuracy_with_shifts"] for rung in group
                       if "test_accuracy_with_shifts" in rung]
        if with_shifts:
            entry["mean_test_accuracy_with_shifts"] = float(np.mean(with_shifts))
        summary.append(entry)
    return summary


def machine() -> dict:
    """What the benchmark ran on."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import tensorflow as tf

    gpus = len(tf.config.list_physical_devices("GPU"))
    return {"cpu": cpu, "cores": os.cpu_count(), "gpus": gpus,
            "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__}


def _percent(value: float) -> str:
    return f"{100 * value:.2f}%"


def markdown_table(results: dict) -> str:
    """The README's benchmark section, from the JSON results."""
    lines = [
        f"Measured on {results['machine']['cpu']}, {results['machine']['cores']} cores, "
        f"TensorFlow {results['machine']['tensorflow']}, Keras {results['machine']['keras']} "
        f"({results['date']}).",
        "",
        "**How fast a CNN learns on this CPU**: each recipe trained from five fresh seeds on "
        "all 60,000 training images; test accuracy read once per run.",
        "",
        "| recipe | seeds | test accuracy, mean ± sd | min - max | with test-time shifts "
        "| train seconds, mean (max) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for entry in results["speed_summary"]:
        shifts = entry.get("mean_test_accuracy_with_shifts")
        lines.append(
            f"| {entry['target']:.1%} recipe | {', '.join(map(str, entry['seeds']))} | "
            f"{_percent(entry['mean_test_accuracy'])} ± {100 * entry['std_test_accuracy']:.2f} | "
            f"{_percent(entry['min_test_accuracy'])} - {_percent(entry['max_test_accuracy'])} | "
            f"{_percent(shifts) if shifts is not None else 'not used'} | "
            f"{entry['mean_train_seconds']:.1f} ({entry['max_train_seconds']:.1f}) |")
    reference = results["models"][0]["images_per_second"]
    lines += ["", "| model | params | train s | images/s | vs reference | test acc | peak MiB |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for record in results["models"] + results["ensemble"]["member_records"]:
        lines.append(
            f"| {record['name']} | {record['parameters']:,} | {record['train_seconds']:.1f} | "
            f"{record['images_per_second']:,.0f} | "
            f"{record['images_per_second'] / reference:.2f}x | "
            f"{_percent(record['test_accuracy'])} | {record['peak_memory_mib']:.0f} |")
    ensemble = results["ensemble"]
    lines += ["", f"Ensemble of {ensemble['members']} {ensemble['description']}: "
              f"**{_percent(ensemble['test_accuracy'])}** test accuracy with test-time shifts "
              f"({_percent(ensemble['test_accuracy_without_shifts'])} without), "
              f"{ensemble['train_seconds']:.0f} s of training in all."]
    return "\n".join(lines) + "\n"


def _kind(record: dict) -> str:
    """'plain' or 'batch norm 0.9', from a member's description 'wider CNN (...), ...'."""
    return record["description"].split("(")[1].split(")")[0]


def ensemble_result(records: list[dict], plain: list[np.ndarray], shifted: list[np.ndarray],
                    labels: np.ndarray) -> dict:
    """The ensemble's entry: its members' probabilities averaged, with and without shifts."""
    return {
        "test_accuracy": accuracy(np.mean(shifted, axis=0), labels),
        "test_accuracy_without_shifts": accuracy(np.mean(plain, axis=0), labels),
        "members": len(records),
        "train_seconds": round(sum(record["train_seconds"] for record in records), 2),
        "member_test_accuracy": [record["test_accuracy"] for record in records],
        "member_records": records,
        "description": (f"wider CNNs trained with the best single model's recipe "
                        f"({', '.join(_kind(record) for record in records)}), probabilities "
                        "averaged over members and over the image and its four one-pixel shifts"),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``results/benchmark.json`` and ``results/benchmark.md``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one epoch on a small subset")
    args = parser.parse_args(argv)
    quick = args.quick or config.is_quick()
    if quick:
        os.environ[config.QUICK_ENV] = "1"
    runs = speed_runs(quick) + model_runs(quick) + ensemble_runs(quick)
    for run in runs:  # refuse before anything trains, not after 40 minutes
        test_record.check(run.recipe, run.seed, run.settings)
    mnist = data.load_mnist()
    splits = data.make_splits(mnist, train_size=2000 if quick else None)
    if quick:
        splits = data.Splits(splits.x_train, splits.y_train, splits.x_val[:500],
                             splits.y_val[:500], splits.x_test[:1000], splits.y_test[:1000])
    results: dict = {"date": time.strftime("%Y-%m-%d"), "quick": quick, "machine": machine(),
                     "models": [], "speed_rungs": []}
    members, plain, shifted = [], [], []
    for run in runs:
        print(f"training {run.name} ...", flush=True)
        record, probabilities, with_shifts = execute(run, splits)
        print(f"  {record['train_seconds']:.1f} s, test accuracy {record['test_accuracy']:.4f}",
              flush=True)
        if run.name.startswith("speed_"):
            target = float(run.recipe.removeprefix("speed_"))
            results["speed_rungs"].append({"target": target, "epochs": run.settings["epochs"],
                                           **{key: record[key] for key in record
                                              if key in ("seed", "train_seconds",
                                                         "test_accuracy",
                                                         "test_accuracy_with_shifts")}})
        elif run.name.startswith("ensemble_member"):
            members.append(record)
            plain.append(probabilities)
            shifted.append(with_shifts)
        else:
            results["models"].append(record)
    results["speed_summary"] = summarise_speed(results["speed_rungs"])
    results["ensemble"] = ensemble_result(members, plain, shifted, splits.y_test)
    out = config.results_dir()
    (out / "benchmark.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "benchmark.md").write_text(markdown_table(results))
    print(markdown_table(results))
    print(f"wrote {relative_to_repo(out / 'benchmark.json')} and benchmark.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
