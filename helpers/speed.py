"""How fast can a CNN learn MNIST on a laptop CPU? The speed recipes of notebook 06.

A small, wide-first network (conv 24 -> conv 32 -> dense 256, after
tuomaso/train_mnist_fast) trained with a one-cycle Adam schedule and large batches.
The recipes were chosen on the validation split (notebook 06); the benchmark
(``python -m helpers.benchmark``) trains them on all 60,000 training images for three
seeds and reports test accuracy once.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers

from helpers.models import INPUT_SHAPE, NUM_CLASSES


@dataclass(frozen=True)
class SpeedRecipe:
    """A target test accuracy and the settings that reach it quickly."""

    target: float
    epochs: int
    batch_size: int
    peak_learning_rate: float
    augment: bool
    description: str


def build_fast_cnn(augment: bool = False, name: str = "fast_cnn") -> keras.Model:
    """conv(24, 5x5) -> pool -> conv(32, 5x5) -> pool -> dense 256 -> softmax (153,754
    parameters). No batch normalization: its running statistics lag behind in a
    one-epoch run (seen in notebook 06's probes). ``augment`` adds random shifts only,
    the cheapest augmentation that helps."""
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = inputs
    if augment:
        x = layers.RandomTranslation(0.08, 0.08, fill_mode="constant", name="shift")(x)
    for index, filters in enumerate((24, 32), start=1):
        x = layers.Conv2D(filters, 5, activation="relu", name=f"conv{index}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", name="hidden")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


SPEED_RECIPES: tuple[SpeedRecipe, ...] = (
    SpeedRecipe(0.99, epochs=1, batch_size=256, peak_learning_rate=2e-2, augment=False,
                description="fast CNN, 1 epoch, batch 256, one-cycle Adam (peak 0.02)"),
    SpeedRecipe(0.995, epochs=4, batch_size=256, peak_learning_rate=1e-2, augment=True,
                description="fast CNN + random shifts, 4 epochs, batch 256, "
                            "one-cycle Adam (peak 0.01)"),
)
