"""The website demo's model: the deployed CNN (notebook 09) plus what the network sees.

The drawing demo (``site/demo.md``) shows, live for the drawing, the feature maps of every
convolution and a Grad-CAM map of the top digit. The browser runs ONNX, which has no
automatic differentiation, so this module writes Grad-CAM's backward pass as ordinary
forward operations of the graph and exports the whole thing with tf2onnx::

    from helpers import demo_model
    demo_model.export_demo_onnx(model, "scratch/demo/deployed_cnn.demo.onnx")

The exported graph has one input ``image`` (N, 28, 28, 1) float32 in [0, 1] and the outputs

- ``probabilities`` (N, K): the model's own output (K = 10, or 11 with "not a digit" last);
- ``feature_maps_1``, ``feature_maps_2``, ... (N, H, W, C): each convolution's feature maps,
  after its activation (and after a BatchNormalization + activation that follow it);
- ``attribution`` (N, H, W): Grad-CAM (Selvaraju et al. 2017) of the top digit at the last
  convolution: ReLU of the feature maps weighted by the spatial mean of the gradient of that
  digit's score (its logit, before the softmax), min-max normalised to [0, 1] per image;
- ``attribution_digit`` (N,) int32: the digit the map is for (the most probable of the
  first ten classes).

How the gradient is written without autodiff. Write A for the last convolution's feature
maps, P for what the max pooling makes of them and g = d score / d P. The head after P
(flatten, dense layers with ReLU, dropout, batch normalization, the final dense) is
piecewise linear, so g is a chain of matrix products with the kernels, masked where a ReLU
was off. Max pooling sends each g to exactly one position of its window, so the spatial
sum of d score / d A is the spatial sum of g: the Grad-CAM weights need no unpooling at all
(a BatchNormalization between A and the pooling multiplies them by its per-channel scale).

:func:`gradcam_with_tape` computes the same map with ``tf.GradientTape`` on the Keras model
(independently of this derivation); tests/test_demo_model.py checks the exported graph
against it and against :func:`helpers.attribution.gradcam_maps` (tf-keras-vis), which
upsamples the map to 28x28: :func:`upsample` does the same, as the page does.

Supported models: functional (or sequential) chains of layers with 28x28x1 input, at least
one ``Conv2D``, and after the last convolution only batch normalization, max pooling with
equal pool size and strides, flatten, dropout, dense layers (ReLU or linear) and the final
dense layer (softmax). Convolutions are found by type, not by name. Anything else raises
:class:`DemoModelError` saying which layer.

Run as a command (the website build, site/build.py, runs it)::

    python -m helpers.demo_model MODEL.keras OUTPUT.onnx
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from helpers.export import INPUT_NAME

DIGITS = 10
OPSET = 18
"""The ONNX opset of the export (that of models/best_cnn.onnx; onnxruntime-web 1.30 runs it)."""
PROBABILITIES = "probabilities"
ATTRIBUTION = "attribution"
ATTRIBUTION_DIGIT = "attribution_digit"
FEATURE_MAPS = "feature_maps_{}"
"""Output name of the i-th convolution's feature maps, counting from 1 on the input side."""


class DemoModelError(ValueError):
    """A model whose layers the demo's Grad-CAM graph cannot follow (the message names one)."""


_ACTIVATIONS = (keras.layers.Activation, keras.layers.ReLU)
_IDENTITY = (keras.layers.Dropout, keras.layers.SpatialDropout2D, keras.layers.GaussianNoise,
             keras.layers.GaussianDropout)


@dataclass(frozen=True)
class Layout:
    """Where the demo reads a model: positions in :attr:`layers`, the chain from the input."""

    layers: tuple[keras.layers.Layer, ...]
    """The model's layers from the input to the output, InputLayer excluded."""
    features: tuple[int, ...]
    """For each convolution, the layer whose output is its feature maps (after activation)."""
    score: int
    """The final dense layer: the score of a class is its pre-softmax output (the logit)."""

    @property
    def target(self) -> int:
        """The layer whose output is Grad-CAM's A: the last convolution's feature maps."""
        return self.features[-1]

    @property
    def feature_layer_names(self) -> list[str]:
        """Names of the layers giving the feature maps (for Keras sub-models)."""
        return [self.layers[index].name for index in self.features]


def _activation_name(layer: keras.layers.Layer) -> str:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation))


def _is_plain_relu(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        return (layer.max_value is None and float(layer.negative_slope) == 0.0
                and float(layer.threshold) == 0.0)
    return _activation_name(layer) == "relu"


def _chain(model: keras.Model) -> tuple[keras.layers.Layer, ...]:
    layers = tuple(layer for layer in model.layers
                   if not isinstance(layer, keras.layers.InputLayer))
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise DemoModelError("the demo needs a model with one input and one output")
    previous = model.inputs[0]
    for layer in layers:
        if isinstance(layer, keras.Model):
            raise DemoModelError(f"layer {layer.name!r} is a nested model: flatten it into "
                                 "one functional model")
        if layer.input is not previous:
            raise DemoModelError(f"the layers do not form one chain (at {layer.name!r}): the "
                                 "demo follows a model whose every layer feeds the next")
        previous = layer.output
    return layers


def layout(model: keras.Model) -> Layout:
    """Read where the feature maps and the score are in ``model``; :class:`DemoModelError`
    names the first layer the demo cannot follow."""
    layers = _chain(model)
    convolutions = [index for index, layer in enumerate(layers)
                    if isinstance(layer, keras.layers.Conv2D)]
    if not convolutions:
        raise DemoModelError("the model has no Conv2D layer: no feature maps to show")
    features = []
    for index in convolutions:
        feature, following = index, index + 1
        while following < len(layers) and isinstance(
                layers[following], (keras.layers.BatchNormalization, *_ACTIVATIONS)):
            if isinstance(layers[following], _ACTIVATIONS):
                feature = following
            following += 1
        features.append(feature)
    dense = [index for index, layer in enumerate(layers) if isinstance(layer, keras.layers.Dense)]
    if not dense or dense[-1] < features[-1]:
        raise DemoModelError("the model has no Dense layer after its last convolution")
    score = dense[-1]
    result = Layout(layers=layers, features=tuple(features), score=score)
    _check_head(result)
    return result


def _check_head(found: Layout) -> None:
    """Every layer between the last feature maps and the score must be one the backward pass
    below knows; after the score only a softmax."""
    pooled = False
    for layer in found.layers[found.target + 1 : found.score]:
        if isinstance(layer, keras.layers.MaxPooling2D):
            if pooled or tuple(layer.pool_size) != tuple(layer.strides) or layer.padding != "valid":
                raise DemoModelError(
                    f"layer {layer.name!r}: the demo follows one max pooling with equal pool size "
                    "and strides and padding 'valid' after the last convolution")
            pooled = True
        elif isinstance(layer, keras.layers.BatchNormalization):
            if layer.axis not in (-1, len(layer.input.shape) - 1):
                raise DemoModelError(f"layer {layer.name!r}: batch normalization on the last "
                                     "axis only")
        elif isinstance(layer, keras.layers.Dense):
            if _activation_name(layer) not in ("relu", "linear"):
                raise DemoModelError(f"layer {layer.name!r}: activation "
                                     f"{_activation_name(layer)!r} (the demo follows ReLU and "
                                     "linear dense layers)")
        elif isinstance(layer, _ACTIVATIONS):
            if not (_is_plain_relu(layer) or _activation_name(layer) == "linear"):
                raise DemoModelError(f"layer {layer.name!r}: only ReLU activations are followed")
        elif not isinstance(layer, (keras.layers.Flatten, *_IDENTITY)):
            raise DemoModelError(f"layer {layer.name!r} ({type(layer).__name__}) after the last "
                                 "convolution is not one the demo's Grad-CAM follows")
    for layer in found.layers[found.score + 1 :]:
        if not (isinstance(layer, keras.layers.Activation)
                and _activation_name(layer) == "softmax"):
            raise DemoModelError(f"layer {layer.name!r} after the final dense layer: only a "
                                 "softmax may follow it")


def _batch_norm_scale(layer: keras.layers.BatchNormalization) -> tf.Tensor:
    """The per-channel factor of batch normalization at inference: gamma / sqrt(var + eps)."""
    scale = tf.math.rsqrt(tf.convert_to_tensor(layer.moving_variance) + layer.epsilon)
    if layer.scale:
        scale = scale * tf.convert_to_tensor(layer.gamma)
    return scale


def _relu_mask(output: tf.Tensor) -> tf.Tensor:
    """Where a ReLU let its input through (TensorFlow's gradient of ReLU at 0 is 0 too)."""
    return tf.cast(output > 0, output.dtype)


def _min_max(maps: tf.Tensor) -> tf.Tensor:
    """Each (H, W) map rescaled to [0, 1]; a constant map becomes zeros."""
    low = tf.reduce_min(maps, axis=[1, 2], keepdims=True)
    span = tf.reduce_max(maps, axis=[1, 2], keepdims=True) - low
    safe = tf.where(span > 0, span, tf.ones_like(span))
    return tf.where(span > 0, (maps - low) / safe, tf.zeros_like(maps))


def demo_function(model: keras.Model) -> tf.types.experimental.PolymorphicFunction:
    """A ``tf.function`` from images (N, 28, 28, 1) to the demo's outputs (a dictionary named
    as in the module's docstring), with Grad-CAM written in forward operations only."""
    found = layout(model)
    layers = found.layers
    score_layer = layers[found.score]

    @tf.function(input_signature=[tf.TensorSpec((None, 28, 28, 1), tf.float32, name=INPUT_NAME)])
    def outputs(image: tf.Tensor) -> dict[str, tf.Tensor]:
        values, x = [], image
        for layer in layers:
            x = layer(x, training=False)
            values.append(x)
        probabilities = values[-1]
        digit = tf.argmax(probabilities[:, :DIGITS], axis=1, output_type=tf.int32)
        # gradient of the digit's logit with respect to the final dense layer's input: its
        # kernel's column. Kernels are used untransposed (x @ K^T as (K @ x^T)^T), so that the
        # converter does not store a transposed copy of each one in the file.
        gradient = tf.transpose(tf.gather(tf.convert_to_tensor(score_layer.kernel), digit, axis=1))
        for index in range(found.score - 1, found.target, -1):
            layer, output = layers[index], values[index]
            if isinstance(layer, keras.layers.Dense):
                if _activation_name(layer) == "relu":
                    gradient = gradient * _relu_mask(output)
                gradient = tf.transpose(tf.matmul(tf.convert_to_tensor(layer.kernel), gradient,
                                                  transpose_b=True))
            elif isinstance(layer, _ACTIVATIONS):
                if _is_plain_relu(layer):
                    gradient = gradient * _relu_mask(output)
            elif isinstance(layer, keras.layers.BatchNormalization):
                gradient = gradient * _batch_norm_scale(layer)
            elif isinstance(layer, keras.layers.Flatten):
                gradient = tf.reshape(gradient, tf.shape(values[index - 1]))
            # max pooling: see the module's docstring (each gradient goes to one position,
            # so its spatial sum is unchanged); dropout and noise: identity at inference
        feature_maps = values[found.target]
        height, width = feature_maps.shape[1], feature_maps.shape[2]
        weights = tf.reduce_sum(gradient, axis=[1, 2]) / float(height * width)  # (N, C)
        cam = tf.nn.relu(tf.reduce_sum(feature_maps * weights[:, None, None, :], axis=-1))
        result = {PROBABILITIES: probabilities, ATTRIBUTION: _min_max(cam),
                  ATTRIBUTION_DIGIT: digit}
        for number, index in enumerate(found.features, start=1):
            result[FEATURE_MAPS.format(number)] = values[index]
        return result

    return outputs


def demo_outputs(model: keras.Model, images: np.ndarray) -> dict[str, np.ndarray]:
    """The demo's outputs for ``images`` (N, 28, 28[, 1]) computed in TensorFlow (the graph
    that :func:`export_demo_onnx` converts)."""
    batch = np.asarray(images, np.float32).reshape(-1, 28, 28, 1)
    return {name: value.numpy() for name, value in demo_function(model)(batch).items()}


def gradcam_with_tape(model: keras.Model, images: np.ndarray,
                      classes: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
    """Grad-CAM at the last convolution's feature maps with ``tf.GradientTape``, the
    reference for the exported graph: (N, H, W) maps min-max normalised to [0, 1].

    The score of a class is its logit: the last layer's softmax is replaced by a linear
    activation in a copy of the model (as tf-keras-vis' ``ReplaceToLinear``). ``classes``
    defaults to each image's most probable digit.
    """
    batch = tf.constant(np.asarray(images, np.float32).reshape(-1, 28, 28, 1))
    if classes is None:
        classes = np.asarray(model(batch, training=False))[:, :DIGITS].argmax(axis=1)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.layers[-1].activation = keras.activations.linear
    target = layout(model).layers[layout(model).target].name
    probe = keras.Model(copy.inputs[0], [copy.get_layer(target).output, copy.output])
    with tf.GradientTape() as tape:
        feature_maps, logits = probe(batch, training=False)
        score = tf.gather(logits, tf.constant(np.asarray(classes), tf.int32), batch_dims=1)
    gradient = tape.gradient(score, feature_maps)
    weights = tf.reduce_mean(gradient, axis=[1, 2])
    cam = tf.nn.relu(tf.reduce_sum(feature_maps * weights[:, None, None, :], axis=-1))
    return _min_max(cam).numpy()


UPSAMPLE_EPSILON = 1e-7
"""Added to the range when :func:`upsample` normalises (as tf-keras-vis does): a constant map
becomes zeros instead of rounding noise."""


def upsample(maps: np.ndarray, size: int = 28) -> np.ndarray:
    """Grad-CAM maps (N, H, W) enlarged to ``size`` x ``size`` by linear interpolation with
    the corners aligned, then min-max normalised again: what tf-keras-vis does
    (``scipy.ndimage.zoom(order=1)``, then ``(x - min) / (max - min + 1e-7)``) and what the
    demo page does in JavaScript."""
    maps = np.asarray(maps, np.float64)
    count, height, width = maps.shape
    rows = np.arange(size) * (height - 1) / (size - 1)
    columns = np.arange(size) * (width - 1) / (size - 1)
    top = np.minimum(np.floor(rows).astype(int), height - 2)
    left = np.minimum(np.floor(columns).astype(int), width - 2)
    dy, dx = (rows - top)[:, None], (columns - left)[None, :]
    corner = lambda y, x: maps[:, (top + y)[:, None], (left + x)[None, :]]  # noqa: E731
    large = ((1 - dy) * (1 - dx) * corner(0, 0) + (1 - dy) * dx * corner(0, 1)
             + dy * (1 - dx) * corner(1, 0) + dy * dx * corner(1, 1))
    low = large.min(axis=(1, 2), keepdims=True)
    span = large.max(axis=(1, 2), keepdims=True) - low
    return ((large - low) / (span + UPSAMPLE_EPSILON)).astype(np.float32)


def export_demo_onnx(model: keras.Model, path: str | Path, check: bool = True) -> Path:
    """Export the demo's graph of ``model`` (a Keras model of this course: see the module's
    docstring) to the ONNX file ``path`` (for the website: ``scratch/demo/deployed_cnn.demo.onnx``)
    and return the path.

    With ``check`` (the default), ONNX Runtime runs the file on a few probe images and the
    outputs must match the TensorFlow graph's (probabilities and feature maps within 1e-4,
    Grad-CAM within 1e-3): a conversion that changed the numbers raises RuntimeError.
    """
    import onnx
    import tf2onnx

    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"an ONNX file name ends in .onnx: {path}")
    function = demo_function(model)
    onnx_model, _ = tf2onnx.convert.from_function(
        function, input_signature=function.input_signature, opset=OPSET)
    names = sorted(function.get_concrete_function().structured_outputs)  # tf.nest's order
    inputs = [value.name for value in onnx_model.graph.input]
    outputs = sorted(value.name for value in onnx_model.graph.output)
    if inputs != [INPUT_NAME] or outputs != names:
        raise RuntimeError(f"tf2onnx named the inputs {inputs} and the outputs {outputs}; "
                           f"the demo needs {[INPUT_NAME]} and {names}")
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(onnx_model, str(path))
    if check:
        check_export(model, path)
    return path


def probe_images(count: int = 8, seed: int = 0) -> np.ndarray:
    """Images to compare an export on: strokes of ink on black, and one blank image."""
    generator = np.random.default_rng(seed)
    images = np.zeros((count, 28, 28, 1), np.float32)
    rows, columns = np.mgrid[0:28, 0:28]
    for image in images[1:]:
        for _ in range(3):
            (y0, x0), (y1, x1) = generator.uniform(5, 23, size=(2, 2))
            t = np.clip(((rows - y0) * (y1 - y0) + (columns - x0) * (x1 - x0))
                        / max((y1 - y0) ** 2 + (x1 - x0) ** 2, 1e-6), 0, 1)
            distance = np.hypot(rows - (y0 + t * (y1 - y0)), columns - (x0 + t * (x1 - x0)))
            image[..., 0] = np.maximum(image[..., 0], np.clip(2.0 - distance, 0, 1))
    return images


def run_onnx(path: str | Path, images: np.ndarray) -> dict[str, np.ndarray]:
    """The demo ONNX file's outputs for ``images`` with ONNX Runtime (CPU)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    batch = np.asarray(images, np.float32).reshape(-1, 28, 28, 1)
    return dict(zip(names, session.run(names, {INPUT_NAME: batch}), strict=True))


def check_export(model: keras.Model, path: str | Path, images: np.ndarray | None = None) -> None:
    """Raise RuntimeError when the ONNX file's outputs differ from the TensorFlow graph's."""
    images = probe_images() if images is None else images
    expected = demo_outputs(model, images)
    found = run_onnx(path, images)
    if set(found) != set(expected):
        raise RuntimeError(f"{path}: outputs {sorted(found)}, expected {sorted(expected)}")
    for name, value in expected.items():
        tolerance = 1e-3 if name == ATTRIBUTION else 1e-4
        difference = float(np.abs(found[name].astype(np.float64) - value).max())
        if found[name].shape != value.shape or difference > tolerance:
            raise RuntimeError(f"{path}: output {name} differs from TensorFlow's by "
                               f"{difference:.2e} (shape {found[name].shape}, {value.shape})")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.demo_model MODEL.keras OUTPUT.onnx``: export and check."""
    parser = argparse.ArgumentParser(prog="python -m helpers.demo_model",
                                     description="Export a course model with the website "
                                     "demo's extra outputs (feature maps, Grad-CAM) to ONNX.")
    parser.add_argument("model", type=Path, help="a .keras model of this course")
    parser.add_argument("output", type=Path, help="the ONNX file to write")
    args = parser.parse_args(argv)
    from helpers.artifacts import ModelFileError, load_model

    try:
        model = load_model(args.model)
        path = export_demo_onnx(model, args.output)
    except (ModelFileError, DemoModelError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
