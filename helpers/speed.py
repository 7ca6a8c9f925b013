"""How fast can a CNN learn MNIST on a laptop CPU? The speed recipes of notebook 06.

A small network (conv 16 -> conv 32 -> dense 256, after tuomaso/train_mnist_fast)
trained with a one-cycle Adam schedule, large batches and a ``tf.data`` input pipeline.
The recipes were chosen on the validation split (notebook 06); the benchmark
(``python -m helpers.benchmark``) trains them on all 60,000 training images for three
seeds and reports test accuracy once. A longer recipe with shifts and rotations
(``ENSEMBLE``) trains the members of the benchmark's ensemble.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from helpers.models import INPUT_SHAPE, NUM_CLASSES
from helpers.training import one_cycle_schedule, steps_per_epoch


@dataclass(frozen=True)
class SpeedRecipe:
    """A target test accuracy and the settings that reach it quickly.

    ``epochs`` may be fractional: 1.2 epochs are 1.2 times the batches of one pass over
    the training set, the pipeline starting a new shuffled pass where the first ends.
    """

    target: float | None  # None for an ensemble member
    epochs: float
    batch_size: int
    peak_learning_rate: float
    beta_1: float
    shifts: bool
    rotations: bool
    description: str

    def total_steps(self, examples: int) -> int:
        """Training steps (batches) for ``examples`` training images."""
        return max(1, round(self.epochs * steps_per_epoch(examples, self.batch_size)))


def build_fast_cnn(shifts: bool = False, rotations: bool = False,
                   filters: tuple[int, int] = (16, 32), name: str = "fast_cnn") -> keras.Model:
    """conv(16, 5x5) -> pool -> conv(32, 5x5) -> pool -> dense 256 -> softmax (147,146
    parameters). No batch normalization: its running statistics lag behind in a
    one-epoch run (seen in notebook 06's probes). 16 first filters, not 24: 24 learn a
    little more per epoch but take 1.3 times as long (notebook 06's ablation), too long
    for the 6-second rung. ``shifts`` adds random shifts of up to 2 pixels, the
    cheapest augmentation that helps; ``rotations`` random rotations of up to 11 degrees.
    Both are active only in training. ``filters`` sets the two convolutions' widths."""
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = inputs
    if shifts:
        x = layers.RandomTranslation(0.08, 0.08, fill_mode="constant", interpolation="nearest",
                                     name="shift")(x)
    if rotations:
        x = layers.RandomRotation(0.03, fill_mode="constant", interpolation="nearest",
                                  name="rotate")(x)
    for index, width in enumerate(filters, start=1):
        x = layers.Conv2D(width, 5, activation="relu", name=f"conv{index}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", name="hidden")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def make_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> tf.data.Dataset:
    """The input pipeline: images kept in memory (``cache``), reshuffled at every pass,
    batched, repeated without end (``fit`` counts the steps), and prepared one batch ahead
    while the model trains (``prefetch``)."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    dataset = dataset.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).repeat().prefetch(tf.data.AUTOTUNE)


def compile_fast_cnn(model: keras.Model, recipe: SpeedRecipe, examples: int) -> keras.Model:
    """Adam with the one-cycle schedule over the recipe's steps and its ``beta_1``."""
    schedule = one_cycle_schedule(recipe.peak_learning_rate, recipe.total_steps(examples))
    model.compile(optimizer=keras.optimizers.Adam(schedule, beta_1=recipe.beta_1),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def fit_arguments(recipe: SpeedRecipe, x: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """Keyword arguments for ``model.fit``: the pipeline, and the recipe's steps split into
    whole Keras epochs (1.2 epochs run as one Keras epoch of 1.2 passes' batches)."""
    keras_epochs = max(1, math.floor(recipe.epochs))
    steps = recipe.total_steps(len(y))
    return {"x": make_dataset(x, y, recipe.batch_size, seed),
            "epochs": keras_epochs, "steps_per_epoch": math.ceil(steps / keras_epochs),
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
    SpeedRecipe(0.99, epochs=1.2, batch_size=256, peak_learning_rate=2e-2, beta_1=0.8,
                shifts=False, rotations=False,
                description="fast CNN, 1.2 epochs, batch 256, one-cycle Adam "
                            "(peak 0.02, beta_1 0.8), tf.data"),
    SpeedRecipe(0.995, epochs=5, batch_size=256, peak_learning_rate=1e-2, beta_1=0.8,
                shifts=True, rotations=False,
                description="fast CNN + random shifts, 5 epochs, batch 256, one-cycle Adam "
                            "(peak 0.01, beta_1 0.8), tf.data"),
)


@dataclass(frozen=True)
class EnsembleRecipe:
    """Members trained alike from different seeds; their probabilities are averaged."""

    members: int
    member: SpeedRecipe
    test_time_shifts: bool
    description: str


ENSEMBLE = EnsembleRecipe(
    members=8,
    member=SpeedRecipe(None, epochs=15, batch_size=256, peak_learning_rate=1e-2, beta_1=0.8,
                       shifts=True, rotations=True,
                       description="fast CNN + random shifts and rotations, 15 epochs, "
                                   "batch 256, one-cycle Adam (peak 0.01, beta_1 0.8), tf.data"),
    test_time_shifts=True,
    description="fast CNNs with random shifts and rotations, 15 epochs each, probabilities "
                "averaged over members and over the image and its four one-pixel shifts",
)
