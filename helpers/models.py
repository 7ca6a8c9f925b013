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
    """Compile with the original recipe (notebooks 02, 03): SGD with momentum, cross-entropy."""
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_dense_network(hidden_units: int = 256, dropout_rate: float = 0.2) -> keras.Model:
    """A dense network with two hidden ReLU layers: rung 2 of the ladder in notebook 06."""
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = layers.Flatten(name="flatten")(inputs)
    x = layers.Dense(hidden_units, activation="relu", name="hidden1")(x)
    x = layers.Dropout(dropout_rate, name="dropout1")(x)
    x = layers.Dense(hidden_units, activation="relu", name="hidden2")(x)
    x = layers.Dropout(dropout_rate, name="dropout2")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="dense_network")


def build_wider_cnn(filters: tuple[int, int] = (32, 64), hidden_units: int = 256,
                    dropout_rate: float = 0.3, batch_norm_momentum: float | None = None,
                    name: str = "wider_cnn") -> keras.Model:
    """The wider CNN of notebook 06's ladder, and the course's best single model.

    conv(32, 5x5) -> pool -> conv(64, 5x5) -> pool -> dense 256 -> Dropout 0.3 -> softmax
    (317,066 parameters): the original CNN with larger kernels and a hidden dense layer.
    Notebook 06 builds it in a cell tagged ``wider-cnn-layers``; a test checks the two agree.
    ``batch_norm_momentum`` (used by some of the benchmark's ensemble members) puts batch
    normalization with that momentum after each convolution, which then has no bias.
    """
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = inputs
    for index, width in enumerate(filters, start=1):
        if batch_norm_momentum is None:
            x = layers.Conv2D(width, 5, activation="relu", name=f"conv{index}")(x)
        else:
            x = layers.Conv2D(width, 5, use_bias=False, name=f"conv{index}")(x)
            x = layers.BatchNormalization(momentum=batch_norm_momentum, name=f"bn{index}")(x)
            x = layers.Activation("relu", name=f"relu{index}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    x = layers.Dropout(dropout_rate, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)
