"""Model builders, all with the Keras functional API.

The functional API (rather than ``keras.Sequential``) is needed by tf-keras-vis in
notebook 05. Each builder's docstring names the notebook that introduces it.
"""

from __future__ import annotations

import keras
from keras import layers

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10


def convolution(x, filters: int, kernel: int, label: int,
                batch_norm_momentum: float | None = None):
    """A ReLU convolution named ``conv{label}``; with ``batch_norm_momentum``, the
    convolution has no bias and is followed by batch normalization (``bn{label}``) and the
    ReLU (``relu{label}``). Every CNN of the course builds its convolutions with this."""
    if batch_norm_momentum is None:
        return layers.Conv2D(filters, kernel, activation="relu", name=f"conv{label}")(x)
    x = layers.Conv2D(filters, kernel, use_bias=False, name=f"conv{label}")(x)
    x = layers.BatchNormalization(momentum=batch_norm_momentum, name=f"bn{label}")(x)
    return layers.Activation("relu", name=f"relu{label}")(x)


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


def build_dense_network() -> keras.Model:
    """A dense network with two hidden layers of 256 ReLU units and Dropout 0.5: rung 2 of
    notebook 06's ladder (cell tagged ``dense-network``)."""
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = layers.Flatten(name="flatten")(inputs)
    x = layers.Dense(256, activation="relu", name="hidden1")(x)
    x = layers.Dense(256, activation="relu", name="hidden2")(x)
    x = layers.Dropout(0.5, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="dense_network")


def build_cnn(kernel: int = 3, hidden: int | None = None,
              batch_norm_momentum: float | None = None, dropout_rate: float = 0.5) -> keras.Model:
    """The CNNs of notebook 06's ladder (cells tagged ``build-cnn`` and ``bn-cnn``).

    conv(32) -> pool -> conv(64) -> pool -> [dense(hidden), ReLU] -> Dropout 0.5 -> softmax,
    with ``kernel`` x ``kernel`` convolutions. ``build_cnn()`` is the original CNN of notebook
    02; ``build_cnn(5, 256)`` the wider CNN of rung 7 (317,066 parameters). With
    ``batch_norm_momentum`` each convolution (then without bias) is followed by batch
    normalization with that momentum and the ReLU (rung 11). ``dropout_rate`` is 0.5 on the
    ladder (its solutions try others).
    """
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = inputs
    for index, filters in enumerate((32, 64), start=1):
        x = convolution(x, filters, kernel, index, batch_norm_momentum)
        x = layers.MaxPooling2D(2, name=f"pool{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    if hidden:
        x = layers.Dense(hidden, activation="relu", name="hidden")(x)
    x = layers.Dropout(dropout_rate, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    name = "cnn" if batch_norm_momentum is None else "bn_cnn"
    return keras.Model(inputs, outputs, name=name)


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
        x = convolution(x, width, 5, index, batch_norm_momentum)
        x = layers.MaxPooling2D(2, name=f"pool{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    x = layers.Dropout(dropout_rate, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


ENSEMBLE_ARCHITECTURES: dict[str, tuple[tuple[int, int], ...]] = {
    "5x5": ((32, 5), (64, 5)),
    "5x5-3x3-3x3": ((32, 5), (64, 3), (64, 3)),
    "7x7-5x5": ((32, 7), (64, 5)),
}
"""Convolution stacks of the benchmark's ensemble members, as (filters, kernel) per layer.

``"5x5"`` is the best single CNN's (conv 32 5x5 -> pool -> conv 64 5x5 -> pool);
``"5x5-3x3-3x3"`` pools after the first layer and after the last two (32C5-MP-64C3-64C3-MP);
``"7x7-5x5"`` sees larger patches (32C7-MP-64C5-MP). All end with a dense layer of 256,
Dropout and a softmax; different shapes make partly different mistakes."""


def build_ensemble_cnn(architecture: str = "5x5", batch_norm_momentum: float | None = None,
                       dropout_rate: float = 0.5, name: str | None = None) -> keras.Model:
    """One of :data:`ENSEMBLE_ARCHITECTURES` (the benchmark's ensemble members), with batch
    normalization after each convolution when ``batch_norm_momentum`` is given."""
    if architecture not in ENSEMBLE_ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of "
                         f"{sorted(ENSEMBLE_ARCHITECTURES)}")
    stack = ENSEMBLE_ARCHITECTURES[architecture]
    pool_after = {0, len(stack) - 1}  # pool after the first and after the last convolution
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = inputs
    for index, (filters, kernel) in enumerate(stack):
        label = index + 1
        x = convolution(x, filters, kernel, label, batch_norm_momentum)
        if index in pool_after:
            x = layers.MaxPooling2D(2, name=f"pool{label}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", name="hidden")(x)
    x = layers.Dropout(dropout_rate, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name or f"cnn_{architecture}")
