"""Tests of the website demo's model (helpers/demo_model.py): feature maps and Grad-CAM written
as forward operations, exported to ONNX, against Keras and tf.GradientTape.

Models: the committed best CNN (conv -> pool -> conv -> pool -> dense -> dropout -> softmax)
and small random ones with batch normalization after each convolution (before and after its
activation, with negative scales), 10 or 11 outputs, and layer names that say nothing, so
that the convolutions must be found by type.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers import artifacts, demo_model
from helpers.config import REPO_ROOT
from helpers.preprocess import to_mnist

SAMPLES = REPO_ROOT / "data" / "handwriting"
BEST_CNN = REPO_ROOT / "models" / "best_cnn.keras"

GRADCAM_TOLERANCE = 1e-4
"""Largest difference of a Grad-CAM pixel (maps in [0, 1]) between the forward-only graph in
TensorFlow and tf.GradientTape: the same float32 arithmetic in another order."""
ONNX_TOLERANCE = 1e-3
"""The same for ONNX Runtime's run of the exported file (other kernels, other rounding)."""
VALUE_TOLERANCE = 1e-4
"""Probabilities and feature maps, ONNX Runtime against Keras."""


def digit_images() -> np.ndarray:
    """Real handwriting from data/handwriting in MNIST's form, and the demo's probe strokes."""
    real = [to_mnist(path) for path in sorted(SAMPLES.glob("[0-9]_*.*"))[:10]]
    return np.concatenate([np.stack(real)[..., None], demo_model.probe_images(6, seed=3)])


def batch_norm_model(classes: int, seed: int) -> keras.Model:
    """conv (linear) -> BN -> ReLU -> pool -> conv (ReLU) -> BN -> pool -> flatten -> dense
    (ReLU) -> BN -> dropout -> dense (softmax), random weights and BN statistics."""
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    image = keras.Input((28, 28, 1), name="image")
    x = layers.Conv2D(8, 3, name="a")(image)
    x = layers.BatchNormalization(name="b")(x)
    x = layers.ReLU(name="c")(x)
    x = layers.MaxPooling2D(name="d")(x)
    x = layers.Conv2D(12, 3, activation="relu", name="e")(x)
    x = layers.BatchNormalization(name="f")(x)
    x = layers.MaxPooling2D(name="g")(x)
    x = layers.Flatten(name="h")(x)
    x = layers.Dense(32, activation="relu", name="i")(x)
    x = layers.BatchNormalization(name="j")(x)
    x = layers.Dropout(0.3, name="k")(x)
    output = layers.Dense(classes, activation="softmax", name="l")(x)
    model = keras.Model(image, output)
    generator = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            size = layer.gamma.shape[0]
            gamma = generator.choice([-1.0, 1.0], size) * generator.uniform(0.5, 2, size)
            layer.set_weights([gamma, generator.normal(0, 0.3, size),
                               generator.normal(0, 0.2, size), generator.uniform(0.2, 2, size)])
    return model


@pytest.fixture(scope="module")
def best_cnn() -> keras.Model:
    return artifacts.load_model(BEST_CNN)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return digit_images()


def keras_feature_maps(model: keras.Model, names: list[str], images: np.ndarray) -> list:
    probe = keras.Model(model.inputs[0], [model.get_layer(name).output for name in names])
    return [np.asarray(value) for value in probe(images, training=False)]


def test_layout_finds_convolutions_by_type(best_cnn) -> None:
    found = demo_model.layout(best_cnn)
    assert found.feature_layer_names == ["conv1", "conv2"]
    assert found.layers[found.score].name == "probabilities"
    with_bn = demo_model.layout(batch_norm_model(11, seed=1))
    # after the first convolution its ReLU layer; after the second the convolution itself
    # (its ReLU is built in; the batch normalization after it scales the Grad-CAM weights)
    assert with_bn.feature_layer_names == ["c", "e"]


def check_demo_outputs(model: keras.Model, images: np.ndarray, outputs: dict, tolerance: float):
    found = demo_model.layout(model)
    probabilities = np.asarray(model(images, training=False))
    assert np.abs(outputs["probabilities"] - probabilities).max() < VALUE_TOLERANCE
    digits = probabilities[:, :10].argmax(axis=1)
    assert (outputs["attribution_digit"] == digits).all()
    expected_maps = keras_feature_maps(model, found.feature_layer_names, images)
    for number, expected in enumerate(expected_maps, start=1):
        got = outputs[f"feature_maps_{number}"]
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < VALUE_TOLERANCE * max(1.0, np.abs(expected).max())
    reference = demo_model.gradcam_with_tape(model, images, digits)
    attribution = outputs["attribution"]
    assert attribution.shape == reference.shape == expected_maps[-1].shape[:3]
    assert attribution.min() >= 0 and attribution.max() <= 1
    difference = np.abs(attribution - reference).max()
    assert difference < tolerance, f"Grad-CAM differs from the tape's by {difference:.2e}"
    assert (attribution.reshape(len(images), -1).max(axis=1) == 1).sum() >= len(images) - 1


@pytest.mark.parametrize("classes", [10, 11])
def test_the_graph_matches_keras_and_the_tape_with_batch_normalization(classes, images) -> None:
    model = batch_norm_model(classes, seed=classes)
    check_demo_outputs(model, images, demo_model.demo_outputs(model, images), GRADCAM_TOLERANCE)


def test_the_graph_matches_keras_and_the_tape_on_the_best_cnn(best_cnn, images) -> None:
    check_demo_outputs(best_cnn, images, demo_model.demo_outputs(best_cnn, images),
                       GRADCAM_TOLERANCE)


def test_the_course_batch_norm_cnn(images) -> None:
    """helpers.models' wider CNN with batch normalization (conv without bias -> BN -> ReLU
    layer), as the deployed model may be: untrained, with moving statistics made up."""
    from helpers.models import build_wider_cnn

    keras.utils.set_random_seed(7)
    model = build_wider_cnn(batch_norm_momentum=0.9)
    generator = np.random.default_rng(7)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, _, _ = layer.get_weights()
            layer.set_weights([gamma, beta, generator.normal(0, 0.05, gamma.shape),
                               generator.uniform(0.01, 0.1, gamma.shape)])
    assert demo_model.layout(model).feature_layer_names == ["relu1", "relu2"]
    check_demo_outputs(model, images, demo_model.demo_outputs(model, images), GRADCAM_TOLERANCE)


def test_upsampled_it_is_tf_keras_vis_gradcam(best_cnn, images) -> None:
    """helpers.attribution.gradcam_maps (tf-keras-vis, notebook 05) zooms the map to 28x28
    with scipy and normalises it again: demo_model.upsample, which the page mirrors, agrees."""
    from helpers.attribution import gradcam_maps

    outputs = demo_model.demo_outputs(best_cnn, images)
    ours = demo_model.upsample(outputs["attribution"])
    theirs = gradcam_maps(best_cnn, images, outputs["attribution_digit"], layer="conv2")
    assert ours.shape == theirs.shape == (len(images), 28, 28)
    assert np.abs(ours - theirs).max() < 1e-3


@pytest.mark.parametrize("which", ["best_cnn", "batch_norm_11"])
def test_the_exported_onnx_matches_keras_and_the_tape(which, best_cnn, images, tmp_path) -> None:
    model = best_cnn if which == "best_cnn" else batch_norm_model(11, seed=5)
    path = demo_model.export_demo_onnx(model, tmp_path / f"{which}.demo.onnx")
    outputs = demo_model.run_onnx(path, images)
    assert sorted(outputs) == ["attribution", "attribution_digit", "feature_maps_1",
                               "feature_maps_2", "probabilities"]
    check_demo_outputs(model, images, outputs, ONNX_TOLERANCE)
    if which == "best_cnn":  # kernels stored once: about the size of the plain export
        plain = (REPO_ROOT / "models" / "best_cnn.onnx").stat().st_size
        assert path.stat().st_size < 1.1 * plain, path.stat().st_size


def test_a_model_the_demo_cannot_follow_is_named(tmp_path) -> None:
    image = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(image)
    x = keras.layers.GlobalAveragePooling2D(name="global_average")(x)
    model = keras.Model(image, keras.layers.Dense(10, activation="softmax")(x))
    with pytest.raises(demo_model.DemoModelError, match="global_average"):
        demo_model.export_demo_onnx(model, tmp_path / "other.onnx")
    dense_only = keras.Model(image, keras.layers.Dense(10, activation="softmax")(
        keras.layers.Flatten()(image)))
    with pytest.raises(demo_model.DemoModelError, match="no Conv2D"):
        demo_model.layout(dense_only)
    with pytest.raises(ValueError, match=".onnx"):
        demo_model.export_demo_onnx(model, tmp_path / "other.keras")


def test_upsample_keeps_corners_and_normalises() -> None:
    maps = np.zeros((1, 8, 8), np.float32)
    maps[0, 0, 0], maps[0, 7, 7] = 1.0, 0.5
    large = demo_model.upsample(maps)
    assert large.shape == (1, 28, 28)
    assert large[0, 0, 0] == pytest.approx(1.0) and large[0, 27, 27] == pytest.approx(0.5)
    assert large.min() == 0.0
    assert np.abs(demo_model.upsample(np.ones((1, 8, 8)))).max() < 1e-6  # constant: nothing
