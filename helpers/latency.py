"""Latency of exported models, one process per runtime, in interleaved rounds (notebook 11).

Timing several runtimes one after another in one Python process measures each beside the
others' thread pools, with thread counts left to each library, and on a shared machine one
slow minute favours whichever runtime ran in it. So notebook 11 times every runtime in a
process of its own, with a fixed number of threads set before the runtime starts, and repeats
the whole set in several **rounds**, the order rotated from round to round::

    python -m helpers.latency --threads 1 --images images.npy --batch 1 --batch 1000 \\
        --setup "ONNX Runtime=onnxruntime:models/deployed_cnn.onnx"

prints one line of JSON: for each setup and batch size the milliseconds of every timed call
and their median, plus the process's start-up costs.

Runtimes (:data:`RUNTIMES`) and the engine whose process runs them (:data:`ENGINES`):
``keras-predict`` (``model.predict``, the course's usual call), ``keras-eager``
(``model(images)``, run operation by operation), ``keras-function`` (the model's call
compiled once into a TensorFlow graph by ``tf.function``), all three in one TensorFlow
process; ``onnxruntime`` (an ``.onnx`` file, float32 or quantized) in a process without
TensorFlow; ``tflite`` (a ``.tflite`` file, see :class:`helpers.export.TFLiteRunner`) in a
process that imports TensorFlow only for its interpreter. Every one takes float32 images in
[0, 1] and returns float32 probabilities, so the times compare the same work.

``threads`` is the number of threads one operation may use (one process per thread count),
and operations run one at a time:
intra-op threads and one inter-op thread for TensorFlow and ONNX Runtime, ``num_threads`` for
the TFLite interpreter (and ``OMP_NUM_THREADS`` for any OpenMP library inside).

In the notebook: :func:`run_rounds` launches the processes; :func:`summary` gives each
setup's median and interquartile range over rounds; :func:`ratio` compares two setups round
by round (the ratio of their times with a 95% interval), and :func:`claim` checks a sentence
about speed against it, like :func:`helpers.claims.claim` (raising in the course's run).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RUNTIMES = {
    "keras-predict": "keras",
    "keras-eager": "keras",
    "keras-function": "keras",
    "onnxruntime": "onnxruntime",
    "tflite": "tflite",
}
"""Each runtime :func:`load_runtime` can start, and the engine (process kind) that runs it."""

ENGINES = ("keras", "onnxruntime", "tflite")
"""The kinds of process: setups of one engine share a process, engines never do."""

SAYS = ("faster", "slower", "no measurable difference")
"""What a sentence can say about a ratio of times."""

REPO_ROOT = Path(__file__).resolve().parent.parent


def _set_tensorflow_threads(threads: int) -> None:
    import tensorflow as tf

    # Must run before TensorFlow executes its first operation, which creates the pools.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def load_runtime(runtime: str, model: str | Path, threads: int) -> Callable[[np.ndarray], object]:
    """Start ``runtime`` with ``threads`` threads on ``model`` and return ``predict(images)``.

    TensorFlow fixes its thread pools at its first operation: in one process, start every
    TensorFlow runtime with the same ``threads``.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {sorted(RUNTIMES)}")
    if threads < 1:
        raise ValueError("threads must be at least 1")
    model = Path(model)
    if runtime == "onnxruntime":  # no TensorFlow in this process at all
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda images: session.run(None, {name: images})[0]
    import helpers  # noqa: F401  (quiet TensorFlow start-up)

    _set_tensorflow_threads(threads)
    if runtime == "tflite":
        from helpers.export import TFLiteRunner

        return TFLiteRunner(model, num_threads=threads)
    import keras
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # input structure: a list of one
        network = keras.saving.load_model(model, compile=False)
    if runtime == "keras-predict":
        return lambda images: network.predict(images, batch_size=len(images), verbose=0)
    if runtime == "keras-eager":
        return lambda images: network(images, training=False).numpy()
    compiled = tf.function(  # one graph for every batch size
        lambda images: network(images, training=False),
        input_signature=[tf.TensorSpec((None, 28, 28, 1), tf.float32)],
    )
    return lambda images: compiled(images).numpy()


def time_calls(
    function: Callable[[], object],
    seconds: float = 0.5,
    min_calls: int = 5,
    max_calls: int = 2000,
    warmup: int = 3,
) -> list[float]:
    """Milliseconds of each call of ``function()``: at least ``min_calls`` calls, more until
    ``seconds`` have passed, at most ``max_calls``; ``warmup`` untimed calls come first."""
    if min_calls < 1 or max_calls < min_calls:
        raise ValueError("need 1 <= min_calls <= max_calls")
    for _ in range(warmup):
        function()
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < max_calls and (
        len(times) < min_calls or time.perf_counter() - started < seconds
    ):
        start = time.perf_counter()
        function()
        times.append(1000 * (time.perf_counter() - start))
    return times


def parse_setup(text: str) -> dict:
    """``"NAME=RUNTIME:MODEL"`` (the command line's ``--setup``) as a setup dictionary."""
    name, separator, rest = text.partition("=")
    runtime, colon, model = rest.partition(":")
    if not separator or not colon or not name or not model:
        raise ValueError(f"a setup reads NAME=RUNTIME:MODEL, not {text!r}")
    return {"name": name, "runtime": runtime, "model": model}


def measure(
    setups: Sequence[dict],
    threads: int,
    images: np.ndarray,
    batches: Sequence[int],
    seconds: float = 0.5,
    min_calls: int = 5,
    max_calls: int = 2000,
) -> dict:
    """Start every setup (``{"name", "runtime", "model"}``) in this process, then time each,
    batch size by batch size, in the order given, on the first ``batch`` images.

    Runs in the current process; :func:`run_process` runs it in a fresh one.
    """
    for batch in batches:
        if batch > len(images):
            raise ValueError(f"batch {batch} needs more than the {len(images)} images given")
    started = time.perf_counter()
    predictors = {setup["name"]: load_runtime(setup["runtime"], setup["model"], threads)
                  for setup in setups}
    result: dict = {"threads": threads, "load_s": time.perf_counter() - started, "setups": {}}
    for setup in setups:
        result["setups"][setup["name"]] = {"runtime": setup["runtime"],
                                           "model": Path(setup["model"]).name, "batches": {}}
    for batch in batches:
        chunk = np.ascontiguousarray(images[:batch], dtype=np.float32)
        for name, predict in predictors.items():
            times = time_calls(lambda predict=predict, chunk=chunk: predict(chunk), seconds,
                               min_calls, max_calls)
            result["setups"][name]["batches"][str(batch)] = {
                "median_ms": statistics.median(times), "calls": len(times), "times_ms": times}
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m helpers.latency --setup NAME=RUNTIME:MODEL ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.latency",
        description="Time runtimes on batches of images, in this process; print JSON.")
    parser.add_argument("--setup", action="append", required=True, type=parse_setup,
                        help="NAME=RUNTIME:MODEL, repeat for several (runtimes: "
                        f"{', '.join(RUNTIMES)})")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per operation (default 1)")
    parser.add_argument("--images", required=True,
                        help=".npy file of float32 images (N, 28, 28, 1) in [0, 1]")
    parser.add_argument("--batch", type=int, action="append", required=True,
                        help="batch size to time (repeat for several)")
    parser.add_argument("--seconds", type=float, default=0.5,
                        help="time each setup and batch size for about this long (default 0.5)")
    parser.add_argument("--min-calls", type=int, default=5)
    parser.add_argument("--max-calls", type=int, default=2000)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    result = measure(args.setup, args.threads, np.load(args.images), args.batch,
                     args.seconds, args.min_calls, args.max_calls)
    result["process_s"] = time.perf_counter() - started
    print(json.dumps(result))
    return 0


def run_process(
    setups: Sequence[dict],
    threads: int,
    images: str | Path,
    batches: Sequence[int],
    seconds: float = 0.5,
    min_calls: int = 5,
    max_calls: int = 2000,
) -> dict:
    """Run :func:`main` in a fresh Python process and return what it measured."""
    command = [sys.executable, "-m", "helpers.latency", "--threads", str(threads),
               "--images", str(images), "--seconds", str(seconds),
               "--min-calls", str(min_calls), "--max-calls", str(max_calls)]
    for setup in setups:
        command += ["--setup", f"{setup['name']}={setup['runtime']}:{setup['model']}"]
    for batch in batches:
        command += ["--batch", str(batch)]
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT,
                          env=environment, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rotated(items: Sequence, round_index: int) -> list:
    """``items`` starting at position ``round_index`` (mod its length): round 0 runs them in
    order, round 1 starts with the second, and so on, so no runtime always runs first."""
    shift = round_index % len(items)
    return list(items[shift:]) + list(items[:shift])


def engine_groups(setups: Sequence[dict], threads: int = 1) -> list[tuple[int, list[dict]]]:
    """The setups grouped into processes: one per engine and thread count (a setup's own
    ``"threads"``, else ``threads``), in order of first use, as ``(threads, setups)``."""
    groups: dict[tuple[str, int], list[dict]] = {}
    for setup in setups:
        if setup["runtime"] not in RUNTIMES:
            raise ValueError(f"unknown runtime {setup['runtime']!r}")
        key = (RUNTIMES[setup["runtime"]], int(setup.get("threads", threads)))
        groups.setdefault(key, []).append(setup)
    return [(key[1], group) for key, group in groups.items()]


def run_rounds(
    setups: Sequence[dict],
    rounds: int,
    images: str | Path,
    batches: Sequence[int],
    threads: int = 1,
    progress: Callable[[str], None] | None = None,
    **timing,
) -> list[dict]:
    """Time every setup (``{"name", "runtime", "model"}``, optionally ``"threads"``) once per
    round: one fresh process per engine and thread count, the processes' order and the
    setups' order within each rotated every round. ``threads`` is the thread count of setups
    that do not give their own.

    Returns one record per setup, batch size and round: ``name``, ``runtime``, ``threads``,
    ``batch``, ``round``, ``median_ms`` (of that process's calls), ``low_ms`` and
    ``high_ms`` (their quartiles), ``calls``. ``timing`` goes to :func:`run_process`
    (``seconds``, ``min_calls``, ``max_calls``).
    """
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    groups = engine_groups(setups, threads)
    records = []
    for round_index in range(rounds):
        for group_threads, group in rotated(groups, round_index):
            result = run_process(rotated(group, round_index), group_threads, images, batches,
                                 **timing)
            for name, measured in result["setups"].items():
                for batch, timed in measured["batches"].items():
                    low, _, high = quartiles(timed["times_ms"])
                    records.append({
                        "name": name, "runtime": measured["runtime"], "threads": group_threads,
                        "batch": int(batch), "round": round_index,
                        "median_ms": timed["median_ms"], "low_ms": low, "high_ms": high,
                        "calls": timed["calls"]})
        if progress is not None:
            progress(f"round {round_index + 1} of {rounds} done")
    return records


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """Lower quartile, median and upper quartile (NumPy's linear interpolation)."""
    low, median, high = np.percentile(np.asarray(values, dtype=np.float64), [25, 50, 75])
    return float(low), float(median), float(high)


def per_round(records: Sequence[dict], name: str, batch: int) -> np.ndarray:
    """The median times (ms) of setup ``name`` at ``batch``, one per round, in round order."""
    chosen = sorted((r for r in records if r["name"] == name and r["batch"] == batch),
                    key=lambda r: r["round"])
    if not chosen:
        raise ValueError(f"no measurements of {name!r} at batch {batch}")
    return np.array([r["median_ms"] for r in chosen])


def summary(records: Sequence[dict], batch: int) -> dict[str, tuple[float, float, float]]:
    """For each setup (in the order measured): the lower quartile, median and upper quartile
    over rounds of its per-round median times at ``batch``, in milliseconds."""
    names = dict.fromkeys(r["name"] for r in records if r["batch"] == batch)
    if not names:
        raise ValueError(f"no measurements at batch {batch}")
    return {name: quartiles(per_round(records, name, batch)) for name in names}


@dataclass(frozen=True)
class Ratio:
    """How many times as long ``b`` takes as ``a``, from times paired by round.

    ``ratio`` is the geometric mean over rounds of b's time over a's; ``low`` and ``high``
    are its 95% interval (a paired t-interval of the log ratios, back on the ratio scale).
    """

    a: str
    b: str
    batch: int
    ratio: float
    low: float
    high: float
    rounds: int

    def verdict(self) -> str:
        """"faster" (``a``: the whole interval of b/a lies above 1), "slower" (below 1) or
        "no measurable difference" (the interval covers 1)."""
        if self.low > 1:
            return "faster"
        if self.high < 1:
            return "slower"
        return "no measurable difference"

    def line(self) -> str:
        """One printed line: the ratio, its interval and how it was measured."""
        what = "one image" if self.batch == 1 else f"a batch of {self.batch:,}"
        return (f"{self.a} vs {self.b} ({what}, {self.rounds} rounds paired): {self.b} takes "
                f"{self.ratio:.2f}x as long as {self.a}, 95% interval "
                f"[{self.low:.2f}, {self.high:.2f}]")


def ratio(records: Sequence[dict], a: str, b: str, batch: int) -> Ratio:
    """Compare setups ``a`` and ``b`` at ``batch`` round by round (the rounds are the pairs:
    both ran in every round, close in time)."""
    from helpers.claims import log_ratio_interval

    times_a, times_b = per_round(records, a, batch), per_round(records, b, batch)
    if len(times_a) != len(times_b):
        raise ValueError(f"{a!r} and {b!r} were not measured in the same rounds")
    if len(times_a) < 2:
        raise ValueError("a ratio over rounds needs at least two rounds")
    value, low, high, _ = log_ratio_interval(times_b, times_a)
    return Ratio(a, b, batch, value, low, high, len(times_a))


def claim(result: Ratio, says: str) -> Ratio:
    """Print ``result`` with what the prose ``says`` about ``a`` ("faster", "slower" or "no
    measurable difference"). When the rounds do not support it: raise
    :class:`helpers.claims.ClaimError` in the course's own run, warn in a full run of your
    own, only print in quick mode (as :func:`helpers.claims.claim`)."""
    from helpers import claims

    if says not in SAYS:
        raise ValueError(f"a latency claim says one of {SAYS}, not {says!r}")
    sentence = says if says == "no measurable difference" else f"{result.a} is {says}"
    return claims.enforce(result, says, sentence, evidence="rounds")


if __name__ == "__main__":
    sys.exit(main())
