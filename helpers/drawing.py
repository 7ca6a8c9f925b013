"""Making digit images: strokes to pixels, and MNIST digits as if scanned from paper (notebook 08).

- :func:`rasterise_strokes` turns the strokes recorded from the drawing canvas of
  notebook 08 (lists of (x, y) points) into a dark-ink-on-white image, a pure
  function that the tests check without any widget;
- :func:`render_on_paper` prints an MNIST digit as dark ink on a large, tinted, noisy,
  slightly blurred and JPEG-compressed page, to measure how well the preprocessing of
  :mod:`helpers.preprocess` recovers MNIST's form from a realistic scan.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy import ndimage

Stroke = Sequence[tuple[float, float]]
"""One stroke: the (x, y) points the pen passed through, in canvas pixels."""


def rasterise_strokes(
    strokes: Sequence[Stroke], size: int = 280, line_width: float = 18.0
) -> np.ndarray:
    """Draw strokes as black lines with round ends on a white ``size`` x ``size`` page.

    Returns a uint8 array (0 = ink, 255 = paper), as a scan of the drawing would be.
    A stroke of a single point becomes a dot.
    """
    page = Image.new("L", (size, size), 255)
    pen = ImageDraw.Draw(page)
    radius = line_width / 2
    for stroke in strokes:
        points = [(float(x), float(y)) for x, y in stroke]
        if len(points) > 1:
            pen.line(points, fill=0, width=int(round(line_width)))
        for x, y in points:  # round joints and ends
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    return np.asarray(page)


VARIANTS: tuple[str, ...] = ("plain", "thin", "thick", "blurred", "low_resolution")
"""The ways :func:`render_on_paper` can print a digit (notebook 08's handwriting proxy)."""


def render_on_paper(
    digit: np.ndarray, rng: np.random.Generator, jpeg: bool = True, variant: str = "plain"
) -> Image.Image:
    """Render a 28x28 MNIST digit as a scan: dark ink on light paper, 150-600 px, random margins.

    The digit is enlarged smoothly to 70-450 px, its strokes made thinner or thicker
    (a random ink threshold), put at a random place on a larger page of random tint,
    then blurred a little, given sensor noise and, if ``jpeg``, JPEG compression.

    ``variant`` makes the scan harder, in one way each (see :data:`VARIANTS`):
    ``"thin"`` and ``"thick"`` erode or dilate the ink by about one MNIST pixel (a fine
    or a broad pen); ``"blurred"`` blurs the page by about one MNIST pixel (an out-of-focus
    photo); ``"low_resolution"`` draws the digit only 10-14 pixels tall and enlarges it
    with nearest-neighbour, so it is blocky, as a phone photo of a small digit on a form.
    ``"plain"`` draws the same random numbers, in the same order, as before variants existed.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose one of {VARIANTS}")
    digit = np.asarray(digit, dtype=np.float32).reshape(28, 28)
    digit = digit / 255.0 if digit.max() > 1 else digit
    height = int(rng.integers(70, 450))
    pixel = height / 28  # one MNIST pixel on this page
    if variant == "low_resolution":
        small = int(rng.integers(10, 15))
        tiny = Image.fromarray(digit, mode="F").resize((small, small), Image.Resampling.BOX)
        tiny = np.asarray(tiny)
        threshold = rng.uniform(0.2, 0.45)
        tiny_ink = np.clip((tiny - threshold) / 0.12 + 0.5, 0.0, 1.0).astype(np.float32)
        ink = np.asarray(Image.fromarray(tiny_ink, mode="F").resize((height, height),
                                                                    Image.Resampling.NEAREST))
    else:
        big = Image.fromarray(digit, mode="F").resize((height, height), Image.Resampling.BICUBIC)
        big = ndimage.gaussian_filter(np.asarray(big), height / 80)
        threshold = rng.uniform(0.25, 0.7)  # low: thick strokes, high: thin strokes
        ink = np.clip((big - threshold) / 0.12 + 0.5, 0.0, 1.0)
        if variant == "thin":
            ink = ndimage.grey_erosion(ink, size=max(2, round(pixel)))
        elif variant == "thick":
            ink = ndimage.grey_dilation(ink, size=max(2, round(1.5 * pixel)))
    margin = rng.integers(10, max(11, height), size=4)  # top, bottom, left, right
    page_h = int(height + margin[0] + margin[1])
    page_w = int(height + margin[2] + margin[3])
    paper_level = rng.uniform(0.75, 1.0)
    ink_level = rng.uniform(0.0, 0.35)
    page = np.full((page_h, page_w), paper_level, dtype=np.float32)
    window = page[margin[0] : margin[0] + height, margin[2] : margin[2] + height]
    window[:] = paper_level + (ink_level - paper_level) * ink
    gradient = np.linspace(0, rng.uniform(-0.1, 0.1), page_w)[None, :]  # uneven light
    page = page + gradient + rng.normal(0, rng.uniform(0.0, 0.05), page.shape)
    tint = np.array([1.0, rng.uniform(0.92, 1.0), rng.uniform(0.8, 1.0)])
    rgb = np.clip(page[..., None] * tint * 255, 0, 255).astype(np.uint8)
    radius = rng.uniform(0, 1.2)
    if variant == "blurred":
        radius = pixel * rng.uniform(0.8, 1.3)
    image = Image.fromarray(rgb, mode="RGB").filter(ImageFilter.GaussianBlur(radius))
    return jpeg_round_trip(image, rng) if jpeg else image


def jpeg_round_trip(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """``image`` saved as a JPEG of random quality (40-89) and read back, as a photo shared
    by a phone or a messaging app would be."""
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(40, 90)))
    buffer.seek(0)
    reloaded = Image.open(buffer)
    reloaded.load()
    return reloaded
