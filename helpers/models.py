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


def augmentation_layers(shift: float = 0.1, rotation_degrees: float = 10.0,
                        zoom: float = 0.1) -> list[layers.Layer]:
    """Random rotation, zoom and shift layers, active only in training (notebook 06).

    ``shift`` and ``zoom`` are fractions of the image size. The layers do nothing at
    prediction time, so a saved model classifies unaltered images.
    """
    return [
        layers.RandomRotation(rotation_degrees / 360.0, fill_mode="constant", name="rotate"),
        layers.RandomZoom(zoom, fill_mode="constant", name="zoom"),
        layers.RandomTranslation(shift, shift, fill_mode="constant", name="shift"),
    ]


def _conv_block(x: keras.KerasTensor, filters: int, kernel_size: int, name: str,
                batch_norm: bool, padding: str = "same") -> keras.KerasTensor:
    x = layers.Conv2D(filters, kernel_size, padding=padding, use_bias=not batch_norm,
                      name=f"{name}_conv")(x)
    if batch_norm:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def build_modern_cnn(batch_norm: bool = True, augment: bool = False,
                     dropout_rate: float = 0.3, name: str = "modern_cnn") -> keras.Model:
    """A modern small CNN (notebook 06): batch normalization, more filters, global pooling.

    conv(32, 5x5) -> pool -> conv(64, 3x3) -> pool -> conv(128, 3x3) -> global average
    pooling -> Dropout -> softmax (95,146 parameters). ``augment`` inserts
    :func:`augmentation_layers` after the input; ``batch_norm=False`` gives the ablation
    without batch normalization (the convolutions then get biases instead).
    """
    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = inputs
    for layer in augmentation_layers() if augment else []:
        x = layer(x)
    x = _conv_block(x, 32, 5, "block1", batch_norm, padding="valid")
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = _conv_block(x, 64, 3, "block2", batch_norm)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = _conv_block(x, 128, 3, "block3", batch_norm)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = layers.Dropout(dropout_rate, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)
