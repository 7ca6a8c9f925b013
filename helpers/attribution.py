"""What the network sees: filters, feature maps and attribution maps (introduced in notebook 05).

A thin wrapper around tf-keras-vis 0.8.7, the maintained successor of keras-vis, for the
functional models of :mod:`helpers.models`. Every attribution function

- replaces the softmax of the last layer by a linear activation (``ReplaceToLinear``), so
  the score of a class is its logit, not a probability squeezed by the other nine;
- scores the requested class of each image with ``CategoricalScore``;
- runs the model in inference mode (``training=False``: Dropout is switched off);
- returns one map per image of shape (N, 28, 28), float32, finite, each map min-max
  normalised to [0, 1] (a map that is constant everywhere comes back as all zeros).

:func:`gradcam_by_hand` is notebook 05's own Grad-CAM, written with ``tf.GradientTape``
(``tests/test_attribution.py`` checks that it, the notebook's cell and tf-keras-vis agree).
:func:`randomised_copy` and :func:`map_similarity` implement the model-randomisation sanity
check of Adebayo et al., "Sanity Checks for Saliency Maps" (NeurIPS 2018).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure
from scipy.ndimage import zoom
from scipy.stats import spearmanr
from tf_keras_vis.activation_maximization import ActivationMaximization
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
from tf_keras_vis.saliency import Saliency
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
from tf_keras_vis.utils.regularizers import Norm, TotalVariation2D
from tf_keras_vis.utils.scores import CategoricalScore

from helpers.config import SEED
from helpers.models import NUM_CLASSES

LAST_CONV_LAYER = "conv2"
"""The last convolutional layer of the original CNN: Grad-CAM's default target layer."""

EMBEDDING_LAYER = "flatten"
"""The penultimate representation of the original CNN (1,600 values)."""


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide Keras's warning that tf-keras-vis passes the single input as a list."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The structure of `inputs`")
        yield


def _as_batch(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype="float32")
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise ValueError(f"expected images of shape (N, 28, 28, 1), got {images.shape}")
    return images


def _score(classes: Sequence[int] | np.ndarray, count: int) -> CategoricalScore:
    classes = [int(c) for c in np.atleast_1d(classes)]
    if len(classes) == 1 and count > 1:
        classes = classes * count
    if len(classes) != count:
        raise ValueError(f"{len(classes)} target classes for {count} images")
    return CategoricalScore(classes)


def _clean(maps: np.ndarray, count: int) -> np.ndarray:
    """(N, 28, 28) float32 maps, NaN-free, each rescaled to [0, 1] (constant maps to zeros)."""
    maps = np.nan_to_num(np.asarray(maps, dtype="float32").reshape(count, 28, 28))
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0).astype("float32")


def saliency_maps(
    model: keras.Model,
    images: np.ndarray,
    classes: Sequence[int] | np.ndarray,
    smooth_samples: int = 0,
    smooth_noise: float = 0.2,
) -> np.ndarray:
    """Vanilla saliency: |d logit / d pixel| for each image's target class.

    With ``smooth_samples > 0`` this is SmoothGrad: the gradients of that many noisy
    copies of each image (noise ``smooth_noise`` times the image's value range) are averaged.
    """
    images = _as_batch(images)
    saliency = Saliency(model, model_modifier=ReplaceToLinear(), clone=True)
    with _quiet():
        maps = saliency(
            _score(classes, len(images)),
            images,
            smooth_samples=smooth_samples,
            smooth_noise=smooth_noise,
            training=False,
        )
    return _clean(maps, len(images))


def gradcam_maps(
    model: keras.Model,
    images: np.ndarray,
    classes: Sequence[int] | np.ndarray,
    layer: str = LAST_CONV_LAYER,
    plus_plus: bool = False,
) -> np.ndarray:
    """Grad-CAM (or Grad-CAM++ with ``plus_plus=True``) on convolutional layer ``layer``.

    The class-weighted sum of the layer's feature maps, passed through ReLU and
    upsampled from the layer's grid (11x11 at ``conv2`` of the original CNN) to 28x28.
    """
    images = _as_batch(images)
    method = GradcamPlusPlus if plus_plus else Gradcam
    cam = method(model, model_modifier=ReplaceToLinear(), clone=True)
    with _quiet():
        maps = cam(_score(classes, len(images)), images, penultimate_layer=layer, training=False)
    return _clean(maps, len(images))



def gradcam_by_hand(
    model: keras.Model,
    images: np.ndarray,
    classes: Sequence[int] | np.ndarray,
    layer: str = LAST_CONV_LAYER,
    output_layer: str = "probabilities",
) -> np.ndarray:
    """Grad-CAM written out with ``tf.GradientTape``, as in notebook 05 section 3.

    The gradient of each image's class logit (the output layer's weighted sum, before its
    softmax) with respect to the feature maps of ``layer``, averaged over the grid, gives
    one weight per channel; the weighted sum of the maps through ReLU, stretched to 28x28
    by linear interpolation and rescaled to [0, 1], is the map. It matches
    :func:`gradcam_maps` (tf-keras-vis) to float32 rounding.
    """
    images = _as_batch(images)
    classes = np.broadcast_to(np.atleast_1d(np.asarray(classes, dtype="int64")), len(images))
    dense = model.get_layer(output_layer)
    probe = keras.Model(model.inputs[0], [model.get_layer(layer).output, dense.input])
    with tf.GradientTape() as tape:
        maps, features = probe(images, training=False)
        logits = features @ dense.kernel + dense.bias
        scores = tf.reduce_sum(logits * tf.one_hot(classes, NUM_CLASSES), axis=1)
    gradients = tape.gradient(scores, maps)
    weights = tf.reduce_mean(gradients, axis=(1, 2))
    cam = tf.nn.relu(tf.einsum("nijc,nc->nij", maps, weights)).numpy()
    cam = zoom(cam, (1, 28 / cam.shape[1], 28 / cam.shape[2]), order=1)
    low, high = cam.min(axis=(1, 2), keepdims=True), cam.max(axis=(1, 2), keepdims=True)
    return ((cam - low) / np.maximum(high - low, 1e-12)).astype("float32")


def first_layer_filters(model: keras.Model, layer: str = "conv1") -> np.ndarray:
    """The kernels of a first convolutional layer as (filters, height, width) images."""
    kernel = np.asarray(model.get_layer(layer).kernel)  # (height, width, 1, filters)
    return np.moveaxis(kernel[:, :, 0, :], -1, 0)


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the model's 2-D convolutional layers, input side first."""
    return [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def feature_maps(
    model: keras.Model, image: np.ndarray, layers: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Outputs of ``layers`` (default: every Conv2D) for one image: (height, width, channel)."""
    names = list(layers) if layers is not None else conv_layer_names(model)
    probe = keras.Model(model.inputs[0], [model.get_layer(name).output for name in names])
    outputs = probe(np.asarray(image, dtype="float32").reshape(1, 28, 28, 1), training=False)
    outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
    return {name: np.asarray(output)[0] for name, output in zip(names, outputs, strict=True)}


def embeddings(
    model: keras.Model, images: np.ndarray, layer: str = EMBEDDING_LAYER, batch_size: int = 512
) -> np.ndarray:
    """The output of ``layer`` (default: the penultimate representation) for every image."""
    probe = keras.Model(model.inputs[0], model.get_layer(layer).output)
    return probe.predict(_as_batch(images), batch_size=batch_size, verbose=0)


def activation_maximization(
    model: keras.Model,
    classes: Sequence[int] = tuple(range(10)),
    steps: int = 200,
    seed: int = SEED,
    total_variation: float = 3.0,
    l2_norm: float = 3.0,
) -> np.ndarray:
    """Synthesise one input per class that the model finds as typical of that class as possible.

    Starts from faint uniform noise and follows the gradient (Adam) of the class's
    log-probability, computed from the logits (``ReplaceToLinear``): maximising a bare logit
    would also raise the other nine. A total-variation penalty asks for smooth strokes, an
    L2 penalty keeps pixels dark unless they help, and every step clips pixels to [0, 1].
    Returns (len(classes), 28, 28) images in [0, 1].
    """
    targets = [int(c) for c in classes]
    rng = np.random.default_rng(seed)
    seeds = rng.uniform(0.0, 0.1, size=(len(targets), 28, 28, 1)).astype("float32")

    def log_probability(logits: tf.Tensor) -> tf.Tensor:
        return tf.gather(tf.nn.log_softmax(logits), targets, batch_dims=1)

    def clip(values: tf.Tensor) -> tf.Tensor:
        return tf.clip_by_value(values, 0.0, 1.0)

    maximizer = ActivationMaximization(model, model_modifier=ReplaceToLinear(), clone=True)
    with _quiet():
        synthesised = maximizer(
            log_probability,
            seed_input=tf.constant(seeds),
            input_range=(0.0, 1.0),
            input_modifiers=[clip],
            regularizers=[TotalVariation2D(weight=total_variation), Norm(weight=l2_norm, p=2)],
            steps=steps,
            optimizer=keras.optimizers.Adam(learning_rate=0.05),
            training=False,
        )
    return np.asarray(synthesised, dtype="float32").reshape(len(targets), 28, 28)


def randomised_copy(
    model: keras.Model, layers: Sequence[str] | None = None, seed: int = SEED
) -> keras.Model:
    """A copy of ``model`` with the weights of ``layers`` re-initialised (default: all layers).

    Kernels are drawn again from each layer's own initializer (seeded) and biases reset to
    their initial zeros: the architecture is unchanged, what was learned is gone.
    Re-initialising all layers is the "full" randomisation test of Adebayo et al. (2018);
    growing ``layers`` from the output side reproduces their "cascading" test.
    """
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    chosen = set(layers) if layers is not None else {layer.name for layer in copy.layers}
    for offset, layer in enumerate(copy.layers):
        if layer.name not in chosen or not layer.weights:
            continue
        for variable, attribute in ((getattr(layer, "kernel", None), "kernel_initializer"),
                                    (getattr(layer, "bias", None), "bias_initializer")):
            if variable is None:
                continue
            config = getattr(layer, attribute).get_config()
            if "seed" in config:
                config["seed"] = seed + offset
            initializer = getattr(layer, attribute).__class__.from_config(config)
            variable.assign(initializer(variable.shape, dtype=variable.dtype))
    return copy


def map_similarity(maps_a: np.ndarray, maps_b: np.ndarray) -> np.ndarray:
    """Spearman rank correlation between paired maps, one value per image.

    1 means the two maps rank the pixels identically; 0 means no relation. A pair with
    a constant map (no ranking at all) scores 0.
    """
    maps_a = np.asarray(maps_a).reshape(len(maps_a), -1)
    maps_b = np.asarray(maps_b).reshape(len(maps_b), -1)
    if maps_a.shape != maps_b.shape:
        raise ValueError(f"maps differ in shape: {maps_a.shape} vs {maps_b.shape}")
    values = []
    for a, b in zip(maps_a, maps_b, strict=True):
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            values.append(0.0)
        else:
            values.append(float(spearmanr(a, b).statistic))
    return np.asarray(values)


def plot_map_rows(
    images: np.ndarray,
    maps: dict[str, np.ndarray],
    row_titles: Sequence[str],
    title: str = "",
    overlay: bool = True,
) -> Figure:
    """One row per image: the digit, then one panel per named map (heat map over the digit)."""
    images = _as_batch(images)
    columns = 1 + len(maps)
    size = (1.9 * columns, 1.95 * len(images) + 0.5)
    fig, axes = plt.subplots(len(images), columns, figsize=size, squeeze=False)
    for row, image in enumerate(images):
        axes[row, 0].imshow(image[..., 0], cmap="gray_r", vmin=0, vmax=1)
        axes[row, 0].set_ylabel(row_titles[row], fontsize=9)
        for column, (name, values) in enumerate(maps.items(), start=1):
            ax = axes[row, column]
            if overlay:
                ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
                ax.imshow(values[row], cmap="jet", vmin=0, vmax=1, alpha=0.5)
            else:
                ax.imshow(values[row], cmap="inferno", vmin=0, vmax=1)
            if row == 0:
                ax.set_title(name, fontsize=10)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_title("digit", fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_image_row(
    images: np.ndarray, titles: Sequence[str], title: str = "", cmap: str = "gray_r",
    columns: int | None = None, symmetric: bool = False, colorbar: bool = False,
    colorbar_label: str = "", panel_size: float = 1.3,
) -> Figure:
    """A grid of small images with a title each (filters, feature maps, synthesised digits).

    ``symmetric`` centres one colour scale shared by all panels on 0 (for weights);
    ``colorbar`` shares one scale across all panels (0 to the largest value unless
    ``symmetric``) and draws a colour bar for it, so panels can be compared.
    ``panel_size`` is the width of one panel in inches.
    """
    images = np.asarray(images)
    columns = columns or len(images)
    rows = int(np.ceil(len(images) / columns))
    size = (panel_size * columns + (1.0 if colorbar else 0.0), (panel_size + 0.15) * rows + 0.5)
    fig, axes = plt.subplots(rows, columns, figsize=size, squeeze=False,
                             layout="constrained" if colorbar else None)
    scale: dict[str, float] = {}
    if symmetric:
        limit = float(np.abs(images).max()) or 1.0
        scale = {"vmin": -limit, "vmax": limit}
    elif colorbar:
        scale = {"vmin": min(0.0, float(images.min())), "vmax": float(images.max()) or 1.0}
    shown = None
    for index, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if index >= len(images):
            continue
        shown = ax.imshow(images[index], cmap=cmap, **scale)
        ax.set_title(titles[index], fontsize=9)
    if colorbar and shown is not None:
        fig.colorbar(shown, ax=axes.ravel().tolist(), shrink=min(1.0, 3.0 / rows + 0.3),
                     label=colorbar_label)
    if title:
        fig.suptitle(title)
    if not colorbar:
        fig.tight_layout()
    return fig
