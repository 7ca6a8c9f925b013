"""Data augmentation that resamples each image once (notebook 06 teaches it).

``random_affine`` draws one rotation, one scale and one shift per image, composes them
into a single affine matrix and resamples the image once. Notebook 06 writes the same
function in a cell (tagged ``random-affine``) and ``tests/test_notebook06_models.py``
checks that the two give the same images; this copy serves the benchmark and later
notebooks. ``chained_random_layers`` is the blurring alternative notebook 06 measures
against it: three Keras ``Random*`` layers in a row, each resampling the image again.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import layers

CENTRE = 13.5
"""The centre of a 28x28 image in pixel coordinates: rotations and scaling keep it fixed."""


def random_affine(images: tf.Tensor, max_degrees: float = 12.0, max_scale: float = 0.10,
                  max_shift: float = 2.5) -> tf.Tensor:
    """Rotate, scale and shift each image of a batch (N, 28, 28, 1) by random amounts,
    resampling it once (bilinear, blank outside): rotation up to ``max_degrees`` either
    way, scale within 1 +/- ``max_scale``, shift up to ``max_shift`` pixels on each axis."""
    count = tf.shape(images)[0]
    angle = tf.random.uniform([count], -1.0, 1.0) * (max_degrees * math.pi / 180.0)
    scale = 1.0 + tf.random.uniform([count], -1.0, 1.0) * max_scale
    shift_x = tf.random.uniform([count], -1.0, 1.0) * max_shift
    shift_y = tf.random.uniform([count], -1.0, 1.0) * max_shift
    # Each output pixel (x, y) reads the input at (a0 x + a1 y + a2, b0 x + b1 y + b2).
    a0, a1 = tf.cos(angle) / scale, tf.sin(angle) / scale
    b0, b1 = -tf.sin(angle) / scale, tf.cos(angle) / scale
    a2 = CENTRE - (a0 * (CENTRE + shift_x) + a1 * (CENTRE + shift_y))
    b2 = CENTRE - (b0 * (CENTRE + shift_x) + b1 * (CENTRE + shift_y))
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return keras.ops.image.affine_transform(images, transforms, interpolation="bilinear",
                                            fill_mode="constant")


def chained_random_layers(rotation_degrees: float = 10.0, zoom: float = 0.1,
                          shift: float = 0.1) -> keras.Sequential:
    """Rotation, zoom and translation as three Keras layers in a row: each resamples the
    image, so a digit is interpolated three times (the augmentation notebook 06 replaced)."""
    return keras.Sequential([
        layers.RandomRotation(rotation_degrees / 360.0, fill_mode="constant"),
        layers.RandomZoom(zoom, fill_mode="constant"),
        layers.RandomTranslation(shift, shift, fill_mode="constant"),
    ], name="chained_random_layers")
