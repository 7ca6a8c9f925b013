"""Tests of helpers.proxies: handwriting from outside MNIST, as proxies (notebooks 08-09)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from helpers import data, drawing, preprocess, proxies
from tests.helpers_for_tests import real_mnist_path


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """Twenty MNIST validation digits, two of each class."""
    mnist = data.load_mnist(real_mnist_path())
    splits = data.make_splits(mnist)
    chosen = np.concatenate([np.flatnonzero(splits.y_val == c)[:2] for c in range(10)])
    return splits.x_val[chosen], splits.y_val[chosen]


def test_every_variant_is_deterministic_shaped_and_aligned(digits) -> None:
    x, y = digits
    first = proxies.handwriting_proxies(x, y, seed=3)
    again = proxies.handwriting_proxies(x, y, seed=3)
    other = proxies.handwriting_proxies(x, y, seed=4, variants=["low_res_12", "slant_left"])
    assert tuple(first) == proxies.VARIANTS
    for variant, (images, labels, failed) in first.items():
        assert images.shape == (len(labels), 28, 28) and images.dtype == np.float32
        assert labels.dtype == np.int64 and len(labels) + failed == len(y)
        assert 0.0 <= images.min() and images.max() <= 1.0
        assert (images.reshape(len(images), -1).max(axis=1) > 0.5).all(), variant  # ink
        np.testing.assert_array_equal(images, again[variant].x)
        np.testing.assert_array_equal(labels, again[variant].y)
        if failed == 0:  # labels stay in the order of the digits
            np.testing.assert_array_equal(labels, y)
    for variant in other:
        assert not np.array_equal(other[variant].x, first[variant].x)


def test_a_variant_does_not_depend_on_the_others_asked_for(digits) -> None:
    x, y = digits
    alone = proxies.handwriting_proxies(x, y, seed=5, variants=["thin_pen"])["thin_pen"]
    together = proxies.handwriting_proxies(x, y, seed=5, variants=["blurred", "thin_pen"])
    np.testing.assert_array_equal(alone.x, together["thin_pen"].x)


def test_labels_follow_their_digits_when_some_fail(digits) -> None:
    x, y = digits
    blank = np.zeros_like(x[:1])
    images = np.concatenate([x[:3], blank, x[3:6]])
    labels = np.concatenate([y[:3], [9], y[3:6]])
    result = proxies.preprocess_all([drawing.render_on_paper(d, np.random.default_rng(0))
                                     if d.max() > 0 else np.full((40, 40), 255, np.uint8)
                                     for d in images], labels)
    assert result.failed == 1
    np.testing.assert_array_equal(result.y, np.concatenate([y[:3], y[3:6]]))


def test_low_resolution_scans_are_small_and_as_tall_as_asked(digits) -> None:
    x, _ = digits
    for height in proxies.LOW_RESOLUTION_HEIGHTS:
        page = proxies.low_resolution_scan(x[0], height, np.random.default_rng(0),
                                           gray_levels=17, margin=(0, 0, 1, 1))
        array = np.asarray(page)
        assert page.mode == "L" and array.shape[0] == height
        assert len(np.unique(array)) <= 17
        assert array.min() < 120 < array.max()  # dark ink on light paper


def test_canvas_variant_draws_with_the_website_pen(digits) -> None:
    x, _ = digits
    page = proxies.render_proxy(x[0], "drawn_canvas", np.random.default_rng(1))
    assert page.shape == (proxies.CANVAS_SIZE, proxies.CANVAS_SIZE) and page.dtype == np.uint8
    assert set(np.unique(page)) <= {0, 255} and (page == 0).mean() > 0.01
    strokes, width = proxies.skeleton_strokes(x[0])
    assert strokes and 1.0 < width < 6.0
    points = np.array([p for stroke in strokes for p in stroke])
    assert points.min() >= 0 and points.max() <= 28


def test_skeleton_of_a_bar_is_one_pixel_wide() -> None:
    mask = np.zeros((30, 30), dtype=bool)
    mask[5:25, 10:17] = True
    bones = proxies.skeleton(mask)
    assert bones.any() and (bones.sum(axis=1) <= 1).all()
    assert (bones & ~mask).sum() == 0


def test_unknown_variant_and_mismatched_labels_raise(digits) -> None:
    x, y = digits
    with pytest.raises(ValueError, match="unknown variant"):
        proxies.handwriting_proxies(x, y, seed=0, variants=["sepia"])
    with pytest.raises(ValueError, match="labels"):
        proxies.handwriting_proxies(x, y[:-1], seed=0)


def test_real_handwriting_counts_every_digit() -> None:
    images, labels, failed = proxies.real_handwriting()
    assert len(labels) + failed == 1797 and images.shape == (len(labels), 28, 28)
    assert set(np.unique(labels)) == set(range(10))
    assert failed == 0  # 79 before preprocess.enlarge_small_image


def test_a_custom_preprocessing_is_used_and_its_refusals_counted(digits) -> None:
    x, y = digits

    def refuse_small(page):
        if max(np.asarray(page).shape[:2]) < 64:
            raise preprocess.PreprocessError("too small")
        return preprocess.to_mnist(page)

    result = proxies.handwriting_proxies(x, y, seed=0, variants=["low_res_8", "thin_pen"],
                                         preprocess_fn=refuse_small)
    assert result["low_res_8"].failed == len(y) and len(result["low_res_8"].x) == 0
    assert result["thin_pen"].failed == 0


def test_tight_photo_has_ink_at_its_edges(digits) -> None:
    x, _ = digits
    page = np.asarray(proxies.render_proxy(x[0], "tight_photo", np.random.default_rng(0)))
    gray = page.mean(axis=2)
    edges = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    assert edges.min() < np.median(gray) - 60  # dark ink reaches the border


def test_proxies_are_fast(digits) -> None:
    x, y = digits
    many_x, many_y = np.repeat(x, 5, axis=0), np.repeat(y, 5)  # 100 digits
    start = time.perf_counter()
    proxies.handwriting_proxies(many_x, many_y, seed=0)  # 1,300 pages
    assert time.perf_counter() - start < 60  # about 10 s on one quiet core
