"""Tests of helpers.preprocess and helpers.drawing (notebook 08): each step and the pipeline."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import drawing, preprocess
from helpers.config import REPO_ROOT
from helpers.predict import default_model
from tests.helpers_for_tests import real_mnist_path

SAMPLES = sorted((REPO_ROOT / "data" / "handwriting").glob("[0-9]_*.*"))


def page_with_bar(dark_ink: bool = True, size: int = 120) -> np.ndarray:
    """A page (floats in [0, 1]) with a 60x12 vertical bar of ink at rows 20-80, columns 30-42."""
    page = np.full((size, size), 0.9 if dark_ink else 0.1, dtype=np.float32)
    page[20:80, 30:42] = 0.1 if dark_ink else 0.9
    return page


def test_load_grayscale_reads_rgb_rgba_and_gray(tmp_path: Path) -> None:
    ink = np.asarray(Image.new("RGBA", (40, 30), (0, 0, 0, 0)))
    ink = ink.copy()
    ink[10:20, 10:30] = (0, 0, 0, 255)  # opaque black ink on a transparent background
    Image.fromarray(ink, "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(ink, "RGBA").convert("RGB").save(tmp_path / "rgb.jpg")
    Image.new("L", (40, 30), 200).save(tmp_path / "gray.png")
    rgba = preprocess.load_grayscale(tmp_path / "rgba.png")
    assert rgba.shape == (30, 40) and rgba.dtype == np.float32
    assert rgba[0, 0] == pytest.approx(1.0) and rgba[15, 15] == pytest.approx(0.0)
    assert preprocess.load_grayscale(tmp_path / "rgb.jpg").shape == (30, 40)
    assert preprocess.load_grayscale(tmp_path / "gray.png")[0, 0] == pytest.approx(200 / 255)


def test_load_grayscale_rejects_missing_and_non_images(tmp_path: Path) -> None:
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(preprocess.PreprocessError, match="no such file"):
        preprocess.load_grayscale(tmp_path / "missing.png")
    with pytest.raises(preprocess.PreprocessError, match="not an image"):
        preprocess.load_grayscale(tmp_path / "notes.png")


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    """A phone photo stored sideways with EXIF orientation 6 ("rotate 90° clockwise to
    show"): the stored top-left corner is shown at the top right."""
    stored = np.full((60, 100), 230, np.uint8)  # stored wide: 100 columns, 60 rows
    stored[:10, :10] = 0  # a mark in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "sideways.jpg", exif=exif.tobytes(), quality=95)
    gray = preprocess.load_grayscale(tmp_path / "sideways.jpg")
    assert gray.shape == (100, 60)  # shown tall
    assert gray[:8, -8:].mean() < 0.2 and gray[:8, :8].mean() > 0.8


def test_a_sideways_photo_of_a_one_becomes_an_upright_one(tmp_path: Path) -> None:
    stored = np.full((120, 200), 230, np.uint8)
    stored[50:66, 20:180] = 20  # a "1" lying on its side, as stored by the camera
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(tmp_path / "one.jpg", exif=exif.tobytes(), quality=95)
    mnist = preprocess.to_mnist(tmp_path / "one.jpg")
    rows, cols = np.flatnonzero(mnist.any(axis=1)), np.flatnonzero(mnist.any(axis=0))
    assert len(rows) == 20 and len(cols) <= 6  # upright: tall and thin


def test_16_bit_scans_are_read_on_their_own_scale(tmp_path: Path) -> None:
    page = np.full((80, 80), round(0.9 * 65535), np.uint16)
    page[15:65, 35:45] = round(0.1 * 65535)
    Image.fromarray(page).save(tmp_path / "scan16.png")
    assert Image.open(tmp_path / "scan16.png").mode.startswith("I")
    gray = preprocess.load_grayscale(tmp_path / "scan16.png")
    assert gray[0, 0] == pytest.approx(0.9, abs=1e-3)
    assert gray[40, 40] == pytest.approx(0.1, abs=1e-3)
    mnist = preprocess.to_mnist(tmp_path / "scan16.png")
    assert len(np.flatnonzero(mnist.any(axis=1))) == 20 and mnist.max() == pytest.approx(1.0)


@pytest.mark.parametrize("suffix", ["png", "gif"])
def test_transparent_palette_background_is_paper(tmp_path: Path, suffix: str) -> None:
    """A palette image (GIF, or PNG from a drawing program) whose background index is
    transparent black and whose ink is opaque black: read as black ink on white paper."""
    indices = np.zeros((80, 80), np.uint8)
    indices[15:65, 35:45] = 1
    image = Image.fromarray(indices, "P")
    image.putpalette([0, 0, 0, 0, 0, 0] + [0, 0, 0] * 254)  # both colours black
    image.save(tmp_path / f"drawing.{suffix}", transparency=0)
    gray = preprocess.load_grayscale(tmp_path / f"drawing.{suffix}")
    assert gray[0, 0] == pytest.approx(1.0) and gray[40, 40] == pytest.approx(0.0)
    mnist = preprocess.to_mnist(tmp_path / f"drawing.{suffix}")
    assert mnist[14, 14] == pytest.approx(1.0) and mnist[0, 0] == 0.0


def test_oversized_images_are_reduced_first(tmp_path: Path) -> None:
    photo = np.full((3000, 4000), 220, np.uint8)  # a 12-megapixel photo
    photo[800:2200, 1850:2050] = 30
    Image.fromarray(photo).save(tmp_path / "photo.jpg", quality=90)
    gray = preprocess.load_grayscale(tmp_path / "photo.jpg")
    assert gray.shape == (750, 1000)  # longer side reduced to MAX_SIDE
    mnist = preprocess.to_mnist(tmp_path / "photo.jpg")
    row, col = preprocess.centre_of_mass(mnist)
    assert abs(row - 14.0) <= 0.5 and abs(col - 14.0) <= 0.5


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A 100-byte PNG that declares ``width`` x ``height`` pixels (a decompression bomb)."""
    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(bytes(width + 1))) + chunk(b"IEND", b""))
    return path


def test_images_too_large_to_open_safely_are_refused(tmp_path: Path) -> None:
    bomb = png_header_only(tmp_path / "bomb.png", 20000, 20000)
    with pytest.raises(preprocess.PreprocessError, match="too large"):
        preprocess.to_mnist(bomb)


def test_polarity_is_detected_both_ways() -> None:
    assert preprocess.ink_is_dark(page_with_bar(dark_ink=True))
    assert not preprocess.ink_is_dark(page_with_bar(dark_ink=False))


def test_contrast_gives_white_ink_on_black_in_both_polarities() -> None:
    for dark_ink in (True, False):
        ink = preprocess.normalise_contrast(page_with_bar(dark_ink))
        assert ink.min() >= 0.0 and ink.max() <= 1.0
        assert ink[50, 36] == pytest.approx(1.0, abs=0.05)  # inside the bar
        assert ink[5, 100] == pytest.approx(0.0, abs=0.05)  # paper


def test_contrast_removes_uneven_light_and_noise() -> None:
    rng = np.random.default_rng(0)
    page = page_with_bar() - np.linspace(0, 0.3, 120)[None, :] + rng.normal(0, 0.03, (120, 120))
    ink = preprocess.normalise_contrast(np.clip(page, 0, 1))
    assert (ink[:, 60:] > 0.3).mean() < 0.01  # the darker right side is still paper
    assert ink[50, 36] > 0.9


def test_specks_are_removed_but_the_digit_is_kept() -> None:
    mask = np.zeros((100, 100), dtype=bool)
    mask[20:80, 40:50] = True  # the digit
    mask[5, 5] = mask[90:92, 90:92] = True  # two specks
    kept = preprocess.remove_specks(mask)
    assert kept[20:80, 40:50].all() and kept.sum() == 600


def test_crop_to_ink_finds_the_bounding_box() -> None:
    ink = preprocess.normalise_contrast(page_with_bar())
    cropped = preprocess.crop_to_ink(ink, preprocess.ink_mask(ink))
    assert abs(cropped.shape[0] - 60) <= 2 and abs(cropped.shape[1] - 12) <= 2


def test_blank_images_raise() -> None:
    with pytest.raises(preprocess.PreprocessError, match="blank"):
        preprocess.to_mnist(np.full((50, 50), 0.8, dtype=np.float32))
    noise = np.random.default_rng(1).normal(0.8, 0.02, (80, 80)).clip(0, 1)
    with pytest.raises(preprocess.PreprocessError, match="blank"):
        preprocess.to_mnist(noise.astype(np.float32))


def test_fit_into_box_keeps_the_aspect_ratio() -> None:
    crop = np.ones((60, 12), dtype=np.float32)  # 5:1, tall
    box = preprocess.fit_into_box(crop)
    rows, cols = np.flatnonzero(box.any(axis=1)), np.flatnonzero(box.any(axis=0))
    assert box.shape == (20, 20) and len(rows) == 20
    assert 3 <= len(cols) <= 5  # 20 / 5 = 4 wide


def test_thin_strokes_are_thickened() -> None:
    ring = np.zeros((400, 400), dtype=np.float32)
    yy, xx = np.mgrid[:400, :400]
    ring[np.abs(np.hypot(yy - 200, xx - 200) - 190) < 2] = 1.0  # a 4-px pen on a 400-px circle
    box = preprocess.fit_into_box(ring)
    assert preprocess.stroke_width(box > 0.5) >= 1.8


def test_output_is_28x28_in_range_and_centred_by_mass() -> None:
    page = page_with_bar()
    page[20:30, 30:80] = 0.1  # a 7-like shape: heavy at the top
    mnist = preprocess.to_mnist(page)
    assert mnist.shape == (28, 28) and mnist.dtype == np.float32
    assert mnist.min() >= 0.0 and mnist.max() == pytest.approx(1.0)
    row, col = preprocess.centre_of_mass(mnist)
    assert abs(row - 14.0) <= 0.5 and abs(col - 14.0) <= 0.5
    rows = np.flatnonzero(mnist.any(axis=1))
    assert rows[-1] - rows[0] + 1 == 20  # the longer side fills the 20-pixel box


def test_steps_are_all_returned() -> None:
    steps = preprocess.preprocess_steps(page_with_bar())
    assert list(steps) == ["gray", "contrast", "mask", "cropped", "box", "mnist"]


def test_rasterise_strokes_draws_dark_ink_on_white() -> None:
    page = drawing.rasterise_strokes([[(50, 50), (50, 200)], [(120, 120)]], size=280)
    assert page.shape == (280, 280) and page.dtype == np.uint8
    assert page[100, 50] == 0 and page[120, 120] == 0 and page[10, 250] == 255
    assert (drawing.rasterise_strokes([]) == 255).all()


def ring_digit() -> np.ndarray:
    """A generated MNIST-like "0": a white ring on black, 28x28 uint8."""
    yy, xx = np.mgrid[:28, :28]
    distance = np.hypot(yy - 14, xx - 14)
    return np.where(np.abs(distance - 7) < 1.5, 255, 0).astype(np.uint8)


def printed(variant: str, seed: int = 3) -> np.ndarray:
    page = drawing.render_on_paper(ring_digit(), np.random.default_rng(seed), jpeg=False,
                                   variant=variant)
    return np.asarray(page.convert("L"), dtype=np.float32) / 255.0


def test_print_variants_change_the_strokes_as_named() -> None:
    """Same seed, same page: "thin" has less ink than "plain", "thick" more, "blurred" is
    smoother; every variant still reads as a centred digit."""
    pages = {variant: printed(variant) for variant in drawing.VARIANTS}
    plain = pages["plain"]
    dark = (np.median(plain) + plain.min()) / 2  # halfway from the ink to the paper
    area = {variant: int((pages[variant] < dark).sum()) for variant in ("thin", "plain", "thick")}
    assert area["thin"] < 0.8 * area["plain"] and area["thick"] > 1.2 * area["plain"], area
    roughness = {v: np.abs(np.diff(pages[v], axis=1)).mean() for v in ("plain", "blurred")}
    assert roughness["blurred"] < 0.7 * roughness["plain"], roughness
    for variant, page in pages.items():
        mnist = preprocess.to_mnist(page)
        row, col = preprocess.centre_of_mass(mnist)
        assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5, variant
    with pytest.raises(ValueError, match="unknown variant"):
        drawing.render_on_paper(ring_digit(), np.random.default_rng(0), variant="smudged")


def test_committed_samples_are_small_and_labelled() -> None:
    assert len(SAMPLES) >= 20
    assert sum(path.stat().st_size for path in SAMPLES) < 300_000
    assert {int(path.name[0]) for path in SAMPLES} == set(range(10))


@pytest.fixture(scope="module")
def model():
    from helpers.artifacts import load_model

    return load_model(default_model())


def test_committed_samples_are_classified_correctly(model) -> None:
    images = preprocess.to_batch([preprocess.to_mnist(path) for path in SAMPLES])
    predicted = model.predict(images, verbose=0).argmax(axis=1)
    labels = np.array([int(path.name[0]) for path in SAMPLES])
    assert (predicted == labels).mean() >= 0.95


def test_mnist_digits_scanned_from_paper_keep_their_accuracy(model) -> None:
    """200 MNIST test digits printed as dark ink on large, noisy, tinted, JPEG'd pages."""
    mnist = np.load(real_mnist_path())
    rng = np.random.default_rng(5)
    chosen = rng.choice(len(mnist["y_test"]), 200, replace=False)
    pages = [drawing.render_on_paper(mnist["x_test"][i], rng) for i in chosen]
    images = preprocess.to_batch([preprocess.to_mnist(page) for page in pages])
    predicted = model.predict(images, verbose=0).argmax(axis=1)
    assert (predicted == mnist["y_test"][chosen]).mean() >= 0.95


def test_tiny_tightly_cropped_scans_are_read() -> None:
    """scikit-learn's 8x8 digits (real handwriting, each cut tightly around its ink and half
    ink) are all read: without padding and enlarging them first, the contrast step takes
    the ink for paper and finds no ink at all in dozens of them (notebook 08)."""
    from sklearn.datasets import load_digits

    scans = load_digits().images[:200]
    pages = [(255 - np.round(scan * 255 / 16)).astype(np.uint8) for scan in scans]
    digits = [preprocess.to_mnist(page) for page in pages]  # raises if one were blank
    assert all(d.shape == (28, 28) and (d > 0.5).sum() >= 15 for d in digits)
    enlarged = preprocess.enlarge_small_image(pages[0].astype(np.float32) / 255)
    assert max(enlarged.shape) >= preprocess.SMALL_IMAGE_SIDE
    assert enlarged[0, 0] == pytest.approx(1.0)  # a border of paper was added
    # the centre of mass of the ink sits where MNIST puts it
    assert np.allclose(np.mean([preprocess.centre_of_mass(d) for d in digits], axis=0),
                       preprocess.MNIST_CENTRE, atol=0.6)


def test_images_of_64_pixels_and_more_take_the_usual_path() -> None:
    page = page_with_bar(size=64)
    assert preprocess.enlarge_small_image(page) is page
    np.testing.assert_array_equal(preprocess.to_mnist(page), preprocess.to_mnist(page.copy()))
