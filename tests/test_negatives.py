"""Tests of helpers.negatives: synthetic non-digits through the real input path (notebook 09)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from helpers import drawing, negatives, preprocess, proxies


@pytest.fixture(scope="module")
def every_kind() -> negatives.Negatives:
    return negatives.make_negatives(4 * len(negatives.KINDS), seed=11, kinds=negatives.KINDS)


def test_same_seed_same_images_other_seed_other_images(every_kind) -> None:
    again = negatives.make_negatives(4 * len(negatives.KINDS), seed=11, kinds=negatives.KINDS)
    np.testing.assert_array_equal(every_kind.x, again.x)
    np.testing.assert_array_equal(every_kind.details, again.details)
    other = negatives.make_negatives(4 * len(negatives.KINDS), seed=12, kinds=negatives.KINDS)
    assert not np.array_equal(every_kind.details, other.details)


def test_shapes_ranges_and_counts(every_kind) -> None:
    x, kinds, details, rejected = every_kind
    assert x.shape == (len(kinds), 28, 28) and x.dtype == np.float32
    assert len(details) == len(kinds) and 0.0 <= x.min() and x.max() <= 1.0
    assert set(rejected) == set(negatives.KINDS)
    for kind in negatives.KINDS:  # four drawn of each: returned or counted as rejected
        assert (kinds == kind).sum() + rejected[kind] == 4, kind


def test_every_kind_produces_ink() -> None:
    for kind in negatives.KINDS:
        result = negatives.make_negatives(6, seed=5, kinds=[kind])
        assert len(result.x) >= 3, kind  # at most a few blank pages (noise, faint specks)
        assert (result.x.reshape(len(result.x), -1).max(axis=1) > 0.5).all(), kind


def test_a_kind_does_not_depend_on_the_others_asked_for() -> None:
    alone = negatives.make_negatives(3, seed=2, kinds=["shapes"])
    together = negatives.make_negatives(6, seed=2, kinds=["scribbles", "shapes"])
    np.testing.assert_array_equal(alone.x, together.x[together.kinds == "shapes"])


def test_no_letter_that_reads_as_a_digit() -> None:
    for letter in "OoQDIlijJSsZzBbGgqTt":
        assert letter in negatives.EXCLUDED_LETTERS
    drawn = set(negatives.LETTERS) | set(negatives.LETTER_STROKES)
    assert not drawn & set(negatives.EXCLUDED_LETTERS)
    assert set(negatives.LETTER_STROKES) == set(negatives.LETTERS)
    assert set(negatives.TRAIN_LETTERS) | set(negatives.HELDOUT_LETTERS) == set(negatives.LETTERS)
    assert not set(negatives.TRAIN_LETTERS) & set(negatives.HELDOUT_LETTERS)
    result = negatives.make_negatives(60, seed=0, kinds=["font_letters", "drawn_letters"])
    for detail in result.details:
        assert detail.split("/")[0] not in negatives.EXCLUDED_LETTERS


def test_training_and_heldout_material_do_not_overlap() -> None:
    assert not set(negatives.TRAIN_KINDS) & set(negatives.HELDOUT_KINDS)
    assert not set(negatives.TRAIN_FONTS) & set(negatives.HELDOUT_FONTS)
    assert not set(negatives.TRAIN_SHAPES) & set(negatives.HELDOUT_SHAPES)
    for font in negatives.TRAIN_FONTS + negatives.HELDOUT_FONTS:
        assert (negatives._FONT_DIR / font).is_file(), font
    heldout = negatives.make_negatives(30, seed=1, kinds=negatives.HELDOUT_KINDS)
    for kind, detail in zip(heldout.kinds, heldout.details, strict=True):
        name = detail.split("/")[0]
        if kind == "drawn_letters_heldout":
            assert name in negatives.HELDOUT_LETTERS
        elif kind == "shapes_heldout":
            assert name in negatives.HELDOUT_SHAPES
        else:
            assert detail.split("/")[1] + ".ttf" in negatives.HELDOUT_FONTS


def test_no_plain_circle_among_the_shapes() -> None:
    assert "circle" not in negatives.TRAIN_SHAPES + negatives.HELDOUT_SHAPES
    assert "ellipse" not in negatives.TRAIN_SHAPES + negatives.HELDOUT_SHAPES


def test_one_and_zero_detector() -> None:
    bar = np.zeros((28, 28), np.float32)
    bar[4:24, 13:16] = 1.0
    ring = preprocess.to_mnist(drawing.rasterise_strokes(
        [negatives._arc(140, 140, 60, 90, 0, 360)]))
    cross = negatives.website_drawings()["cross"]
    assert negatives.looks_like_one_or_zero(bar)
    assert negatives.looks_like_one_or_zero(ring)
    assert not negatives.looks_like_one_or_zero(cross)


def test_blank_pages_are_counted_not_dropped() -> None:
    def refuse_everything(page):
        raise preprocess.PreprocessError("the image is blank: no ink was found")

    result = negatives.make_negatives(5, seed=0, kinds=["shapes"], preprocess_fn=refuse_everything)
    assert len(result.x) == 0 and result.rejected == {"shapes": 5}


def test_website_drawings_and_drawn_digits() -> None:
    drawings = negatives.website_drawings()
    assert list(drawings) == ["star", "cross", "grid", "wave", "spiral", "A", "H", "M"]
    digits = negatives.drawn_digits()
    assert list(digits) == list(range(10))
    for image in list(drawings.values()) + list(digits.values()):
        assert image.shape == (28, 28) and image.max() > 0.5
    for strokes in list(negatives.website_strokes().values()) + list(
            negatives.digit_strokes().values()):
        points = np.array([p for stroke in strokes for p in stroke])
        assert points.min() >= 9 and points.max() <= proxies.CANVAS_SIZE - 9  # pen inside


def test_unknown_kind_raises() -> None:
    with pytest.raises(ValueError, match="unknown kinds"):
        negatives.make_negatives(3, seed=0, kinds=["clouds"])


def test_negatives_are_fast() -> None:
    start = time.perf_counter()
    negatives.make_negatives(220, seed=3, kinds=negatives.KINDS)
    assert time.perf_counter() - start < 60  # about 4 s on one quiet core
