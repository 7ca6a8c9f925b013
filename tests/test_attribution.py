"""The tf-keras-vis wrapper of notebook 05: shapes, ranges, targets, and the randomisation check.

The maps are computed on the quick-mode original CNN, trained in a few seconds into this
module's own output folder: it never stands in for the model that notebook 03 saves for the
later notebooks of the same test run. A version bump of tf-keras-vis, Keras or TensorFlow
that breaks Saliency or Grad-CAM fails here, outside the notebook. Notebook 05's Grad-CAM
written by hand (its cell tagged ``gradcam-by-hand``) and its copy in ``helpers.attribution``
must agree with each other and with tf-keras-vis.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.ndimage import zoom

from helpers import attribution, config, data, training
from tests.helpers_for_tests import real_mnist_path
from tests.test_notebook_models import run_cells

SANITY_THRESHOLD = 0.4
"""Largest mean Spearman correlation allowed between the Grad-CAM maps of the trained and
the fully randomised model. Measured: +0.02 for the quick-mode model (32 digits) and +0.25
for the committed full model (200 digits, notebook 05 section 5). Saliency (+0.73) and
SmoothGrad (+0.80), whose maps mostly show the digit's outline, would fail this bar."""


INK_TO_BACKGROUND = {"saliency": 8.0, "smoothgrad": 3.5}
"""Smallest median ratio, over the 32 digits, of a map's mean value on ink pixels (> 0.5) to
its mean on background pixels (0) for the trained quick-mode model. Measured: saliency 14,
SmoothGrad 6.7; the same maps of the fully randomised model: 5.6 and 1.6, and the trained
saliency maps paired with the wrong digits: 3.5."""


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The quick-mode trained model (seeded, trained in this module's own folder) and 32 test
    digits it classifies correctly."""
    mnist = data.load_mnist(real_mnist_path())
    splits = data.make_splits(mnist, train_size=config.QUICK_TRAIN_SIZE)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(config.OUTPUT_ENV, str(tmp_path_factory.mktemp("attribution")))
        config.set_seed()
        model, _ = training.train_original_cnn(splits, verbose=0)
    predicted = model.predict(splits.x_test[:200], verbose=0).argmax(axis=1)
    correct = np.flatnonzero(predicted == splits.y_test[:200])[:32]
    return model, splits.x_test[correct], splits.y_test[correct]


def ink_to_background(maps: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Per image: the map's mean on ink pixels divided by its mean on background pixels."""
    images = images.reshape(maps.shape)
    return np.array([
        m[image > 0.5].mean() / max(m[image == 0].mean(), 1e-6)
        for m, image in zip(maps, images, strict=True)
    ])


@pytest.mark.parametrize(
    "method",
    [
        lambda m, x, y: attribution.saliency_maps(m, x, y),
        lambda m, x, y: attribution.saliency_maps(m, x, y, smooth_samples=8),
        lambda m, x, y: attribution.gradcam_maps(m, x, y),
        lambda m, x, y: attribution.gradcam_maps(m, x, y, plus_plus=True),
    ],
    ids=["saliency", "smoothgrad", "gradcam", "gradcam++"],
)
def test_maps_match_the_input(trained, method):
    model, images, labels = trained
    maps = method(model, images[:6], labels[:6])
    assert maps.shape == (6, 28, 28) and maps.dtype == np.float32
    assert np.isfinite(maps).all()
    assert (maps.max(axis=(1, 2)) > maps.min(axis=(1, 2))).all()  # not blank


@pytest.mark.parametrize("smooth_samples", [0, 8], ids=["saliency", "smoothgrad"])
def test_gradient_maps_of_the_trained_model_weigh_ink_over_background(trained, smooth_samples):
    """A trained model's gradient maps put far more mass per pixel on the digit's ink than on
    the empty background, and it is this digit's ink: the same maps laid over other digits,
    or computed for the randomised model, fall below the bar."""
    model, images, labels = trained
    name = "smoothgrad" if smooth_samples else "saliency"
    maps = attribution.saliency_maps(model, images, labels, smooth_samples=smooth_samples)
    ratios = ink_to_background(maps, images)
    assert np.median(ratios) > INK_TO_BACKGROUND[name], ratios.round(1)
    assert ratios.min() > 2.0, ratios.round(1)
    misaligned = ink_to_background(maps, np.roll(images, 1, axis=0))
    assert np.median(misaligned) < INK_TO_BACKGROUND[name]
    randomised = attribution.saliency_maps(
        attribution.randomised_copy(model), images, labels, smooth_samples=smooth_samples)
    assert np.median(ink_to_background(randomised, images)) < INK_TO_BACKGROUND[name]


def test_one_class_for_all_images_is_broadcast(trained):
    model, images, _ = trained
    assert attribution.saliency_maps(model, images[:3], [7]).shape == (3, 28, 28)
    with pytest.raises(ValueError):
        attribution.gradcam_maps(model, images[:3], [1, 2])


def test_target_class_changes_gradcam(trained):
    model, images, labels = trained
    own = attribution.gradcam_maps(model, images[:8], labels[:8])
    other = attribution.gradcam_maps(model, images[:8], (labels[:8] + 1) % 10)
    assert np.abs(own - other).mean(axis=(1, 2)).min() > 0.05
    assert attribution.map_similarity(own, other).mean() < 0.5


def test_map_similarity_on_known_cases():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 28, 28))
    np.testing.assert_allclose(attribution.map_similarity(maps, maps), 1.0)
    np.testing.assert_allclose(attribution.map_similarity(maps, -maps), -1.0)
    assert attribution.map_similarity(maps, np.zeros_like(maps)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError):
        attribution.map_similarity(maps, maps[:, :14])


def test_randomised_copy_keeps_architecture_and_original(trained):
    model, images, _ = trained
    before = [w.copy() for w in model.get_weights()]
    copy = attribution.randomised_copy(model)
    assert [layer.name for layer in copy.layers] == [layer.name for layer in model.layers]
    for original, kept in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(original, kept)
    kernels = [w for w in copy.get_weights() if w.ndim > 1]
    trained_kernels = [w for w in before if w.ndim > 1]
    assert all(not np.allclose(a, b) for a, b in zip(kernels, trained_kernels, strict=True))
    only_top = attribution.randomised_copy(model, layers=["probabilities"])
    conv1 = only_top.get_layer("conv1").kernel
    np.testing.assert_array_equal(conv1, model.get_layer("conv1").kernel)
    assert copy.predict(images, verbose=0).shape == (len(images), 10)


def test_filters_feature_maps_and_embeddings(trained):
    model, images, _ = trained
    assert attribution.first_layer_filters(model).shape == (32, 3, 3)
    maps = attribution.feature_maps(model, images[0])
    assert {name: value.shape for name, value in maps.items()} == {
        "conv1": (26, 26, 32), "conv2": (11, 11, 64)}
    assert attribution.embeddings(model, images[:5]).shape == (5, 1600)


def test_activation_maximization_raises_the_target_class_probability(trained):
    """Each synthesised image is classified as its target class, with a probability far above
    the one the model gives that class for the faint noise the synthesis starts from."""
    model, _, _ = trained
    targets = [0, 3, 8]
    synthesised = attribution.activation_maximization(model, classes=targets, steps=10)
    assert synthesised.shape == (3, 28, 28) and np.isfinite(synthesised).all()
    after = model.predict(synthesised[..., np.newaxis], verbose=0)
    noise = np.random.default_rng(1).uniform(0.0, 0.1, (3, 28, 28, 1)).astype("float32")
    before = model.predict(noise, verbose=0)
    assert after.argmax(axis=1).tolist() == targets
    for row, target in enumerate(targets):
        assert after[row, target] > 0.5 and after[row, target] > 3 * before[row, target], (
            after[row, target], before[row, target])


def test_sanity_check_gradcam_depends_on_learned_weights(trained):
    """Adebayo et al. (2018), full model randomisation: Grad-CAM maps of the trained model
    and of the same architecture with re-initialised weights must rank pixels differently."""
    model, images, labels = trained
    randomised = attribution.randomised_copy(model)
    similarity = attribution.map_similarity(
        attribution.gradcam_maps(model, images, labels),
        attribution.gradcam_maps(randomised, images, labels),
    )
    assert similarity.mean() < SANITY_THRESHOLD, similarity.round(2)


def test_gradcam_by_hand_matches_tf_keras_vis(trained):
    """The hand-written Grad-CAM of notebook 05 (its copy in helpers) gives tf-keras-vis's maps,
    for the trained and the randomised model and for the true and another target class."""
    model, images, labels = trained
    for network in (model, attribution.randomised_copy(model)):
        for classes in (labels[:8], (labels[:8] + 3) % 10):
            ours = attribution.gradcam_by_hand(network, images[:8], classes)
            theirs = attribution.gradcam_maps(network, images[:8], classes)
            assert ours.shape == theirs.shape == (8, 28, 28) and ours.dtype == np.float32
            np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert attribution.gradcam_by_hand(model, images[:3], [7]).shape == (3, 28, 28)
    with pytest.raises(ValueError):
        attribution.gradcam_by_hand(model, images[:3], [1, 2])


def notebook_gradcam():
    """The ``gradcam_by_hand`` function that notebook 05's tagged cell defines."""
    namespace = {"keras": keras, "np": np, "tf": tf, "zoom": zoom}
    run_cells("05_what_the_network_sees.ipynb", "gradcam-by-hand", namespace)
    return namespace["gradcam_by_hand"]


def test_notebook_05_gradcam_cell_matches_the_helper(trained):
    model, images, labels = trained
    by_hand = notebook_gradcam()
    np.testing.assert_allclose(by_hand(model, images[:8], labels[:8]),
                               attribution.gradcam_by_hand(model, images[:8], labels[:8]),
                               atol=1e-6)
    randomised = attribution.randomised_copy(model)
    np.testing.assert_allclose(by_hand(randomised, images[:8], labels[:8]),
                               attribution.gradcam_maps(randomised, images[:8], labels[:8]),
                               atol=1e-4)
