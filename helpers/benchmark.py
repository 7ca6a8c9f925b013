"""The benchmark command: ``python -m helpers.benchmark`` (``make benchmark``), notebook 06.

Trains, one after the other on this machine, the reference model of the Keras example
"Simple MNIST convnet" (keras-io ``examples/vision/mnist_convnet.py``) and the course's
models, and records for each: test accuracy, training seconds, training images per
second (and its ratio to the reference), the epochs and seconds needed to reach 99.0%
and 99.5% test accuracy, and the peak resident memory of the process while it trained.
Results go to ``results/benchmark.json`` and ``results/benchmark.md``.

Timing runs from the first training step to the end of the last one (the first
epoch's graph tracing included, data loading excluded). The per-epoch test accuracy is
measured for these figures only, outside the timed span, and never used to choose
anything: recipes were chosen on the validation split (notebook 06).

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
from dataclasses import dataclass, field, replace

import keras
import numpy as np
import psutil

from helpers import config, data, models, speed, training

THRESHOLDS = (0.99, 0.995)


@dataclass
class Entry:
    """One model of the benchmark and how it is trained."""

    name: str
    description: str
    build: Callable[[], keras.Model]
    compile: Callable[[keras.Model, int], keras.Model] | None  # (model, steps); None: recipe
    epochs: float
    batch_size: int
    train_on_full_set: bool = False
    seed: int = config.SEED
    recipe: speed.SpeedRecipe | None = None  # set for the fast CNN: tf.data, fractional epochs
    extra: dict = field(default_factory=dict)


class TimedTestAccuracy(keras.callbacks.Callback):
    """Times training epochs and measures test accuracy after each, outside the timed span."""

    def __init__(self, x_test: np.ndarray, y_test: np.ndarray) -> None:
        super().__init__()
        self.x_test, self.y_test = x_test, y_test
        self.train_seconds: list[float] = []
        self.test_accuracy: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.train_seconds.append(time.perf_counter() - self._start)
        probabilities = self.model.predict(self.x_test, batch_size=1000, verbose=0)
        self.test_accuracy.append(float((probabilities.argmax(1) == self.y_test).mean()))


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


def _sgd(learning_rate: float) -> Callable[[keras.Model, int], keras.Model]:
    return lambda model, steps: models.compile_original_cnn(model, learning_rate, 0.9)


def _adam(learning_rate: float) -> Callable[[keras.Model, int], keras.Model]:
    return lambda model, steps: training.compile_adam(model, learning_rate)


def _one_cycle(peak: float) -> Callable[[keras.Model, int], keras.Model]:
    return lambda model, steps: training.compile_adam(
        model, training.one_cycle_schedule(peak, steps)
    )


def _speed_entry(recipe: speed.SpeedRecipe, seed: int, name: str | None = None) -> Entry:
    return Entry(
        name=name or f"speed_{recipe.target}_seed{seed}",
        description=recipe.description,
        build=lambda: speed.build_fast_cnn(recipe.shifts, recipe.rotations),
        compile=None,
        epochs=recipe.epochs,
        batch_size=recipe.batch_size,
        train_on_full_set=True,
        seed=seed,
        recipe=recipe,
        extra={} if recipe.target is None else {"target": recipe.target},
    )


def entries(seeds: tuple[int, ...] = (1, 2, 3)) -> list[Entry]:
    """The benchmark's models in the order they are trained; speed recipes once per seed."""
    best = training.best_recipe()
    listed = [
        Entry("reference_keras_io", "keras-io Simple MNIST convnet (Adam, batch 128, 15 epochs)",
              models.build_original_cnn, _adam(1e-3), epochs=15, batch_size=128),
        Entry("original_cnn", "course original CNN (SGD + momentum, batch 128, 20 epochs)",
              models.build_original_cnn, _sgd(0.02), epochs=20, batch_size=128),
        Entry("dense_network", "dense 256-256 (Adam, batch 128, 20 epochs)",
              models.build_dense_network, _adam(1e-3), epochs=20, batch_size=128),
        Entry("modern_cnn", "BN CNN with global pooling (one-cycle Adam, no augmentation)",
              lambda: models.build_modern_cnn(augment=False), _one_cycle(best.peak_learning_rate),
              epochs=best.epochs, batch_size=best.batch_size),
        Entry("best_cnn", "BN CNN + augmentation + one-cycle Adam (the course's best single model)",
              lambda: models.build_modern_cnn(augment=True), _one_cycle(best.peak_learning_rate),
              epochs=best.epochs, batch_size=best.batch_size),
    ]
    for recipe in speed.SPEED_RECIPES:
        listed += [_speed_entry(recipe, seed) for seed in seeds]
    return listed


def ensemble_entries(members: int) -> list[Entry]:
    """The ensemble's members: its member recipe with seeds 101, 102, ... (the speed
    rungs use seeds 1-3)."""
    return [_speed_entry(speed.ENSEMBLE.member, 100 + index, f"ensemble_member_{index}")
            for index in range(1, members + 1)]


def _first_reaching(accuracies: list[float], seconds: list[float], threshold: float) -> dict:
    for epoch, accuracy in enumerate(accuracies, start=1):
        if accuracy >= threshold:
            return {"epochs": epoch, "seconds": round(float(sum(seconds[:epoch])), 2)}
    return {"epochs": None, "seconds": None}


def run_entry(entry: Entry, splits: data.Splits,
              quick: bool) -> tuple[dict, keras.Model, np.ndarray]:
    """Train one entry; return its record, the trained model and its test probabilities."""
    x_train, y_train = splits.x_train, splits.y_train
    if entry.train_on_full_set:
        x_train = np.concatenate([splits.x_train, splits.x_val])
        y_train = np.concatenate([splits.y_train, splits.y_val])
    epochs = 1 if quick else entry.epochs
    config.set_seed(entry.seed)
    if entry.recipe is not None:
        recipe = replace(entry.recipe, epochs=epochs)
        model = speed.compile_fast_cnn(entry.build(), recipe, len(y_train))
        fit_arguments = speed.fit_arguments(recipe, x_train, y_train, entry.seed)
    else:
        model = entry.compile(entry.build(), epochs * training.steps_per_epoch(len(y_train),
                                                                              entry.batch_size))
        fit_arguments = {"x": x_train, "y": y_train, "batch_size": entry.batch_size,
                         "epochs": epochs}
    tracker = TimedTestAccuracy(splits.x_test, splits.y_test)
    with PeakMemory() as memory:
        model.fit(**fit_arguments, callbacks=[tracker], verbose=0)
    probabilities = model.predict(splits.x_test, batch_size=1000, verbose=0)
    seconds = float(sum(tracker.train_seconds))
    record = {
        "name": entry.name,
        "description": entry.description,
        "parameters": int(model.count_params()),
        "train_examples": int(len(y_train)),
        "epochs": epochs,
        "batch_size": entry.batch_size,
        "seed": entry.seed,
        "train_seconds": round(seconds, 2),
        "images_per_second": round(len(y_train) * epochs / seconds, 1),
        "test_accuracy": float((probabilities.argmax(1) == splits.y_test).mean()),
        "test_accuracy_per_epoch": [round(a, 4) for a in tracker.test_accuracy],
        "reach": {f"{t:.3f}": _first_reaching(tracker.test_accuracy, tracker.train_seconds, t)
                  for t in THRESHOLDS},
        "peak_memory_mib": round(memory.peak_mib, 1),
        **entry.extra,
    }
    return record, model, probabilities


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


def markdown_table(results: dict) -> str:
    """The README's benchmark table, from the JSON results."""
    reference = results["models"][0]["images_per_second"]
    lines = [
        f"Measured on {results['machine']['cpu']}, {results['machine']['cores']} cores, "
        f"TensorFlow {results['machine']['tensorflow']}, Keras {results['machine']['keras']} "
        f"({results['date']}).",
        "",
        "| model | params | epochs | train s | images/s | vs reference | test acc | "
        "to 99.0% | to 99.5% | peak MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def reach(record: dict, key: str) -> str:
        hit = record["reach"][key]
        if hit["epochs"] is None:
            return "not reached"
        return f"{hit['seconds']:.0f} s ({hit['epochs']} ep)"

    for record in results["models"]:
        lines.append(
            f"| {record['name']} | {record['parameters']:,} | {record['epochs']} | "
            f"{record['train_seconds']:.1f} | {record['images_per_second']:,.0f} | "
            f"{record['images_per_second'] / reference:.2f}x | "
            f"{100 * record['test_accuracy']:.2f}% | {reach(record, '0.990')} | "
            f"{reach(record, '0.995')} | {record['peak_memory_mib']:.0f} |"
        )
    ensemble = results["ensemble"]
    members = ", ".join(f"{100 * a:.2f}%" for a in ensemble["member_test_accuracy"])
    lines += ["", f"Ensemble of {ensemble['members']} {ensemble['description']}: "
              f"**{100 * ensemble['test_accuracy']:.2f}%** test accuracy "
              f"({100 * ensemble['test_accuracy_without_shifts']:.2f}% without the test-time "
              f"shifts), {ensemble['train_seconds']:.0f} s of training in all; members alone: "
              f"{members}."]
    return "\n".join(lines) + "\n"


def run_ensemble(members: int, splits: data.Splits, quick: bool) -> dict:
    """Train ``speed.ENSEMBLE``'s members and average their test probabilities."""
    with_shifts, without_shifts, member_accuracy, seconds = [], [], [], 0.0
    for entry in ensemble_entries(members):
        print(f"training {entry.name} ...", flush=True)
        record, model, probabilities = run_entry(entry, splits, quick)
        seconds += record["train_seconds"]
        without_shifts.append(probabilities)
        with_shifts.append(speed.predict_with_shifts(model, splits.x_test))
        member_accuracy.append(record["test_accuracy"])
        print(f"  {record['train_seconds']:.1f} s, test accuracy {record['test_accuracy']:.4f}",
              flush=True)

    def accuracy(probabilities: list[np.ndarray]) -> float:
        return float((np.mean(probabilities, axis=0).argmax(1) == splits.y_test).mean())

    return {
        "test_accuracy": accuracy(with_shifts if speed.ENSEMBLE.test_time_shifts
                                  else without_shifts),
        "members": members,
        "train_seconds": round(seconds, 2),
        "test_accuracy_without_shifts": accuracy(without_shifts),
        "member_test_accuracy": member_accuracy,
        "description": speed.ENSEMBLE.description,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``results/benchmark.json`` and ``results/benchmark.md``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one epoch on a small subset")
    parser.add_argument("--ensemble-members", type=int, default=None,
                        help=f"ensemble members averaged (default {speed.ENSEMBLE.members}, "
                             "quick 2)")
    args = parser.parse_args(argv)
    quick = args.quick or config.is_quick()
    if quick:
        os.environ[config.QUICK_ENV] = "1"
    mnist = data.load_mnist()
    splits = data.make_splits(mnist, train_size=2000 if quick else None)
    if quick:
        splits = data.Splits(splits.x_train, splits.y_train, splits.x_val[:500],
                             splits.y_val[:500], splits.x_test[:1000], splits.y_test[:1000])
    results: dict = {"date": time.strftime("%Y-%m-%d"), "quick": quick, "machine": machine(),
                     "models": [], "speed_rungs": []}
    for entry in entries(seeds=(1,) if quick else (1, 2, 3)):
        print(f"training {entry.name} ...", flush=True)
        record, _, _ = run_entry(entry, splits, quick)
        print(f"  {record['train_seconds']:.1f} s, test accuracy {record['test_accuracy']:.4f}",
              flush=True)
        results["models"].append(record)
        if "target" in record:
            results["speed_rungs"].append({k: record[k] for k in
                                           ("target", "seed", "train_seconds", "test_accuracy",
                                            "epochs")})
    results["ensemble"] = run_ensemble(args.ensemble_members or (2 if quick else
                                                                 speed.ENSEMBLE.members),
                                       splits, quick)
    out = config.results_dir()
    (out / "benchmark.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "benchmark.md").write_text(markdown_table(results))
    print(markdown_table(results))
    print(f"wrote {out / 'benchmark.json'} and {out / 'benchmark.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
