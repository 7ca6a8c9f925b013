"""How fast can a CNN learn MNIST on a laptop CPU? The speed recipes of notebook 10.

A small network (conv 16 -> conv 32 -> dense 256, after tuomaso/train_mnist_fast)
trained with a one-cycle Adam schedule, large batches and a ``tf.data`` input pipeline,
in bfloat16 mixed precision where the CPU has bfloat16 units (:func:`cpu_has_bfloat16`)
and in float32 elsewhere. The recipes were chosen on the validation split
(``results/validation_probes/speed_2026-12/``); the benchmark
(``python -m helpers.benchmark``) trains each on all 60,000 training images for five
seeds declared before the run and reports the distribution of test accuracy and seconds.
Notebook 10 shows the fast CNN's layers, ``compile`` and ``fit`` in its cells;
``tests/test_notebook10_models.py`` checks that they agree with this module. Its speed
comparisons use :func:`compare_seconds` (paired ratios of seconds over interleaved runs)
and :func:`claim_seconds`.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from helpers.augmentation import random_affine
from helpers.models import INPUT_SHAPE, NUM_CLASSES, convolution
from helpers.training import one_cycle_schedule, steps_per_epoch


@dataclass(frozen=True)
class SpeedRecipe:
    """A target test accuracy and the settings that reach it quickly.

    ``epochs`` may be fractional: 1.2 epochs are 1.2 times the batches of one pass over
    the training set, the pipeline starting a new shuffled pass where the first ends.
    """

    target: float
    epochs: float
    batch_size: int
    peak_learning_rate: float
    beta_1: float
    augment: bool
    label_smoothing: float
    dropout_rate: float
    warmup_fraction: float
    description: str
    filters: tuple[int, int] = (16, 32)
    steps_per_execution: int = 1
    beta_2: float = 0.999
    mixed_precision: bool = True  # bfloat16 where the CPU has it (see precision_for)

    def keras_epochs(self) -> int:
        """Whole Keras epochs of ``fit``: 1.2 epochs run as one Keras epoch of more steps."""
        return max(1, math.floor(self.epochs))

    def steps_per_keras_epoch(self, examples: int) -> int:
        """Steps of each Keras epoch: the recipe's batches shared out over its Keras epochs,
        rounded up to a whole number of ``steps_per_execution`` (steps run per call)."""
        wanted = self.epochs * steps_per_epoch(examples, self.batch_size) / self.keras_epochs()
        chunk = self.steps_per_execution
        return max(1, math.ceil(round(wanted, 6) / chunk)) * chunk

    def total_steps(self, examples: int) -> int:
        """Training steps (batches) for ``examples`` training images: what ``fit`` runs,
        and what the learning-rate schedule is sized for."""
        return self.keras_epochs() * self.steps_per_keras_epoch(examples)


BFLOAT16_FLAGS = ("avx512_bf16", "amx_bf16")
"""CPU flags (Linux ``/proc/cpuinfo``) of instructions that compute in bfloat16."""

PRECISION_ENV = "DIGITS_PRECISION"
"""Set to ``float32`` or ``mixed_bfloat16`` to override :func:`precision_for`."""


def cpu_has_bfloat16(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo",
                     system: str | None = None) -> bool:
    """Whether this CPU has bfloat16 arithmetic (AVX-512 BF16 or AMX), read from the flags
    in ``/proc/cpuinfo`` on Linux. Other systems are taken to have none: TensorFlow's CPU
    kernels use bfloat16 units only through oneDNN on x86 CPUs that have them."""
    if (system or platform.system()) != "Linux":
        return False
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    flags: set[str] = set()
    for line in text.splitlines():
        if line.split(":", 1)[0].strip() == "flags":
            flags.update(line.split(":", 1)[1].split())
    return bool(flags & set(BFLOAT16_FLAGS))


def precision_for(recipe: SpeedRecipe | None = None) -> str:
    """The Keras dtype policy a speed recipe trains with: ``mixed_bfloat16`` (bfloat16
    computations, float32 weights) where the CPU has bfloat16 units and the recipe allows
    it, else ``float32``. The environment variable ``DIGITS_PRECISION`` overrides it."""
    forced = os.environ.get(PRECISION_ENV, "").strip()
    if forced:
        if forced not in ("float32", "mixed_bfloat16"):
            raise ValueError(f"{PRECISION_ENV} must be float32 or mixed_bfloat16, not {forced!r}")
        return forced
    if recipe is not None and not recipe.mixed_precision:
        return "float32"
    return "mixed_bfloat16" if cpu_has_bfloat16() else "float32"


@contextlib.contextmanager
def precision_policy(name: str) -> Iterator[str]:
    """Build models inside this block with the dtype policy ``name``; the previous global
    policy comes back afterwards. A layer keeps the policy it was built with."""
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(name)
    try:
        yield name
    finally:
        keras.mixed_precision.set_global_policy(previous)


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one forward pass of one image through the model's convolutions and
    dense layers (biases, pooling and activations not counted)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            height, width, channels = layer.output.shape[1:]
            kernel = int(np.prod(layer.kernel.shape[:-1]))  # kh * kw * input channels
            total += int(height) * int(width) * int(channels) * kernel
        elif isinstance(layer, layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total


def build_fast_cnn(dropout_rate: float = 0.0, filters: tuple[int, int] = (16, 32),
                   name: str = "fast_cnn",
                   batch_norm_momentum: float | None = None) -> keras.Model:
    """conv(16, 5x5) -> pool -> conv(32, 5x5) -> pool -> dense 256 -> softmax (147,146
    parameters), with Dropout before the output when ``dropout_rate`` > 0. No batch
    normalization: its running statistics lag behind in a one-epoch run (notebook 06).
    ``filters`` sets the two convolutions' widths. The output layer computes in float32
    whatever the policy (a softmax in bfloat16 loses the small probabilities).
    ``batch_norm_momentum`` (a validation probe, not a recipe) puts batch normalization
    after each convolution."""
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = inputs
    for index, width in enumerate(filters, start=1):
        x = convolution(x, width, 5, index, batch_norm_momentum)
        x = layers.MaxPooling2D(2, name=f"pool{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", name="hidden")(x)
    if dropout_rate > 0:
        x = layers.Dropout(dropout_rate, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32",
                           name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def compile_fast_cnn(model: keras.Model, recipe: SpeedRecipe, examples: int) -> keras.Model:
    """Adam with the one-cycle schedule over the recipe's steps and its ``beta_1``;
    cross-entropy on one-hot labels with the recipe's label smoothing; the recipe's
    ``steps_per_execution`` (training steps run per call from Python)."""
    schedule = one_cycle_schedule(recipe.peak_learning_rate, recipe.total_steps(examples),
                                  warmup_fraction=recipe.warmup_fraction)
    optimizer = keras.optimizers.Adam(schedule, beta_1=recipe.beta_1, beta_2=recipe.beta_2)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.CategoricalCrossentropy(
                      label_smoothing=recipe.label_smoothing),
                  metrics=["accuracy"], steps_per_execution=recipe.steps_per_execution)
    return model


def build_for(recipe: SpeedRecipe, precision: str | None = None) -> keras.Model:
    """The fast CNN with the recipe's filters and Dropout, built with the dtype policy
    ``precision`` (default: :func:`precision_for` the recipe)."""
    with precision_policy(precision or precision_for(recipe)):
        return build_fast_cnn(dropout_rate=recipe.dropout_rate, filters=recipe.filters)


def shuffled_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
                     augment=None) -> tf.data.Dataset:
    """The speed recipes' input pipeline: like ``training.make_dataset`` (a new order at
    every pass, batches, optional augmentation per batch, repeated without end, prefetched),
    but it shuffles the *indices* of the images and gathers each batch from the arrays in
    memory. ``make_dataset``'s shuffle buffer must first be filled with all 55,000 images
    before the first batch comes out (0.3-0.5 s here); this pipeline's first batch is
    ready at once. Pass ``p`` uses the order ``stateless_shuffle(range(n), seed=[seed, p])``,
    so a seeded run repeats."""
    images, labels = tf.constant(x), tf.constant(y)
    count = len(y)

    def one_pass(index: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count), seed=tf.stack([tf.constant(seed, tf.int64), index]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    dataset = tf.data.Dataset.range(2**31).flat_map(one_pass)
    dataset = dataset.map(lambda batch: (tf.gather(images, batch), tf.gather(labels, batch)))
    if augment is not None:
        dataset = dataset.map(lambda batch_images, batch_labels: (augment(batch_images),
                                                                  batch_labels))
    return dataset.prefetch(tf.data.AUTOTUNE)


def fit_arguments(recipe: SpeedRecipe, x: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """Keyword arguments for ``model.fit``: the pipeline, and the recipe's steps split into
    whole Keras epochs (1.2 epochs run as one Keras epoch of 1.2 passes' batches)."""
    augment = random_affine if recipe.augment else None
    labels = keras.utils.to_categorical(y, NUM_CLASSES)
    return {"x": shuffled_batches(x, labels, recipe.batch_size, seed, augment=augment),
            "epochs": recipe.keras_epochs(),
            "steps_per_epoch": recipe.steps_per_keras_epoch(len(y)),
            "shuffle": False}  # the pipeline shuffles


def shift_images(images: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Images moved ``dx`` pixels right and ``dy`` down (negative: left, up), blank filled."""
    shifted = np.zeros_like(images)
    height, width = images.shape[1:3]
    source = images[:, max(0, -dy):height - max(0, dy), max(0, -dx):width - max(0, dx)]
    shifted[:, max(0, dy):height - max(0, -dy), max(0, dx):width - max(0, -dx)] = source
    return shifted


TEST_TIME_SHIFTS: tuple[tuple[int, int], ...] = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
"""The views averaged at test time: the image itself and four one-pixel shifts."""


def predict_with_shifts(model: keras.Model, images: np.ndarray,
                        shifts: tuple[tuple[int, int], ...] = TEST_TIME_SHIFTS) -> np.ndarray:
    """Class probabilities averaged over shifted copies of the images (test-time
    augmentation): a digit written a pixel to the left is still the same digit."""
    return np.mean([model.predict(shift_images(images, dx, dy), batch_size=1000, verbose=0)
                    for dx, dy in shifts], axis=0)


SPEED_RECIPES: tuple[SpeedRecipe, ...] = (
    SpeedRecipe(0.99, epochs=1.0, batch_size=256, peak_learning_rate=2e-2, beta_1=0.8,
                augment=False, label_smoothing=0.1, dropout_rate=0.0, warmup_fraction=0.2,
                steps_per_execution=8,
                description="fast CNN, 1 epoch, batch 256, one-cycle Adam (peak 0.02, "
                            "beta_1 0.8), label smoothing 0.1, 8 steps per call, "
                            "shuffled indices"),
    SpeedRecipe(0.995, epochs=8, batch_size=256, peak_learning_rate=1e-2, beta_1=0.9,
                augment=True, label_smoothing=0.1, dropout_rate=0.2, warmup_fraction=0.15,
                steps_per_execution=8,
                description="fast CNN + Dropout 0.2, each image resampled once by a random "
                            "affine transform, label smoothing 0.1, 8 epochs, batch 256, "
                            "one-cycle Adam (peak 0.01), 8 steps per call, shuffled indices"),
)
"""The two speed recipes, chosen on the validation split one change at a time
(``results/validation_probes/speed_2026-12/``), both in bfloat16 mixed precision where
the CPU has it (:func:`precision_for`). The 99% recipe: one epoch instead of 1.2, label
smoothing 0.1, 8 steps per call and the index pipeline (:func:`shuffled_batches`). The
99.5% recipe: 8 epochs instead of 6 and Dropout 0.2 instead of 0.3. Both changed, so the
benchmark scores them on fresh seeds."""


@dataclass(frozen=True)
class SecondsComparison:
    """Seconds of two settings measured in pairs (same seed or same round, interleaved): the
    ratio ``a / b`` of their geometric means, with a 95% interval from the per-pair log
    ratios."""

    a: str
    b: str
    ratio: float
    low: float
    high: float
    runs: int
    p_value: float
    metric: str = "training seconds"

    def verdict(self) -> str:
        """"slower" (``a`` takes longer: interval above 1), "faster" (below 1) or
        "no measurable difference" (the interval covers 1)."""
        if self.low > 1:
            return "slower"
        if self.high < 1:
            return "faster"
        return "no measurable difference"

    def line(self) -> str:
        """One printed line: the ratio, its interval and how many pairs it rests on."""
        return (f"{self.a} / {self.b} ({self.metric}, {self.runs} interleaved pairs): "
                f"{self.ratio:.2f}x, 95% interval [{self.low:.2f}x, {self.high:.2f}x], "
                f"p = {self.p_value:.3f}")


def compare_seconds(a, b, name_a: str, name_b: str,
                    metric: str = "training seconds") -> SecondsComparison:
    """Paired comparison of seconds (same seeds or rounds, same order). Times multiply
    rather than add (a busy machine slows every step by a factor), so the interval is
    ``mean(d) +/- t(0.975, n-1) sd(d) / sqrt(n)`` over ``d = log(a_i / b_i)``, turned back
    into a ratio. Accuracy comparisons use ``helpers.claims.compare``."""
    from helpers import claims

    if len(a) < 2:
        raise ValueError("a comparison of seconds needs at least two pairs")
    ratio, low, high, p_value = claims.log_ratio_interval(a, b)
    return SecondsComparison(name_a, name_b, ratio, low, high, len(a), p_value, metric)


SECONDS_SAYS = ("slower", "faster", "no measurable difference")
"""What a sentence can say about a comparison of seconds."""


def claim_seconds(result: SecondsComparison, says: str) -> SecondsComparison:
    """Like ``helpers.claims.claim``, for seconds: print the comparison with what the prose
    says ("slower", "faster" or "no measurable difference"). When the numbers do not
    support it: raise ``claims.ClaimError`` in the course's own run, warn in a full run of
    your own, only print in quick mode."""
    from helpers import claims

    if says not in SECONDS_SAYS:
        raise ValueError(f"a claim about seconds says one of {SECONDS_SAYS}, not {says!r}")
    return claims.enforce(result, says)


def one_epoch_recipe() -> SpeedRecipe:
    """The 99% recipe in float32, one step per call: the unit of notebook 10's thread,
    two-device and two-worker comparisons (the same work on every machine, whatever its
    bfloat16 support; a distributed step runs one batch at a time)."""
    return replace(SPEED_RECIPES[0], epochs=1, mixed_precision=False, steps_per_execution=1)


def time_one_epoch(threads: int, train_size: int | None = None, seed: int = 1) -> float:
    """Seconds of one epoch of the 99% recipe with ``threads`` threads per operation, on the
    first ``train_size`` images of the training split. TensorFlow fixes its thread pools
    when it starts, so call this in a fresh process (``python -m helpers.speed``)."""
    import tensorflow as tf

    from helpers import config, data, training

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    splits = data.make_splits(data.load_mnist())
    count = train_size or len(splits.y_train)
    x, y = splits.x_train[:count], splits.y_train[:count]
    recipe = one_epoch_recipe()
    config.set_seed(seed)
    model = compile_fast_cnn(build_for(recipe), recipe, len(y))
    timer = training.EpochTimer()
    model.fit(**fit_arguments(recipe, x, y, seed), callbacks=[timer], verbose=0)
    return float(sum(timer.seconds))


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.speed --threads N``: print one epoch's seconds as JSON (notebook 10)."""
    import argparse
    import json

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--threads", type=int, required=True, help="threads per operation")
    parser.add_argument("--train-size", type=int, default=None, help="training images used")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    seconds = time_one_epoch(args.threads, args.train_size, args.seed)
    print(json.dumps({"threads": args.threads, "seconds": round(seconds, 2)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
