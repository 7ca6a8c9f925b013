"""Handwriting from outside MNIST, as proxies we can build offline (notebooks 08 and 09).

The deployed model must read digits that were never MNIST's: scans by other writers, at
low resolution, with other pens, slanted, photographed, or drawn on the website's canvas.
The real sets that check it are hidden, so this module builds proxies of them from MNIST
digits (the validation digits for choosing, the test digits only for reporting), and
loads the one set of real handwriting that ships offline (scikit-learn's 8x8 digits).
Every image goes through the real input path: a page (dark ink on light paper, any size)
-> :func:`helpers.preprocess.to_mnist` (or another ``preprocess`` you pass) -> 28x28.

- :func:`handwriting_proxies` - one set per variant in :data:`VARIANTS`, labels aligned;
- :func:`render_proxy` - the page of one digit in one variant (for figures);
- :func:`real_handwriting` - scikit-learn's ``load_digits`` (1,797 digits, 8x8, 0..16);
- building blocks shared with :mod:`helpers.negatives`: :func:`print_on_paper`,
  :func:`draw_strokes`, :func:`skeleton`, :func:`skeleton_strokes`.

Everything is deterministic: the same digits and seed give the same images, and each
image's random numbers depend only on (seed, variant, index), not on which other
variants are asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from helpers import drawing, preprocess
from helpers.drawing import Stroke

Preprocess = Callable[[Image.Image | np.ndarray], np.ndarray]
"""What turns a page into a 28x28 image: :func:`helpers.preprocess.to_mnist` by default."""

LOW_RESOLUTION_HEIGHTS: tuple[int, ...] = (8, 10, 12, 14, 16)
"""Digit heights, in pixels, of the low-resolution scans (``low_res_8`` ... ``low_res_16``)."""

VARIANTS: tuple[str, ...] = (
    *(f"low_res_{height}" for height in LOW_RESOLUTION_HEIGHTS),
    "thin_pen",
    "thick_pen",
    "slant_left",
    "slant_right",
    "blurred",
    "paper_photo",
    "drawn_canvas",
    "tight_photo",
)
"""The proxy variants, one change each from a clean scan of an MNIST digit:

- ``low_res_K``: the digit is K pixels tall in a small grayscale scan (area-averaged, a
  margin of 0-3 pixels, 4, 17 or 256 gray levels), which the preprocessing must enlarge;
- ``thin_pen``: the digit's skeleton redrawn with a fine pen (0.7-1.4 MNIST pixels wide);
- ``thick_pen``: the strokes dilated to a broad pen (about 4.5-6 MNIST pixels wide);
- ``slant_left`` / ``slant_right``: sheared by 15-25 degrees (top to the left / right);
- ``blurred``: the page blurred by 0.8-1.4 MNIST pixels (an out-of-focus photo);
- ``paper_photo``: printed on tinted paper and photographed: rotated up to 8 degrees,
  a perspective tilt, uneven light, noise, JPEG;
- ``drawn_canvas``: the skeleton redrawn as the website's canvas draws (280x280, round pen
  18 pixels wide, at a random size and place);
- ``tight_photo``: photographed as ``paper_photo`` without the tilt (60-300 px tall), then
  cut at the ink, as a person crops a photo around the digit (no margin of paper).
"""

CANVAS_SIZE = 280
"""Side of the website's drawing canvas, in pixels."""

CANVAS_PEN = 18.0
"""Width of the website's pen, in canvas pixels."""


class ProxySet(NamedTuple):
    """One variant's images: ``x`` (N, 28, 28) float32 in [0, 1], white ink on black, as the
    model takes them; ``y`` (N,) int64 labels aligned with ``x``; ``failed`` how many digits
    the preprocessing could not read (raised :class:`~helpers.preprocess.PreprocessError`):
    they are missing from ``x`` and count as wrong (unanswered) digits."""

    x: np.ndarray
    y: np.ndarray
    failed: int


# Building blocks ----------------------------------------------------------------------------


def as_digits(images: np.ndarray) -> np.ndarray:
    """MNIST images (N, 28, 28) or (N, 28, 28, 1), uint8 0-255 or float 0-1, as float32 0-1."""
    digits = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28)
    if digits.size and digits.max() > 1.0:
        digits = digits / 255.0
    return digits


def image_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    """The random numbers of one image: a function of (seed, stream, index) only."""
    return np.random.default_rng([int(seed), int(stream), int(index)])


def _resize(array: np.ndarray, width: int, height: int, resample: Image.Resampling) -> np.ndarray:
    image = Image.fromarray(np.asarray(array, dtype=np.float32), mode="F")
    return np.asarray(image.resize((int(width), int(height)), resample), dtype=np.float32)


def _disk(diameter: float) -> np.ndarray:
    size = max(1, int(np.ceil(diameter)) | 1)
    radius = diameter / 2
    y, x = np.mgrid[:size, :size] - (size - 1) / 2
    return (x**2 + y**2) <= radius**2 + 0.25


def enlarge_digit(digit: np.ndarray, height: int, rng: np.random.Generator,
                  threshold: tuple[float, float] = (0.3, 0.6)) -> np.ndarray:
    """The 28x28 field enlarged smoothly to ``height`` x ``height`` as an ink map in [0, 1].

    As :func:`helpers.drawing.render_on_paper` does: bicubic enlargement, a slight blur,
    then a soft threshold drawn from ``threshold`` (low: thicker strokes)."""
    big = _resize(digit, height, height, Image.Resampling.BICUBIC)
    big = ndimage.gaussian_filter(big, height / 80)
    level = rng.uniform(*threshold)
    return np.clip((big - level) / 0.12 + 0.5, 0.0, 1.0).astype(np.float32)


def print_on_paper(
    ink: np.ndarray,
    rng: np.random.Generator,
    blur: float | None = None,
    jpeg: bool = True,
    tilt: bool = False,
    max_side: int = 400,
) -> Image.Image:
    """Print an ink map (H, W, 1 = ink) as dark ink on a tinted, noisy page, photographed.

    The page model of :func:`helpers.drawing.render_on_paper` (random margins, paper and ink
    levels, uneven light, a slight blur, sensor noise, tint, JPEG at quality 40-90), with
    pages kept under about ``max_side`` pixels so that thousands of pages preprocess in
    seconds. ``blur`` sets the blur (Gaussian sigma, pixels; default 0-1.2); ``tilt``
    turns the drawing by up to 8 degrees and tilts it in perspective, as a hand-held photo
    does. Returns an RGB image.
    """
    ink = np.asarray(ink, dtype=np.float32)
    if tilt:
        image = Image.fromarray(ink, mode="F").rotate(
            rng.uniform(-8, 8), Image.Resampling.BILINEAR, expand=True, fillcolor=0.0)
        w, h = image.size
        jitter = rng.uniform(0, 0.06, size=8) * np.array([w, h] * 4)
        corners = np.array([0, 0, 0, h, w, h, w, 0], dtype=float)  # UL, LL, LR, UR
        corners += jitter * np.array([1, 1, 1, -1, -1, -1, -1, 1])
        ink = np.asarray(image.transform((w, h), Image.Transform.QUAD, tuple(corners),
                                         Image.Resampling.BILINEAR, fillcolor=0.0))
    height, width = ink.shape
    room = max(0, max_side - max(height, width))
    margin = [int(rng.integers(3, max(4, min(room // 2, max(height, width)) + 1)))
              for _ in range(4)]  # top, bottom, left, right
    page_h, page_w = height + margin[0] + margin[1], width + margin[2] + margin[3]
    paper_level = rng.uniform(0.75, 1.0)
    ink_level = rng.uniform(0.0, 0.35)
    page = np.full((page_h, page_w), paper_level, dtype=np.float32)
    window = page[margin[0] : margin[0] + height, margin[2] : margin[2] + width]
    window[:] = paper_level + (ink_level - paper_level) * ink
    page = page + np.linspace(0, rng.uniform(-0.1, 0.1), page_w, dtype=np.float32)[None, :]
    sigma = rng.uniform(0, 1.2) if blur is None else blur
    if sigma > 0.2:
        page = ndimage.gaussian_filter(page, sigma, truncate=3.0)
    page = page + rng.normal(0, rng.uniform(0.0, 0.04), page.shape).astype(np.float32)
    tint = np.array([1.0, rng.uniform(0.92, 1.0), rng.uniform(0.8, 1.0)], dtype=np.float32)
    rgb = np.clip(page[..., None] * tint * 255, 0, 255).astype(np.uint8)
    image = Image.fromarray(rgb, mode="RGB")
    return drawing.jpeg_round_trip(image, rng) if jpeg else image


def draw_strokes(strokes: Sequence[Stroke], width: int, height: int, pen: float) -> np.ndarray:
    """Draw strokes ((x, y) points in pixels) with a round pen as an ink map (1 = ink).

    The same drawing as :func:`helpers.drawing.rasterise_strokes` (lines with round joints
    and ends), on a page of any shape, anti-aliased by drawing at twice the size."""
    scale = 2
    page = Image.new("L", (int(width) * scale, int(height) * scale), 0)
    pen_draw = ImageDraw.Draw(page)
    radius = pen * scale / 2
    for stroke in strokes:
        points = [(float(x) * scale, float(y) * scale) for x, y in stroke]
        if len(points) > 1:
            pen_draw.line(points, fill=255, width=max(1, int(round(pen * scale))))
        for x, y in points:
            pen_draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    page = page.resize((int(width), int(height)), Image.Resampling.BOX)
    return np.asarray(page, dtype=np.float32) / 255.0


def skeleton(mask: np.ndarray) -> np.ndarray:
    """The one-pixel-wide skeleton of a boolean mask (Zhang and Suen's thinning, 1984)."""
    image = np.pad(np.asarray(mask, dtype=np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p2, p3, p4 = image[:-2, 1:-1], image[:-2, 2:], image[1:-1, 2:]
            p5, p6, p7 = image[2:, 2:], image[2:, 1:-1], image[2:, :-2]
            p8, p9 = image[1:-1, :-2], image[:-2, :-2]
            ring = [p2, p3, p4, p5, p6, p7, p8, p9]
            neighbours = sum(p.astype(np.int16) for p in ring)
            transitions = sum(((a == 0) & (b == 1)).astype(np.int16)
                              for a, b in zip(ring, ring[1:] + ring[:1], strict=True))
            if step == 0:
                clear = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                clear = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = ((image[1:-1, 1:-1] == 1) & (neighbours >= 2) & (neighbours <= 6)
                      & (transitions == 1) & clear)
            if remove.any():
                image[1:-1, 1:-1][remove] = 0
                changed = True
    return image[1:-1, 1:-1].astype(bool)


def _prune(bones: np.ndarray, length: int) -> np.ndarray:
    """Remove skeleton branches shorter than ``length`` pixels that end in an end point."""
    bones = bones.copy()
    kernel = np.ones((3, 3), dtype=np.int16)
    for _ in range(length):
        count = ndimage.convolve(bones.astype(np.int16), kernel, mode="constant") - 1
        ends = bones & (count <= 1)
        if not ends.any():
            break
        trimmed = bones & ~ends
        if trimmed.sum() < 0.6 * bones.sum():
            break
        bones = trimmed
    return bones


def _trace(bones: np.ndarray) -> list[list[tuple[int, int]]]:
    """The skeleton as paths of (row, column) pixels between end points and junctions.

    Pixels are linked as 8-neighbours, except a diagonal link that a shared 4-neighbour
    already makes (m-adjacency), so that a line's corners do not count as junctions."""
    on = {(int(r), int(c)) for r, c in zip(*np.nonzero(bones), strict=True)}
    links: dict[tuple[int, int], set[tuple[int, int]]] = {p: set() for p in on}
    for r, c in on:
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            q = (r + dr, c + dc)
            if q not in on:
                continue
            if dr and dc and ((r + dr, c) in on or (r, c + dc) in on):
                continue  # a diagonal step that two 4-steps already make
            links[(r, c)].add(q)
            links[q].add((r, c))
    used: set[frozenset[tuple[int, int]]] = set()
    paths = []
    starts = sorted(on, key=lambda p: (len(links[p]) != 1, len(links[p]) == 2, p))
    for start in starts:
        if not links[start]:
            paths.append([start])
            continue
        for first in sorted(links[start]):
            if frozenset((start, first)) in used:
                continue
            used.add(frozenset((start, first)))
            path, previous, current = [start, first], start, first
            while len(links[current]) == 2:
                onward = [q for q in links[current]
                          if q != previous and frozenset((current, q)) not in used]
                if not onward:
                    break
                used.add(frozenset((current, onward[0])))
                previous, current = current, onward[0]
                path.append(current)
            paths.append(path)
    return paths


def _smooth_path(path: list[tuple[int, int]], sigma: float) -> np.ndarray:
    """(x, y) points of a pixel path, smoothed along it; the two ends stay where they are."""
    points = np.array([(c, r) for r, c in path], dtype=float)
    if len(points) < 5 or sigma <= 0:
        return points
    closed = len(points) > 2 and path[0] == path[-1]
    if closed:
        return ndimage.gaussian_filter1d(points[:-1], sigma, axis=0, mode="wrap")[
            list(range(len(points) - 1)) + [0]]
    smooth = ndimage.gaussian_filter1d(points, sigma, axis=0, mode="nearest")
    weight = np.minimum(np.arange(len(points)), np.arange(len(points))[::-1])
    weight = np.clip(weight / (2 * sigma), 0, 1)[:, None]  # pin the ends, blend inwards
    return weight * smooth + (1 - weight) * points


def skeleton_strokes(digit: np.ndarray, scale: int = 4) -> tuple[list[Stroke], float]:
    """Strokes that retrace an MNIST digit: the skeleton of its ink, as smooth polylines.

    The 28x28 digit is enlarged ``scale`` times (bicubic), cut at half intensity, thinned to
    its skeleton and pruned of short spurs; the skeleton is traced into paths between its
    end points and junctions, and each path is smoothed along its length (the pixel
    staircase of MNIST's outline would otherwise show as a wobbly line). Points are in
    MNIST pixels ((x, y) from the top left of the 28x28 field). Returns the strokes and
    the digit's mean stroke width (ink area over skeleton length, MNIST pixels)."""
    digit = as_digits(digit)[0]
    big = _resize(digit, 28 * scale, 28 * scale, Image.Resampling.BICUBIC)
    mask = big > 0.5
    if not mask.any():
        mask = big > 0.5 * big.max()
    bones = _prune(skeleton(mask), length=2 * scale)
    width = float(mask.sum()) / max(1.0, float(bones.sum())) / scale
    strokes: list[Stroke] = []
    for path in _trace(bones):
        points = (_smooth_path(path, sigma=scale) + 0.5) / scale
        strokes.append([(float(x), float(y)) for x, y in points])
    return strokes, width


def _transform_strokes(strokes: Sequence[Stroke], matrix: np.ndarray,
                       offset: np.ndarray) -> list[Stroke]:
    return [[tuple(matrix @ np.array(point, dtype=float) + offset) for point in stroke]
            for stroke in strokes]


def _bounds(strokes: Sequence[Stroke]) -> tuple[np.ndarray, np.ndarray]:
    points = np.array([p for stroke in strokes for p in stroke], dtype=float)
    return points.min(axis=0), points.max(axis=0)


def place_strokes(strokes: Sequence[Stroke], rng: np.random.Generator, height: float,
                  size: float = CANVAS_SIZE, aspect: float = 1.0) -> list[Stroke]:
    """Scale strokes so that they are ``height`` pixels tall (width times ``aspect``) and put
    them at a random place on a ``size`` x ``size`` canvas, at least a pen's width inside."""
    low, high = _bounds(strokes)
    extent = np.maximum(high - low, 1e-6)
    scale_y = height / extent[1]
    scale_x = scale_y * aspect
    if extent[0] * scale_x > size - 40:  # a wide drawing: fit its width instead
        scale_x = (size - 40) / extent[0]
        scale_y = scale_x / aspect
    matrix = np.diag([scale_x, scale_y])
    drawn = extent * np.array([scale_x, scale_y])
    room = np.maximum(size - 2 * 20 - drawn, 0)
    corner = 20 + rng.uniform(0, 1, 2) * room
    return _transform_strokes(strokes, matrix, corner - matrix @ low)


# Rendering each variant ------------------------------------------------------------------------


def low_resolution_scan(
    digit: np.ndarray,
    height: int,
    rng: np.random.Generator,
    gray_levels: int | None = None,
    margin: tuple[int, int, int, int] | None = None,
) -> Image.Image:
    """A small grayscale scan (mode "L") of an MNIST digit that is ``height`` pixels tall.

    The digit's ink is cut out of its 28x28 field, enlarged four times (bicubic, to smooth
    MNIST's pixel grid) and area-averaged (box filter) down to ``height`` pixels, aspect
    ratio kept, as a scanner or camera integrates the ink over each of its pixels. It is
    printed dark on light paper (random ink and paper levels, faint noise) with ``margin``
    pixels of paper (top, bottom, left, right; default 0-3 each, so often a tight crop, as
    in scanned forms) and quantised to ``gray_levels`` levels (default 4, 17 or 256)."""
    digit = as_digits(digit)[0]
    rows = np.flatnonzero(digit.max(axis=1) > 0.05)
    cols = np.flatnonzero(digit.max(axis=0) > 0.05)
    if rows.size == 0:
        rows = cols = np.arange(28)
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    big = np.clip(_resize(crop, crop.shape[1] * 4, crop.shape[0] * 4,
                          Image.Resampling.BICUBIC), 0, 1)
    width = max(1, int(round(height * crop.shape[1] / crop.shape[0])))
    small = np.clip(_resize(big, width, height, Image.Resampling.BOX), 0, 1)
    if margin is None:
        margin = tuple(int(m) for m in rng.integers(0, 4, size=4))
    paper_level, ink_level = rng.uniform(0.8, 1.0), rng.uniform(0.0, 0.3)
    page = np.full((height + margin[0] + margin[1], width + margin[2] + margin[3]),
                   paper_level, dtype=np.float32)
    page[margin[0] : margin[0] + height, margin[2] : margin[2] + width] = (
        paper_level + (ink_level - paper_level) * small)
    page = np.clip(page + rng.normal(0, rng.uniform(0, 0.02), page.shape), 0, 1)
    if gray_levels is None:
        gray_levels = int(rng.choice([4, 17, 256]))
    page = np.round(page * (gray_levels - 1)) / (gray_levels - 1)
    return Image.fromarray(np.round(page * 255).astype(np.uint8), mode="L")


def _slanted(ink: np.ndarray, degrees: float) -> np.ndarray:
    """Shear an ink map so that its top moves right by tan(degrees) per pixel of height."""
    height, width = ink.shape
    shear = np.tan(np.radians(degrees))
    extra = int(np.ceil(abs(shear) * height))
    out_width = width + extra
    # output (row, col) samples input (row, col - shear * (centre - row) - shift)
    centre = (height - 1) / 2
    matrix = np.array([[1.0, 0.0], [shear, 1.0]])
    offset = np.array([0.0, -shear * centre - extra / 2])
    return ndimage.affine_transform(ink, matrix, offset=offset, output_shape=(height, out_width),
                                    order=1, mode="constant", cval=0.0)


def render_proxy(
    digit: np.ndarray, variant: str, rng: np.random.Generator
) -> Image.Image | np.ndarray:
    """The page (what a camera, scanner or the website would hand to the preprocessing) of
    one MNIST digit in one variant of :data:`VARIANTS`: a PIL image, or for ``drawn_canvas``
    the uint8 canvas of :func:`helpers.drawing.rasterise_strokes`."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {VARIANTS}")
    digit = as_digits(digit)[0]
    if variant.startswith("low_res_"):
        return low_resolution_scan(digit, int(variant.removeprefix("low_res_")), rng)
    if variant == "drawn_canvas":
        strokes, _ = skeleton_strokes(digit)
        placed = place_strokes(strokes, rng, height=rng.uniform(110, 240),
                               aspect=rng.uniform(0.85, 1.15))
        return drawing.rasterise_strokes(placed, CANVAS_SIZE, CANVAS_PEN)
    height = int(rng.integers(56, 240))  # the 28x28 field on the page
    pixel = height / 28  # one MNIST pixel on the page
    if variant == "thin_pen":
        strokes, _ = skeleton_strokes(digit)
        pen = rng.uniform(0.7, 1.4) * pixel
        ink = draw_strokes(_transform_strokes(strokes, np.eye(2) * pixel, np.zeros(2)),
                           height, height, pen)
    else:
        ink = enlarge_digit(digit, height, rng)
        if variant == "thick_pen":
            ink = ndimage.grey_dilation(ink, footprint=_disk(rng.uniform(1.8, 3.0) * pixel))
        elif variant in ("slant_left", "slant_right"):
            degrees = rng.uniform(15, 25) * (1 if variant == "slant_right" else -1)
            ink = _slanted(ink, degrees)
    if variant == "tight_photo":
        rows, cols = np.nonzero(ink > 0.05)
        ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        page = print_on_paper(ink, rng, max_side=0)  # margins of 3 pixels
        return page.crop((3, 3, page.width - 3, page.height - 3))  # cut at the ink
    blur = pixel * rng.uniform(0.8, 1.4) if variant == "blurred" else None
    return print_on_paper(ink, rng, blur=blur, tilt=variant == "paper_photo")


# The proxies ----------------------------------------------------------------------------------


def preprocess_all(pages: Sequence[Image.Image | np.ndarray], labels: Sequence[int],
                   preprocess_fn: Preprocess = preprocess.to_mnist) -> ProxySet:
    """Preprocess pages; those the preprocessing rejects are counted in ``failed``."""
    images, kept = [], []
    for page, label in zip(pages, labels, strict=True):
        try:
            images.append(preprocess_fn(page))
            kept.append(int(label))
        except preprocess.PreprocessError:
            continue
    x = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28)
    return ProxySet(x, np.asarray(kept, dtype=np.int64), len(labels) - len(kept))


def handwriting_proxies(
    images: np.ndarray,
    labels: np.ndarray,
    seed: int,
    variants: Sequence[str] = VARIANTS,
    preprocess_fn: Preprocess = preprocess.to_mnist,
) -> dict[str, ProxySet]:
    """Each variant of every given MNIST digit, rendered and preprocessed: variant -> ProxySet.

    ``images``: MNIST digits (N, 28, 28[, 1]), white on black, uint8 or floats in [0, 1]
    (pass validation digits to choose, test digits only to report); ``labels`` (N,).
    ``variants``: a subset of :data:`VARIANTS`. ``preprocess_fn``: page -> 28x28 (default
    the predict command's :func:`helpers.preprocess.to_mnist`). A digit's page depends only
    on (seed, variant, its index), so the sets are reproducible and comparable across
    models. About 2-6 ms per image on one core (low-resolution scans are the fastest).
    """
    digits = as_digits(images)
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(digits):
        raise ValueError(f"{len(digits)} images but {len(labels)} labels")
    out = {}
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; choose from {VARIANTS}")
        stream = 1000 + VARIANTS.index(variant)
        pages = [render_proxy(digit, variant, image_rng(seed, stream, i))
                 for i, digit in enumerate(digits)]
        out[variant] = preprocess_all(pages, labels, preprocess_fn)
    return out


# Real handwriting: scikit-learn's digits --------------------------------------------------------


def real_handwriting_pages() -> tuple[list[np.ndarray], np.ndarray]:
    """scikit-learn's ``load_digits`` as 8x8 uint8 scans, dark ink (0) on white paper (255).

    1,797 digits, the test part of UCI's "Optical Recognition of Handwritten Digits"
    (NIST forms by 13 writers, per its description; 43 in the whole UCI set): 32x32
    bitmaps normalised to the box's height, each 4x4 block counted into 0..16."""
    from sklearn.datasets import load_digits  # scikit-learn ships it offline

    digits = load_digits()
    pages = [(255 - np.round(image * 255 / 16)).astype(np.uint8) for image in digits.images]
    return pages, digits.target.astype(np.int64)


def real_handwriting(preprocess_fn: Preprocess = preprocess.to_mnist) -> ProxySet:
    """Real handwriting that ships offline: scikit-learn's 1,797 8x8 digits, preprocessed.

    Returns ``(x, y, failed)``: the images the preprocessing could read, their labels,
    and how many it rejected (``len(y) + failed == 1797``). Before
    :func:`helpers.preprocess.enlarge_small_image` existed, 79 of them failed and the best
    CNN read 59.4% of all 1,797 (the contrast step took the ink of these tight, half-ink
    crops for paper); with it none fail and it reads 95.6%."""
    pages, labels = real_handwriting_pages()
    return preprocess_all(pages, labels, preprocess_fn)
