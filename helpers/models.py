"""Model builders, all with the Keras functional API.

The functional API (rather than ``keras.Sequential``) is needed by tf-keras-vis in
notebook 05. Each builder's docstring names the notebook that introduces it.
"""

from __future__ import annotations

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def build_original_cnn(dropout_rate: float = 0.5, name: str = "original_cnn") -> keras.Model:
    """The course's original CNN, built step by step in notebook 02.

    Two hidden convolutional layers with ReLU (32 and 64 filters of 3x3), each
    followed by 2x2 max pooling, then Dropout and a 10-way softmax: 34,826 parameters.
    The model is returned uncompiled; :func:`compile_original_cnn` adds SGD.
    """
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = layers.Conv2D(32, kernel_size=3, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(pool_size=2, name="pool1")(x)
    x = layers.Conv2D(64, kernel_size=3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(pool_size=2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(dropout_rate, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def compile_original_cnn(
    model: keras.Model, learning_rate: float = 0.02, momentum: float = 0.9
) -> keras.Model:
    """Compile with the original recipe (notebook 02/03): SGD with momentum, cross-entropy, accuracy."""
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
