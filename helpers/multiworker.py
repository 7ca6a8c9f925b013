"""One epoch of the fast CNN trained by two worker processes at once (notebook 10).

``tf.distribute.MultiWorkerMirroredStrategy`` keeps a copy of the model in every worker
process, splits each global batch between them and adds up their gradients before every
update (an all-reduce over gRPC), so that all copies stay identical. On a real cluster
each worker is a machine; here both are processes on this one, talking over the loopback
interface:

- :func:`run_two_workers` picks two free loopback ports, writes each worker's
  ``TF_CONFIG`` (the same cluster of ``127.0.0.1:PORT`` addresses, a different
  ``task.index``), starts both processes before either trains (the strategy waits for
  every worker of the cluster), waits for both with a timeout and always stops them
  (no worker outlives the call, whatever happens);
- :func:`run_one_process` trains the same epoch on the same data in one plain process, for
  the comparison;
- ``python -m helpers.multiworker`` is the worker itself (``--role worker`` reads
  ``TF_CONFIG``; ``--role single`` ignores it). It creates the strategy before any other
  TensorFlow operation, as the strategy requires, trains one epoch of the 99% recipe's
  settings (``helpers.speed``) and prints one JSON line: its seconds and validation
  accuracy.

Both workers judge the trained weights on the same validation images and must agree
exactly: that is the check that the copies stayed in step.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from helpers.config import REPO_ROOT

if TYPE_CHECKING:
    import keras

LOOPBACK = "127.0.0.1"
"""The only address the workers are given: they reach each other through loopback."""

DEFAULT_TIMEOUT = 300.0
"""Seconds after which a run that has not finished is stopped."""


@dataclass(frozen=True)
class WorkerResult:
    """What one process reported: its role and index, the seconds of its epoch (first step
    to last, tracing included), the steps and global batch size, validation accuracy."""

    role: str
    index: int
    seconds: float
    steps: int
    global_batch_size: int
    per_worker_batch_size: int
    validation_accuracy: float
    threads: int


def free_loopback_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on the loopback interface, chosen by the system.
    (Each is released before use; another program could take it in between, which then
    shows as a worker that fails to start, not as a hang: the timeout stops it.)"""
    sockets = []
    try:
        for _ in range(count):
            handle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            handle.bind((LOOPBACK, 0))
            sockets.append(handle)
        return [handle.getsockname()[1] for handle in sockets]
    finally:
        for handle in sockets:
            handle.close()


def tf_config(ports: list[int], index: int) -> dict:
    """The ``TF_CONFIG`` of worker ``index`` in a cluster of loopback workers."""
    return {"cluster": {"worker": [f"{LOOPBACK}:{port}" for port in ports]},
            "task": {"type": "worker", "index": index}}


def _command(role: str, train_size: int | None, seed: int, batch_size: int | None,
             timeout: float) -> list[str]:
    command = [sys.executable, "-m", "helpers.multiworker", "--role", role, "--seed", str(seed),
               "--timeout", str(timeout)]
    if train_size:
        command += ["--train-size", str(train_size)]
    if batch_size:
        command += ["--batch-size", str(batch_size)]
    return command


def _environment(threads: int, tf_config_value: dict | None) -> dict[str, str]:
    environment = dict(os.environ)
    environment.pop("TF_CONFIG", None)
    if tf_config_value is not None:
        environment["TF_CONFIG"] = json.dumps(tf_config_value)
    # TensorFlow reads its thread-pool sizes from these when it starts.
    environment["TF_NUM_INTRAOP_THREADS"] = str(threads)
    environment["TF_NUM_INTEROP_THREADS"] = str(threads)
    environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return environment


def _stop(process: subprocess.Popen) -> None:
    """Stop a worker and everything it started (its own process group), then reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=3)  # a worker waiting for its partner may ignore SIGTERM
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)


def _run_processes(commands: list[tuple[list[str], dict[str, str]]],
                   timeout: float) -> list[WorkerResult]:
    """Start every process at once, wait for all, stop all whatever happens; each must exit
    with status 0 and print a JSON line last."""
    with ExitStack() as cleanup:
        processes = []
        for command, environment in commands:
            process = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       start_new_session=True)  # its own process group
            cleanup.callback(_stop, process)
            processes.append(process)
        deadline = time.monotonic() + timeout
        outputs = []
        for process in processes:
            try:
                stdout, stderr = process.communicate(
                    timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired as error:
                raise TimeoutError(f"a worker did not finish within {timeout:.0f} s; all "
                                   "workers were stopped") from error
            if process.returncode != 0:
                raise RuntimeError(f"a worker failed with status {process.returncode}:\n"
                                   + stderr[-3000:])
            outputs.append(stdout)
    results = []
    for stdout in outputs:
        lines = [line for line in stdout.splitlines() if line.startswith("{")]
        results.append(WorkerResult(**json.loads(lines[-1])))
    return results


def run_two_workers(train_size: int | None = None, seed: int = 1, threads: int = 1,
                    batch_size: int | None = None,
                    timeout: float = DEFAULT_TIMEOUT) -> list[WorkerResult]:
    """One epoch trained by two worker processes of a ``MultiWorkerMirroredStrategy`` on
    this machine (``threads`` threads per worker; ``batch_size`` the global batch, the
    recipe's by default), both started before either trains. Returns both workers' results
    (worker 0 first)."""
    ports = free_loopback_ports(2)
    commands = [(_command("worker", train_size, seed, batch_size, timeout),
                 _environment(threads, tf_config(ports, i))) for i in range(2)]
    return _run_processes(commands, timeout)


def run_one_process(train_size: int | None = None, seed: int = 1, threads: int = 2,
                    batch_size: int | None = None,
                    timeout: float = DEFAULT_TIMEOUT) -> WorkerResult:
    """The same epoch, on the same data, in one plain process with ``threads`` threads."""
    (result,) = _run_processes([(_command("single", train_size, seed, batch_size, timeout),
                                 _environment(threads, None))], timeout)
    return result


def distributed_training_step(model: keras.Model, strategy):
    """One training step of ``model`` under ``strategy``, as a compiled function of a
    distributed batch: every replica computes the loss and gradients of its part of the
    global batch; the optimizer adds up the gradients of all replicas (an all-reduce across
    the workers) before it updates the weights, so every copy of the model stays the same.
    The loss of each replica is its share of the global batch's mean loss."""
    import keras
    import tensorflow as tf

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            probabilities = model(images, training=True)
            per_image = keras.losses.categorical_crossentropy(labels, probabilities)
            loss = tf.nn.compute_average_loss(per_image)  # / the global batch's size
        gradients = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def step(batch):
        return strategy.run(replica_step, args=batch)

    return step


def train_one_epoch(role: str, train_size: int | None, seed: int,
                    batch_size: int | None = None) -> WorkerResult:
    """The body of a worker process (``role`` "worker" or "single"); see the module doc.

    Keras 3's ``model.fit`` stops under ``MultiWorkerMirroredStrategy`` (it reduces the
    first batch and the metrics in ways this strategy cannot: keras-team/keras#20585), so
    both roles train with the same short loop of :func:`distributed_training_step`: under
    the strategy for a worker, under TensorFlow's default (no-op) strategy for one
    process. The model, optimizer, schedule and pipeline are the recipe's
    (``helpers.speed``)."""
    import tensorflow as tf

    if role == "worker":  # before any other TensorFlow operation in this process
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()

    from helpers import config, data, speed

    tf.get_logger().setLevel("ERROR")
    splits = data.make_splits(data.load_mnist(), train_size=train_size)
    recipe = speed.one_epoch_recipe()
    if batch_size:
        recipe = replace(recipe, batch_size=batch_size)
    config.set_seed(seed)
    with strategy.scope():  # variables are created once per worker, kept identical
        model = speed.compile_fast_cnn(speed.build_for(recipe), recipe, len(splits.y_train))
        model.optimizer.build(model.trainable_variables)
    arguments = speed.fit_arguments(recipe, splits.x_train, splits.y_train, seed)
    steps = arguments["steps_per_epoch"] * arguments["epochs"]
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)  # each worker keeps its part of a batch
    batches = iter(strategy.experimental_distribute_dataset(
        arguments["x"].with_options(options)))
    step = distributed_training_step(model, strategy)
    start = time.perf_counter()  # like training.EpochTimer: first step (tracing) to last
    for _ in range(steps):
        loss = step(next(batches))
    float(strategy.reduce("SUM", loss, axis=None))  # wait for the last step to finish
    seconds = time.perf_counter() - start
    # Every worker holds the same weights, so every worker must print the same accuracy.
    predicted = model.predict(splits.x_val, batch_size=1000, verbose=0).argmax(1)
    workers = strategy.num_replicas_in_sync
    index = 0
    if role == "worker":
        index = int(json.loads(os.environ["TF_CONFIG"])["task"]["index"])
    return WorkerResult(role=role, index=index, seconds=round(seconds, 3), steps=steps,
                        global_batch_size=recipe.batch_size,
                        per_worker_batch_size=recipe.batch_size // workers,
                        validation_accuracy=float((predicted == splits.y_val).mean()),
                        threads=int(os.environ.get("TF_NUM_INTRAOP_THREADS", "0")))


def _watchdog(timeout: float) -> None:
    """End this worker if the process that started it is gone, or after ``timeout``
    seconds: a worker whose partner died would otherwise wait for it for ever."""
    parent, deadline = os.getppid(), time.monotonic() + timeout

    def watch() -> None:
        while os.getppid() == parent and time.monotonic() < deadline:
            time.sleep(0.5)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.multiworker --role worker|single``: one epoch, one JSON line."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--role", choices=("worker", "single"), required=True)
    parser.add_argument("--train-size", type=int, default=None,
                        help="training images (default: the whole training split)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="global batch size (default: the recipe's)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds after which this process ends itself")
    args = parser.parse_args(argv)
    if args.role == "worker" and "TF_CONFIG" not in os.environ:
        parser.error("--role worker needs TF_CONFIG (run_two_workers sets it)")
    _watchdog(args.timeout)
    result = train_one_epoch(args.role, args.train_size, args.seed, args.batch_size)
    print(json.dumps(result.__dict__), flush=True)
    sys.stderr.flush()
    os._exit(0)  # do not wait for the strategy's gRPC threads to wind down


if __name__ == "__main__":
    raise SystemExit(main())

