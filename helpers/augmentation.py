"""Data augmentation that resamples each image once (notebook 06 teaches it).

:func:`random_affine` draws one rotation, one scale and one shift per image
(:func:`affine_parameters`), composes them into a single affine transform and resamples the
image once (:func:`resample`). :func:`three_resamplings` applies the very same draws as three
resamplings in a row (rotate, then scale, then shift), as chained Keras ``Random*`` layers
do: same geometry, three interpolations, blurrier digits. Notebook 06 writes the same
functions in cells tagged ``random-affine`` and ``three-resamplings``;
``tests/test_notebook06_models.py`` checks that the two give the same images. This copy
serves notebook 07, the benchmark and the solutions.

:func:`elastic_affine` adds a smooth random displacement field (an elastic distortion,
Simard et al. 2003) to the affine transform, still resampling once: one of the two
augmentations of the benchmark's ensemble.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

CENTRE = 13.5
"""The centre of a 28x28 image in pixel coordinates: rotations and scaling keep it fixed."""


def affine_parameters(count, max_degrees: float = 12.0, max_scale: float = 0.10,
                      max_shift: float = 2.5) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """One random rotation (radians), scale and shift (pixels, x and y) per image: rotation
    up to ``max_degrees`` either way, scale within 1 +/- ``max_scale``, shifts up to
    ``max_shift`` pixels on each axis, all uniform."""
    def uniform() -> tf.Tensor:
        return tf.random.uniform([count], -1.0, 1.0)

    return (uniform() * max_degrees * math.pi / 180, 1 + uniform() * max_scale,
            uniform() * max_shift, uniform() * max_shift)


def _inverse_matrix(angle, scale, shift_x, shift_y) -> tuple:
    """Coefficients (a0, a1, a2, b0, b1, b2): output pixel (x, y) reads the input at
    (a0 x + a1 y + a2, b0 x + b1 y + b2) for a rotation and scaling about the centre,
    then a shift."""
    a0, a1 = tf.cos(angle) / scale, tf.sin(angle) / scale
    b0, b1 = -tf.sin(angle) / scale, tf.cos(angle) / scale
    a2 = CENTRE - (a0 * (CENTRE + shift_x) + a1 * (CENTRE + shift_y))
    b2 = CENTRE - (b0 * (CENTRE + shift_x) + b1 * (CENTRE + shift_y))
    return a0, a1, a2, b0, b1, b2


def resample(images, angle, scale, shift_x, shift_y) -> tf.Tensor:
    """Rotate and scale each image about the centre (13.5, 13.5), then shift it: one
    bilinear resampling, blank outside."""
    a0, a1, a2, b0, b1, b2 = _inverse_matrix(angle, scale, shift_x, shift_y)
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return keras.ops.image.affine_transform(images, transforms, interpolation="bilinear",
                                            fill_mode="constant")


def random_affine(images, max_degrees: float = 12.0, max_scale: float = 0.10,
                  max_shift: float = 2.5) -> tf.Tensor:
    """Rotate, scale and shift each image of a batch (N, 28, 28, 1) by random amounts,
    resampling it once."""
    parameters = affine_parameters(tf.shape(images)[0], max_degrees, max_scale, max_shift)
    return resample(images, *parameters)


def three_resamplings(images, max_degrees: float = 12.0, max_scale: float = 0.10,
                      max_shift: float = 2.5) -> tf.Tensor:
    """The same random moves as :func:`random_affine` (same draws from the same seed),
    applied one after the other: three interpolations instead of one."""
    angle, scale, shift_x, shift_y = affine_parameters(tf.shape(images)[0], max_degrees,
                                                       max_scale, max_shift)
    ones, nothing = tf.ones_like(scale), tf.zeros_like(scale)
    images = resample(images, angle, ones, nothing, nothing)
    images = resample(images, nothing, scale, nothing, nothing)
    return resample(images, nothing, ones, shift_x, shift_y)


def _gaussian_kernel(sigma: float) -> tf.Tensor:
    radius = int(math.ceil(2.5 * sigma))
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-(x**2) / (2 * sigma**2))
    return kernel / tf.reduce_sum(kernel)


def _smooth(field: tf.Tensor, sigma: float) -> tf.Tensor:
    """Separable Gaussian smoothing of a (N, H, W, C) field."""
    kernel = _gaussian_kernel(sigma)
    channels = field.shape[-1]
    along_x = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, channels, 1])
    along_y = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, channels, 1])
    field = tf.nn.depthwise_conv2d(field, along_x, [1, 1, 1, 1], "SAME")
    return tf.nn.depthwise_conv2d(field, along_y, [1, 1, 1, 1], "SAME")


def _bilinear(images: tf.Tensor, xs: tf.Tensor, ys: tf.Tensor) -> tf.Tensor:
    """Sample images (N, H, W, 1) at input coordinates xs, ys (N, H, W); 0 outside."""
    count, height, width = tf.shape(images)[0], tf.shape(images)[1], tf.shape(images)[2]
    pixels = images[..., 0]
    x0, y0 = tf.floor(xs), tf.floor(ys)
    wx, wy = xs - x0, ys - y0
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    batch = tf.broadcast_to(tf.reshape(tf.range(count), [-1, 1, 1]), tf.shape(x0))

    def at(y, x):
        inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
        index = tf.stack([batch, tf.clip_by_value(y, 0, height - 1),
                          tf.clip_by_value(x, 0, width - 1)], axis=-1)
        return tf.gather_nd(pixels, index) * tf.cast(inside, pixels.dtype)

    out = ((1 - wx) * (1 - wy) * at(y0, x0) + wx * (1 - wy) * at(y0, x0 + 1)
           + (1 - wx) * wy * at(y0 + 1, x0) + wx * wy * at(y0 + 1, x0 + 1))
    return out[..., None]


def elastic_affine(images, alpha: float = 20.0, sigma: float = 4.0, max_degrees: float = 12.0,
                   max_scale: float = 0.10, max_shift: float = 2.5) -> tf.Tensor:
    """:func:`random_affine` composed with an elastic distortion, resampled once.

    The distortion moves every pixel by a smooth random displacement: uniform noise in
    [-1, 1] per pixel and axis, smoothed by a Gaussian of ``sigma`` pixels, scaled by
    ``alpha`` (Simard, Steinkraus and Platt, 2003)."""
    count = tf.shape(images)[0]
    a0, a1, a2, b0, b1, b2 = _inverse_matrix(*affine_parameters(count, max_degrees,
                                                                max_scale, max_shift))
    ys, xs = tf.meshgrid(tf.range(28, dtype=tf.float32), tf.range(28, dtype=tf.float32),
                         indexing="ij")

    def per_image(value):
        return tf.reshape(value, [-1, 1, 1])

    source_x = per_image(a0) * xs + per_image(a1) * ys + per_image(a2)
    source_y = per_image(b0) * xs + per_image(b1) * ys + per_image(b2)
    field = _smooth(tf.random.uniform([count, 28, 28, 2], -1.0, 1.0), sigma) * alpha
    return _bilinear(images, source_x + field[..., 0], source_y + field[..., 1])


LOW_RESOLUTION_SIDES = (11, 14, 17, 20)
"""Sides (pixels) a 28x28 image is reduced to by :func:`degrade`: MNIST's 20-pixel digit
is then 8, 10, 12 or 14 pixels tall, as on a small scan or a phone photo of a form."""


def gaussian_kernel(sigma: float = 0.9, radius: int = 3) -> np.ndarray:
    """A 2-D Gaussian blur kernel of shape (2 radius + 1, 2 radius + 1, 1, 1), summing to 1
    (a NumPy array: importing this module must not start TensorFlow's runtime, so that a
    program can still set its thread counts)."""
    taps = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma**2))
    taps = taps / taps.sum()
    return np.outer(taps, taps)[:, :, None, None].astype("float32")


GAUSSIAN = gaussian_kernel()
"""The blur of :func:`degrade`: a Gaussian of about one pixel (sigma 0.9)."""


def degrade(images, probability: float = 0.5) -> tf.Tensor:
    """Make about ``probability`` of the images look like digits from outside MNIST, one way
    each, chosen at random per image (notebook 08's cell tagged ``degrade``):

    - low resolution: reduced to one of :data:`LOW_RESOLUTION_SIDES` (averaging areas) and
      enlarged back (bilinear), blocky detail lost (one way of four, whatever the side);
    - a thick pen: strokes one pixel wider (a 2x2 maximum filter);
    - a thin pen: strokes one pixel narrower (a 2x2 minimum filter);
    - out of focus: a Gaussian blur of about one pixel (:data:`GAUSSIAN`).

    Each result is stretched so that its strongest ink is 1, as the preprocessing does.
    """
    count = tf.shape(images)[0]
    low = [tf.image.resize(tf.image.resize(images, [side, side], "area"), [28, 28])
           for side in LOW_RESOLUTION_SIDES]
    thick = tf.nn.max_pool2d(images, 2, 1, "SAME")
    thin = -tf.nn.max_pool2d(-images, 2, 1, "SAME")
    blur = tf.nn.conv2d(images, tf.constant(GAUSSIAN), 1, "SAME")
    options = tf.stack([*low, thick, thin, blur], axis=1)
    weights = tf.math.log([[0.25, 0.25, 0.25, 0.25, 1.0, 1.0, 1.0]])
    picked = tf.gather(options, tf.random.categorical(weights, count)[0], batch_dims=1)
    picked = picked / tf.maximum(tf.reduce_max(picked, axis=[1, 2, 3], keepdims=True), 1e-6)
    chosen = tf.random.uniform([count]) < probability
    return tf.where(tf.reshape(chosen, [-1, 1, 1, 1]), tf.clip_by_value(picked, 0, 1), images)


def degrade_then_affine(images) -> tf.Tensor:
    """:func:`degrade`, then :func:`random_affine`: the handwriting model's augmentation."""
    return random_affine(degrade(images))
