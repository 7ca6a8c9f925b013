"""From a photo or scan of a handwritten digit to a 28x28 image in MNIST's form (notebook 08).

MNIST digits are white ink on black, size-normalised to fit a 20x20 box with their
aspect ratio kept, then placed in a 28x28 field so that their centre of mass sits at
the centre (pixel 14, 14). A model trained on MNIST only sees images of that form, so
every image of your own goes through the same steps, each one a small function that
notebook 08 shows:

1. :func:`load_grayscale` - any image file (PNG/JPEG, RGB, RGBA, grayscale) to floats in [0, 1];
   :func:`enlarge_small_image` - a tiny scan (under 64 pixels) padded with paper and enlarged;
2. :func:`ink_is_dark` - polarity: dark ink on light paper, or the reverse;
3. :func:`normalise_contrast` - white ink on a black background, paper at 0 and ink at 1;
4. :func:`ink_mask` and :func:`remove_specks` - which pixels are ink, without small noise specks;
5. :func:`crop_to_ink` - cut away the margins;
6. :func:`fit_into_box` - scale into 20x20 keeping the aspect ratio (thin strokes thickened);
7. :func:`centre_by_mass` - place in 28x28 with the centre of mass at the centre.

:func:`to_mnist` runs them all; :func:`preprocess_steps` also returns every intermediate image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

MNIST_SIZE = 28
"""Side of an MNIST image in pixels."""

BOX_SIZE = 20
"""MNIST digits are scaled to fit a box of this side, inside the 28x28 field."""

MNIST_CENTRE = (14.0, 14.0)
"""Where MNIST puts the centre of mass (row, column); measured mean on the test set: 14.0, 14.0."""

TARGET_STROKE_WIDTH = 2.8
"""Stroke width (pixels of the 20x20 box) below which strokes are thickened; MNIST median: 2.7."""


MAX_SIDE = 1000
"""Larger images are reduced to this many pixels on their longer side when read."""

SMALL_IMAGE_SIDE = 64
"""Images whose longer side is under this many pixels are padded and enlarged first."""


class PreprocessError(ValueError):
    """Raised for a file that is not an image, or an image without a digit (blank or empty)."""


# 1. Reading -----------------------------------------------------------------------------------


def load_grayscale(source: str | Path | Image.Image | np.ndarray) -> np.ndarray:
    """Read an image (path, PIL image or array) as grayscale floats in [0, 1], shape (H, W).

    Transparent pixels are composited onto white paper, so a drawing exported with a
    transparent background reads as ink on paper; images larger than :data:`MAX_SIDE`
    are reduced. Raises :class:`PreprocessError` for a missing file, a file that is not an
    image, an image too large for Pillow to open safely, or an empty image.
    """
    if isinstance(source, np.ndarray):
        array = np.asarray(source, dtype=np.float32)
        if array.ndim == 3:
            array = array[..., :3].mean(axis=-1) if array.shape[-1] >= 3 else array[..., 0]
        if array.size == 0 or array.ndim != 2:
            raise PreprocessError("the image is empty")
        return array / 255.0 if array.max() > 1.0 else array
    if isinstance(source, Image.Image):
        image = source
    else:
        path = Path(source)
        if not path.is_file():
            raise PreprocessError(f"no such file: {path}")
        try:
            image = Image.open(path)
            image.load()
        except Image.DecompressionBombError as error:  # Pillow refuses > 179 million pixels
            raise PreprocessError(f"image too large to read safely: {path} ({error})") from error
        except (UnidentifiedImageError, OSError, SyntaxError) as error:
            raise PreprocessError(f"not an image file: {path} ({type(error).__name__})") from error
    if image.width == 0 or image.height == 0:
        raise PreprocessError("the image is empty")
    image = ImageOps.exif_transpose(image)  # photos from phones are often stored rotated
    if max(image.size) > MAX_SIDE:  # a 12-megapixel photo: reduce first, for speed
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit or float scans
        array = np.asarray(image, dtype=np.float32)
        return array / (65535.0 if array.max() > 255 else 255.0 if array.max() > 1 else 1.0)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def enlarge_small_image(gray: np.ndarray, min_side: int = SMALL_IMAGE_SIDE,
                        pad_fraction: float = 0.25) -> np.ndarray:
    """A tiny image padded with paper and enlarged smoothly; larger images unchanged.

    The later steps assume that paper covers most of the image: the median pixel is
    paper and the spread around it is the paper's noise. A small scan cut tightly around
    its digit (8 to 16 pixels tall, as on scanned forms) is about half ink, so the
    contrast step would set its ink floor at the ink's own level and erase most strokes.
    An image whose longer side is under ``min_side`` pixels gets a border of paper (its
    99th-percentile level for dark ink, 1st for light ink) ``pad_fraction`` of its longer
    side wide (at least 2 pixels), then is enlarged by a whole factor with bicubic
    interpolation until its longer side reaches ``min_side``.
    """
    if max(gray.shape) >= min_side:
        return gray
    paper = float(np.percentile(gray, 99 if ink_is_dark(gray) else 1))
    pad = max(2, int(round(pad_fraction * max(gray.shape))))
    gray = np.pad(gray, pad, constant_values=paper)
    factor = int(np.ceil(min_side / max(gray.shape)))
    if factor > 1:
        gray = np.asarray(
            Image.fromarray(gray.astype(np.float32), mode="F").resize(
                (gray.shape[1] * factor, gray.shape[0] * factor), Image.Resampling.BICUBIC
            )
        )
    return np.clip(gray, 0.0, 1.0).astype(np.float32)


# 2. Polarity ----------------------------------------------------------------------------------


def ink_is_dark(gray: np.ndarray) -> bool:
    """Return True for dark ink on light paper, False for light ink on a dark background.

    The paper covers most of the image, so the median pixel is paper: if it lies on the
    bright side of the range between the darkest and the brightest ink-or-paper pixels
    (1st and 99th percentiles), the ink must be the darker part.
    """
    low, median, high = np.percentile(gray, [1, 50, 99])
    return bool(median - low >= high - median)


# 3. Contrast ----------------------------------------------------------------------------------


def _to_ink_white(gray: np.ndarray, dark_ink: bool) -> np.ndarray:
    return 1.0 - gray if dark_ink else gray.astype(np.float32)


def _smooth_background(ink_white: np.ndarray) -> np.ndarray:
    """Paper level at every pixel: a grey opening with a window wider than any stroke.

    It removes slow changes of the light (a shadow, a tinted corner). Computed on a copy
    at most 96 pixels wide, for speed, then scaled back up. It never rises more than a
    third of the way from the median (paper) to the brightest ink, so that a very thick
    blob of ink is not mistaken for paper.
    """
    height, width = ink_white.shape
    factor = max(1.0, max(height, width) / 96)
    small_size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = np.asarray(
        Image.fromarray(ink_white.astype(np.float32), mode="F").resize(
            small_size, Image.Resampling.BOX
        )
    )
    window = max(3, int(min(small.shape) / 2.5))
    background = ndimage.grey_opening(small, size=(window, window), mode="nearest")
    background = ndimage.uniform_filter(background, size=window, mode="nearest")
    background = Image.fromarray(background, mode="F").resize(
        (width, height), Image.Resampling.BILINEAR
    )
    median, high = np.percentile(ink_white, [50, 99.5])
    return np.minimum(np.asarray(background), median + (high - median) / 3)


def normalise_contrast(gray: np.ndarray, dark_ink: bool | None = None) -> np.ndarray:
    """Return white ink on black: paper at 0, ink at 1, floats in [0, 1].

    The ink is turned white if it is dark (``dark_ink`` defaults to :func:`ink_is_dark`),
    the paper level (smoothed, so that uneven light is removed) is subtracted together
    with a margin of three times the paper's noise, and the result is divided by the
    typical ink level.
    """
    if dark_ink is None:
        dark_ink = ink_is_dark(gray)
    ink_white = _to_ink_white(gray, dark_ink)
    flat = ink_white - _smooth_background(ink_white)
    median = np.median(flat)
    noise = 1.4826 * np.median(np.abs(flat - median))  # robust standard deviation of the paper
    floor = median + 3.0 * noise
    ink = flat[flat > floor + 0.5 * (flat.max() - floor)] if flat.max() > floor else flat
    ceiling = np.percentile(ink, 75) if ink.size else floor
    if ceiling - floor < 0.05:  # no ink stands out of the paper
        return np.zeros_like(flat, dtype=np.float32)
    return np.clip((flat - floor) / (ceiling - floor), 0.0, 1.0).astype(np.float32)


# 4. Ink and specks ----------------------------------------------------------------------------


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the level that best splits ``values`` into two classes."""
    histogram, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(histogram)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(histogram * centres)
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (sum_low[-1] - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centres[int(np.argmax(between))])


def ink_mask(ink: np.ndarray) -> np.ndarray:
    """Boolean mask of ink pixels: after a light blur, above Otsu's threshold (at least 0.2)."""
    sigma = max(0.5, min(ink.shape) / 300)
    blurred = ndimage.gaussian_filter(ink, sigma)
    return blurred > max(0.2, otsu_threshold(blurred))


def remove_specks(mask: np.ndarray, min_fraction: float = 0.03) -> np.ndarray:
    """Keep the connected pieces of ink at least ``min_fraction`` the size of the largest.

    Noise, dust and dots are much smaller than a digit's strokes; a digit written in
    two strokes (a 4, a 5 with its flag) keeps both, since each is a real part of it.
    """
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count == 0:
        return mask
    sizes = ndimage.sum(mask, labels, index=np.arange(1, count + 1))
    keep = np.flatnonzero(sizes >= min_fraction * sizes.max()) + 1
    return np.isin(labels, keep)


# 5. Cropping ----------------------------------------------------------------------------------


def ink_bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the ink, bottom and right exclusive."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise PreprocessError("the image is blank: no ink was found")
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def crop_to_ink(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Cut the image to the bounding box of the ink and clear everything that is not near ink.

    Pixels farther than a couple of pixels from the kept ink (specks, faint smudges)
    are set to 0; the soft edges of the strokes are kept.
    """
    grow = max(1, int(round(min(ink.shape) / 150)))
    near_ink = ndimage.binary_dilation(mask, iterations=grow)
    top, bottom, left, right = ink_bounding_box(mask)
    return (ink * near_ink)[top:bottom, left:right]


# 6. Scaling -----------------------------------------------------------------------------------


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width in pixels: ink area divided by half the length of its outline."""
    area = float(mask.sum())
    if area == 0:
        return 0.0
    outline = float((mask & ~ndimage.binary_erosion(mask)).sum())
    return 2.0 * area / max(outline, 1.0)


def fit_into_box(crop: np.ndarray, box: int = BOX_SIZE) -> np.ndarray:
    """Scale the cropped digit so that its longer side is ``box`` pixels, aspect ratio kept.

    Returns a ``box`` x ``box`` array with the digit in the middle. Strokes that would
    end up thinner than :data:`TARGET_STROKE_WIDTH` pixels (a fine pen on a large
    scan) are first thickened in proportion, so that they stay visible as in MNIST.
    Downscaling averages areas (anti-aliasing, as MNIST did); the result is stretched
    so that the strokes reach 1 again.
    """
    height, width = crop.shape
    scale = box / max(height, width)
    width_after = stroke_width(crop > 0.5) * scale
    if 0 < width_after < TARGET_STROKE_WIDTH:
        grow = (TARGET_STROKE_WIDTH - width_after) / scale  # pixels to add, in the crop
        size = int(round(grow)) | 1  # odd window
        if size > 1:
            crop = ndimage.grey_dilation(crop, footprint=_disk(size))
    new_height = max(1, int(round(height * scale)))
    new_width = max(1, int(round(width * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    small = Image.fromarray(crop.astype(np.float32), mode="F").resize(
        (new_width, new_height), resample=resample
    )
    small = np.asarray(small, dtype=np.float32)
    peak = np.percentile(small[small > 0], 95) if (small > 0).any() else 0.0
    if peak > 0:
        small = np.clip(small / peak, 0.0, 1.0)
    out = np.zeros((box, box), dtype=np.float32)
    top, left = (box - new_height) // 2, (box - new_width) // 2
    out[top : top + new_height, left : left + new_width] = small
    return out


def _disk(size: int) -> np.ndarray:
    radius = (size - 1) / 2
    y, x = np.mgrid[:size, :size] - radius
    return (x**2 + y**2) <= radius**2 + 0.5


# 7. Centring ----------------------------------------------------------------------------------


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the intensity-weighted centre of the image."""
    return tuple(float(value) for value in ndimage.center_of_mass(image))


def centre_by_mass(box_image: np.ndarray, size: int = MNIST_SIZE) -> np.ndarray:
    """Place the 20x20 digit in a ``size`` x ``size`` field with its centre of mass at the centre.

    The shift is a whole number of pixels, as in MNIST, so the strokes stay sharp and the
    centre of mass ends within half a pixel of :data:`MNIST_CENTRE`.
    """
    box = box_image.shape[0]
    field = np.zeros((size, size), dtype=np.float32)
    offset = (size - box) // 2
    field[offset : offset + box, offset : offset + box] = box_image
    row, col = centre_of_mass(field)
    shift = (int(round(MNIST_CENTRE[0] - row)), int(round(MNIST_CENTRE[1] - col)))
    return ndimage.shift(field, shift, order=0, mode="constant", cval=0.0)


# All steps ------------------------------------------------------------------------------------


def preprocess_steps(source: str | Path | Image.Image | np.ndarray) -> dict[str, np.ndarray]:
    """Run every step and return the intermediate images, in order, by name.

    Keys: ``gray``, ``contrast``, ``mask``, ``cropped``, ``box``, ``mnist`` (the 28x28 result).
    Raises :class:`PreprocessError` for a blank image.
    """
    gray = enlarge_small_image(load_grayscale(source))
    if gray.max() - gray.min() < 0.05:
        raise PreprocessError("the image is blank: it has no contrast")
    contrast = normalise_contrast(gray)
    mask = remove_specks(ink_mask(contrast))
    if not mask.any():
        raise PreprocessError("the image is blank: no ink was found")
    cropped = crop_to_ink(contrast, mask)
    box = fit_into_box(cropped)
    mnist = centre_by_mass(box)
    return {"gray": gray, "contrast": contrast, "mask": mask, "cropped": cropped, "box": box,
            "mnist": mnist}


def to_mnist(source: str | Path | Image.Image | np.ndarray) -> np.ndarray:
    """The 28x28 float32 image in [0, 1] (white ink on black) that an MNIST model expects."""
    return preprocess_steps(source)["mnist"]


def to_batch(images: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """Stack 28x28 images into the (N, 28, 28, 1) float32 batch a Keras model takes."""
    return np.asarray(images, dtype=np.float32).reshape(-1, MNIST_SIZE, MNIST_SIZE, 1)
