"""Things that are not digits, as a person might write, draw or scan them.

A model that must say "not a digit" needs examples of what is not one. This module makes
them offline, deterministically from a seed, and passes each through the real input
path (a page, dark ink on light paper -> :func:`helpers.preprocess.to_mnist` -> 28x28):

- letters printed in the TrueType fonts that ship with matplotlib, and hand-drawn letters
  from stroke templates (jittered, random pens), never letters that read as digits
  (:data:`EXCLUDED_LETTERS` says which and why);
- shapes (star, cross, x, grid, triangle, square, arrow, heart, wave, zigzag, spiral,
  check mark; no plain circle or ellipse, which is a 0), scribbles, dots and specks,
  noise textures, half-erased or fragmentary strokes, crossed-out marks.

Stroke drawings are drawn on the website's canvas (280x280, round pen 18 pixels wide),
on the canvas with another pen width, or with a pen on paper and photographed
(:func:`helpers.proxies.print_on_paper`), a third each.

:func:`make_negatives` draws any mix of :data:`KINDS`. :data:`TRAIN_KINDS` may be used to
train; :data:`HELDOUT_KINDS` use other fonts, other letters and other shapes, to measure
how a decline rule does on non-digits of a kind it never saw (use a different seed for
every set, too). :func:`website_drawings` and :func:`drawn_digits` are the fixed canvas
drawings of the website's own test: eight non-digits and the ten digits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from helpers import drawing, preprocess
from helpers.drawing import Stroke
from helpers.proxies import (
    CANVAS_PEN,
    CANVAS_SIZE,
    Preprocess,
    draw_strokes,
    image_rng,
    place_strokes,
    print_on_paper,
)

# What is excluded, and the split into training and held-out material -----------------------

EXCLUDED_LETTERS: dict[str, str] = {
    "O": "a 0", "o": "a 0", "Q": "a 0 with a tail", "D": "a 0 (a flat-sided one)",
    "I": "a 1", "l": "a 1", "i": "a 1 (with or without its dot)", "j": "a 1 with a hook",
    "J": "a 1 with a hook, or a 7 seen in a mirror", "S": "a 5", "s": "a 5",
    "Z": "a 2", "z": "a 2", "B": "an 8 (or 13)", "b": "a 6", "G": "a 6", "g": "a 9",
    "q": "a 9", "T": "a 7 or a 1 with a flag", "t": "a 1 crossed, a 7 or a +",
    "y": "a 4 written with an open top", "a": "a 9 or a 0 with a tail (written as one bowl)",
}
"""Letters never drawn, and the digit a person could read each as."""

UPPERCASE_LETTERS = "ACEFHKLMNPRUVWXY"
LOWERCASE_LETTERS = "cdefhkmnpruvwx"
LETTERS = UPPERCASE_LETTERS + LOWERCASE_LETTERS
"""The 30 letters drawn: every letter of the alphabet but :data:`EXCLUDED_LETTERS`."""

HELDOUT_LETTERS = "CHKUYdeknw"
"""Letters that only the held-out kind ``drawn_letters_heldout`` draws (by hand)."""

TRAIN_LETTERS = "".join(letter for letter in LETTERS if letter not in HELDOUT_LETTERS)
"""Letters that ``drawn_letters`` draws (20; the website's A and M among them, not H)."""

_FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"

TRAIN_FONTS: tuple[str, ...] = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf", "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf",
    "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
)
"""Font files (in matplotlib's ``fonts/ttf``) of ``font_letters``: DejaVu Sans and Sans Mono."""

HELDOUT_FONTS: tuple[str, ...] = (
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf",
    "DejaVuSerif-BoldItalic.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf",
    "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf", "cmr10.ttf", "cmss10.ttf",
    "cmtt10.ttf", "cmb10.ttf", "cmti10.ttf",
)
"""Font files of ``font_letters_heldout``: serif, STIX and Computer Modern faces."""

TRAIN_SHAPES: tuple[str, ...] = ("star", "cross", "x", "triangle", "square", "arrow", "zigzag")
HELDOUT_SHAPES: tuple[str, ...] = ("grid", "heart", "wave", "spiral", "checkmark")
"""Shapes of ``shapes`` and of ``shapes_heldout``; the website's grid, wave and spiral are
held out, its star and cross are not."""

TRAIN_KINDS: tuple[str, ...] = (
    "font_letters", "drawn_letters", "shapes", "scribbles", "specks", "noise", "fragments",
    "crossed_out",
)
"""Kinds that may be used for training (with seeds of their own)."""

HELDOUT_KINDS: tuple[str, ...] = ("font_letters_heldout", "drawn_letters_heldout",
                                  "shapes_heldout")
"""Kinds for validation only: other fonts, other letters, other shapes than the training
kinds. (Leaving one training kind out, e.g. scribbles, is another honest check.)"""

KINDS: tuple[str, ...] = TRAIN_KINDS + HELDOUT_KINDS
"""Every kind of non-digit :func:`make_negatives` draws."""

MEDIUMS: tuple[str, ...] = ("canvas18", "canvas", "paper")
"""How stroke drawings are rendered: the website's canvas and pen (280x280, 18 px), the
canvas with a random pen of 6-30 px, or a pen on paper, photographed."""


class Negatives(NamedTuple):
    """Preprocessed non-digits: ``x`` (N, 28, 28) float32 in [0, 1] (white ink on black);
    ``kinds`` (N,) the kind of each; ``details`` (N,) what it is and how it was drawn
    (e.g. ``"star/canvas18"``, ``"M/DejaVuSans-Bold"``); ``rejected`` kind -> how many of
    that kind the preprocessing refused as blank (they are not in ``x``; the predict
    command reports such a page as unreadable, which is not an answer either)."""

    x: np.ndarray
    kinds: np.ndarray
    details: np.ndarray
    rejected: dict[str, int]


# Stroke geometry ---------------------------------------------------------------------------


def _line(*points: tuple[float, float]) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in points]


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float,
         steps: int | None = None) -> list[tuple[float, float]]:
    """Points of an elliptical arc; angles in degrees, counter-clockwise as seen (y down)."""
    steps = steps or max(4, int(abs(end - start) / 10))
    t = np.radians(np.linspace(start, end, steps + 1))
    return [(float(cx + rx * np.cos(a)), float(cy - ry * np.sin(a))) for a in t]


def _densify(stroke: Stroke, step: float = 0.02) -> np.ndarray:
    points = np.asarray(stroke, dtype=float).reshape(-1, 2)
    if len(points) < 2:
        return points
    out = [points[:1]]
    for a, b in zip(points[:-1], points[1:], strict=True):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
        out.append(a + (b - a) * np.linspace(0, 1, n + 1)[1:, None])
    return np.concatenate(out)


def _jitter(strokes: Sequence[Stroke], rng: np.random.Generator, wobble: float = 0.025,
            rotate: float = 12.0, shear: float = 0.25) -> list[Stroke]:
    """A hand's version of a template: a random affine (rotation, shear, aspect), a smooth
    wobble along each stroke and a small offset of each stroke (the pen lifted and put
    down a little off)."""
    angle = np.radians(rng.uniform(-rotate, rotate))
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = rotation @ np.array([[rng.uniform(0.8, 1.2), rng.uniform(-shear, shear)],
                                  [0.0, 1.0]])
    out = []
    for stroke in strokes:
        points = _densify(stroke)
        if len(points) > 1:
            t = np.linspace(0, 1, len(points))[:, None]
            for _ in range(2):
                frequency = rng.uniform(0.5, 2.0)
                phase = rng.uniform(0, 2 * np.pi, size=2)
                points = points + wobble * rng.uniform(0.3, 1.0) * np.sin(
                    2 * np.pi * frequency * t + phase)
        points = points + rng.normal(0, wobble / 2, size=2)
        out.append([tuple(p) for p in points @ matrix.T])
    return out


# Letter templates (unit box, y down; lowercase x-height from 0.45 to 1) ------------------------

LETTER_STROKES: dict[str, list[Stroke]] = {
    "A": [_line((0, 1), (0.5, 0), (1, 1)), _line((0.22, 0.6), (0.78, 0.6))],
    "C": [_arc(0.55, 0.5, 0.45, 0.5, 45, 315)],
    "E": [_line((0.85, 0), (0.1, 0), (0.1, 1), (0.85, 1)), _line((0.1, 0.5), (0.7, 0.5))],
    "F": [_line((0.85, 0), (0.1, 0), (0.1, 1)), _line((0.1, 0.48), (0.7, 0.48))],
    "H": [_line((0.1, 0), (0.1, 1)), _line((0.9, 0), (0.9, 1)), _line((0.1, 0.5), (0.9, 0.5))],
    "K": [_line((0.15, 0), (0.15, 1)), _line((0.85, 0), (0.15, 0.58)),
          _line((0.38, 0.4), (0.9, 1))],
    "L": [_line((0.15, 0), (0.15, 1), (0.85, 1))],
    "M": [_line((0.05, 1), (0.12, 0), (0.5, 0.7), (0.88, 0), (0.95, 1))],
    "N": [_line((0.15, 1), (0.15, 0), (0.85, 1), (0.85, 0))],
    "P": [_line((0.15, 1), (0.15, 0), (0.55, 0)) + _arc(0.55, 0.26, 0.3, 0.26, 90, -90)
          + _line((0.15, 0.52))],
    "R": [_line((0.15, 1), (0.15, 0), (0.55, 0)) + _arc(0.55, 0.26, 0.3, 0.26, 90, -90)
          + _line((0.15, 0.52)), _line((0.45, 0.52), (0.9, 1))],
    "U": [_line((0.1, 0)) + _arc(0.5, 0.62, 0.4, 0.38, 180, 360) + _line((0.9, 0))],
    "V": [_line((0, 0), (0.5, 1), (1, 0))],
    "W": [_line((0, 0), (0.25, 1), (0.5, 0.3), (0.75, 1), (1, 0))],
    "X": [_line((0.1, 0), (0.9, 1)), _line((0.9, 0), (0.1, 1))],
    "Y": [_line((0.1, 0), (0.5, 0.5)), _line((0.9, 0), (0.5, 0.5), (0.5, 1))],
    "c": [_arc(0.5, 0.72, 0.35, 0.28, 45, 315)],
    "d": [_arc(0.45, 0.72, 0.3, 0.28, 0, 360), _line((0.75, 0), (0.75, 1))],
    "e": [_line((0.15, 0.72), (0.85, 0.72)) + _arc(0.5, 0.72, 0.35, 0.28, 0, 315)],
    "f": [_arc(0.65, 0.22, 0.2, 0.2, 30, 180) + _line((0.45, 1)), _line((0.2, 0.45), (0.75, 0.45))],
    "h": [_line((0.2, 0), (0.2, 1)),
          _line((0.2, 0.7)) + _arc(0.5, 0.68, 0.3, 0.22, 180, 0) + _line((0.8, 1))],
    "k": [_line((0.2, 0), (0.2, 1)), _line((0.75, 0.45), (0.2, 0.78)),
          _line((0.42, 0.65), (0.8, 1))],
    "m": [_line((0.1, 0.45), (0.1, 1)),
          _line((0.1, 0.62)) + _arc(0.3, 0.62, 0.2, 0.16, 180, 0) + _line((0.5, 1)),
          _line((0.5, 0.62)) + _arc(0.7, 0.62, 0.2, 0.16, 180, 0) + _line((0.9, 1))],
    "n": [_line((0.2, 0.45), (0.2, 1)),
          _line((0.2, 0.65)) + _arc(0.5, 0.65, 0.3, 0.2, 180, 0) + _line((0.8, 1))],
    "p": [_line((0.2, 0.45), (0.2, 1.35)), _arc(0.5, 0.72, 0.3, 0.27, 180, -180)],
    "r": [_line((0.25, 0.45), (0.25, 1)),
          _line((0.25, 0.68)) + _arc(0.5, 0.66, 0.25, 0.2, 180, 40)],
    "u": [_line((0.2, 0.45)) + _arc(0.5, 0.8, 0.3, 0.2, 180, 360) + _line((0.8, 0.45)),
          _line((0.8, 0.45), (0.8, 1))],
    "v": [_line((0.1, 0.45), (0.5, 1), (0.9, 0.45))],
    "w": [_line((0, 0.45), (0.25, 1), (0.5, 0.55), (0.75, 1), (1, 0.45))],
    "x": [_line((0.15, 0.45), (0.85, 1)), _line((0.85, 0.45), (0.15, 1))],
}
"""One way to write each letter of :data:`LETTERS`, as strokes in a unit box."""


# Shape templates ---------------------------------------------------------------------------


def _shape(name: str, rng: np.random.Generator) -> list[Stroke]:
    """Strokes of one shape in a unit box, with the variation of a real drawing."""
    if name == "star":
        if rng.random() < 0.6:  # a pentagram in one stroke, as most people draw a star
            angles = np.radians(90 + 144 * np.arange(6) + rng.uniform(-6, 6, 6))
            return [[(0.5 + 0.5 * np.cos(a), 0.5 - 0.5 * np.sin(a)) for a in angles]]
        inner = rng.uniform(0.35, 0.5)
        angles = np.radians(90 + 36 * np.arange(11))
        radii = np.where(np.arange(11) % 2 == 0, 0.5, 0.5 * inner)
        return [[(0.5 + r * np.cos(a), 0.5 - r * np.sin(a))
                 for r, a in zip(radii, angles, strict=True)]]
    if name == "cross":
        cx, cy = rng.uniform(0.4, 0.6, 2)
        return [_line((cx, 0), (cx, 1)), _line((0, cy), (1, cy))]
    if name == "x":
        return [_line((0, 0), (1, 1)), _line((1, 0), (0, 1))]
    if name == "triangle":
        apex = rng.uniform(0.2, 0.8)
        points = [(apex, 0.0), (1.0, 1.0), (0.0, 1.0)]
        if rng.random() < 0.3:  # pointing down
            points = [(apex, 1.0), (1.0, 0.0), (0.0, 0.0)]
        return [_line(*points, points[0])]
    if name == "square":
        aspect = rng.uniform(0.7, 1.4)
        w, h = (1.0, 1.0 / aspect) if aspect > 1 else (aspect, 1.0)
        return [_line((0, 0), (w, 0), (w, h), (0, h), (0, 0))]
    if name == "arrow":
        head = rng.uniform(0.2, 0.35)
        spread = rng.uniform(0.12, 0.25)
        strokes = [_line((0, 0.5), (1, 0.5)),
                   _line((1 - head, 0.5 - spread), (1, 0.5), (1 - head, 0.5 + spread))]
        angle = np.radians(rng.uniform(-55, 55) + (180 if rng.random() < 0.5 else 0))
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        return [[tuple(rotation @ (np.array(p) - 0.5) + 0.5) for p in s] for s in strokes]
    if name == "zigzag":
        teeth = int(rng.integers(4, 8))
        x = np.linspace(0, 1, teeth + 1)
        y = np.where(np.arange(teeth + 1) % 2 == 0, 0.0, 1.0) * rng.uniform(0.25, 0.6)
        return [list(zip(x, y, strict=True))]
    if name == "grid":
        columns, rows = int(rng.integers(2, 4)), int(rng.integers(2, 4))
        strokes = [_line((x, 0), (x, 1)) for x in np.linspace(0.2, 0.8, columns)]
        strokes += [_line((0, y), (1, y)) for y in np.linspace(0.2, 0.8, rows)]
        return strokes
    if name == "heart":
        t = np.linspace(0, 2 * np.pi, 60)
        x = 16 * np.sin(t) ** 3
        y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
        return [list(zip(x / 32 + 0.5, -y / 32 + 0.5, strict=True))]
    if name == "wave":
        periods = rng.uniform(1.5, 3.0)
        amplitude = rng.uniform(0.08, 0.25)
        x = np.linspace(0, 1, 80)
        return [list(zip(x, 0.5 + amplitude * np.sin(2 * np.pi * periods * x
                                                     + rng.uniform(0, 2 * np.pi)), strict=True))]
    if name == "spiral":
        turns = rng.uniform(2.0, 3.5)
        theta = np.linspace(0, 2 * np.pi * turns, int(60 * turns))
        radius = 0.04 + 0.46 * theta / theta[-1]
        sign = 1 if rng.random() < 0.5 else -1
        x, y = 0.5 + radius * np.cos(sign * theta), 0.5 + radius * np.sin(theta)
        return [list(zip(x, y, strict=True))]
    if name == "checkmark":
        corner = rng.uniform(0.25, 0.45)
        return [_line((0, rng.uniform(0.45, 0.65)), (corner, 1), (1, 0))]
    raise ValueError(f"unknown shape {name!r}")


def _catmull_rom(points: np.ndarray, steps: int = 12) -> list[tuple[float, float]]:
    """A smooth curve through ``points`` (a Catmull-Rom spline)."""
    padded = np.vstack([points[:1], points, points[-1:]])
    out = []
    t = np.linspace(0, 1, steps, endpoint=False)[:, None]
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3))
    out.append(points[-1:])
    return [tuple(p) for p in np.concatenate(out)]


def _scribble(rng: np.random.Generator) -> tuple[list[Stroke], str]:
    style = ["tangle", "loops", "wander"][int(rng.integers(3))]
    if style == "tangle":  # a smooth curve through many random points
        return [_catmull_rom(rng.uniform(0, 1, (int(rng.integers(7, 14)), 2)))], style
    if style == "loops":  # cursive-like loops, as "eeee" or "llll" without letters
        loops = rng.uniform(2, 5)
        t = np.linspace(0, 2 * np.pi * loops, int(40 * loops)) + np.pi / 2
        radius = rng.uniform(0.25, 0.45)  # over 1 / (2 pi): the pen runs back, a loop
        x = t / (2 * np.pi) + radius * np.cos(t)
        y = -radius * np.sin(t) * rng.uniform(1.5, 3.5)
        return [list(zip(x, y, strict=True))], style
    heading, speed, points = rng.uniform(0, 2 * np.pi), 0.04, [np.zeros(2)]
    for _ in range(int(rng.integers(60, 140))):  # a wandering pen that turns a lot
        heading += rng.normal(0, 0.5)
        points.append(points[-1] + speed * np.array([np.cos(heading), np.sin(heading)]))
    return [[tuple(p) for p in points]], style


def _scratch(rng: np.random.Generator, width: float = 1.0, height: float = 1.0) -> list[Stroke]:
    """A back-and-forth scratching-out, as over a crossed-out word."""
    passes = int(rng.integers(6, 16))
    x = np.linspace(0, width, passes) + rng.normal(0, 0.02, passes)
    y = np.where(np.arange(passes) % 2 == 0, 0.0, height) + rng.normal(0, 0.05, passes)
    if rng.random() < 0.5:
        return [list(zip(x, y, strict=True))]
    return [list(zip(y * width / max(height, 1e-6), x * height / max(width, 1e-6), strict=True))]


# Rendering -----------------------------------------------------------------------------------


def render_strokes(strokes: Sequence[Stroke], rng: np.random.Generator,
                   medium: str | None = None) -> tuple[Image.Image | np.ndarray, str]:
    """A drawing as a page, in one of :data:`MEDIUMS` (random if None): the website's canvas
    (uint8 array from :func:`helpers.drawing.rasterise_strokes`) or a photographed page."""
    medium = medium or MEDIUMS[int(rng.integers(len(MEDIUMS)))]
    if medium in ("canvas18", "canvas"):
        pen = CANVAS_PEN if medium == "canvas18" else rng.uniform(6, 30)
        placed = place_strokes(strokes, rng, height=rng.uniform(80, 240),
                               aspect=rng.uniform(0.8, 1.25))
        return drawing.rasterise_strokes(placed, CANVAS_SIZE, pen), medium
    height = rng.uniform(60, 260)
    pen = rng.uniform(0.03, 0.12) * height
    placed = place_strokes(strokes, rng, height=height, size=height * 2.2)
    low, high = np.min([p for s in placed for p in s], axis=0), np.max(
        [p for s in placed for p in s], axis=0)
    offset = pen - low
    shifted = [[(x + offset[0], y + offset[1]) for x, y in s] for s in placed]
    size = high - low + 2 * pen
    ink = draw_strokes(shifted, int(np.ceil(size[0])), int(np.ceil(size[1])), pen)
    return print_on_paper(ink, rng), medium


@lru_cache(maxsize=64)
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(_FONT_DIR / name), size)


def render_font_letter(letter: str, font: str, rng: np.random.Generator) -> Image.Image:
    """A printed letter: ``font`` (a file in matplotlib's fonts) at 40-160 px, turned by up to
    10 degrees, printed on paper and photographed."""
    size = int(rng.integers(40, 160))
    face = _font(font, size)
    left, top, right, bottom = face.getbbox(letter)
    canvas = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(canvas).text((4 - left, 4 - top), letter, font=face, fill=255)
    canvas = canvas.rotate(rng.uniform(-10, 10), Image.Resampling.BICUBIC, expand=True)
    return print_on_paper(np.asarray(canvas, dtype=np.float32) / 255.0, rng)


def _noise_page(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A page with no drawing: textures a camera or scanner may hand over."""
    height, width = (int(v) for v in rng.integers(120, 360, size=2))
    style = ["grain", "stains", "ruled", "squared", "hatching"][int(rng.integers(5))]
    page = np.full((height, width), rng.uniform(0.75, 1.0), dtype=np.float32)
    if style == "grain":
        grain = ndimage.gaussian_filter(rng.normal(0, 1, page.shape), rng.uniform(0.5, 3))
        page -= rng.uniform(0.1, 0.4) * grain / (grain.std() + 1e-6)
    elif style == "stains":
        field = ndimage.gaussian_filter(rng.normal(0, 1, page.shape), rng.uniform(4, 15))
        field /= field.std() + 1e-6
        page -= rng.uniform(0.2, 0.6) * np.clip(field - rng.uniform(0.8, 2.0), 0, 1)
    elif style in ("ruled", "squared"):
        gap = rng.uniform(12, 40)
        lines = (np.arange(height)[:, None] % gap < rng.uniform(1, 3)).astype(np.float32)
        if style == "squared":
            lines = np.maximum(lines, (np.arange(width)[None, :] % gap < 2).astype(np.float32))
        page -= rng.uniform(0.15, 0.6) * lines
    else:
        yy, xx = np.mgrid[:height, :width]
        gap = rng.uniform(6, 20)
        angle = rng.uniform(0, np.pi)
        stripes = ((xx * np.cos(angle) + yy * np.sin(angle)) % gap) < rng.uniform(1, 3)
        mask = ndimage.gaussian_filter(rng.normal(0, 1, page.shape), 20) > 0
        page -= rng.uniform(0.3, 0.7) * (stripes & mask)
    page += rng.normal(0, rng.uniform(0, 0.03), page.shape)
    return (np.clip(page, 0, 1) * 255).astype(np.uint8), style


def _erase(page: Image.Image | np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rub out part of a drawing: a broad eraser stroke across it, leaving a faint trace."""
    gray = np.asarray(page.convert("L") if isinstance(page, Image.Image) else page,
                      dtype=np.float32) / 255.0
    ink = gray < np.percentile(gray, 50) - 0.2
    rows, cols = np.nonzero(ink) if ink.any() else (np.array([0]), np.array([0]))
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    h, w = bottom - top, right - left
    angle = rng.uniform(0, np.pi)
    centre = np.array([left + w * rng.uniform(0.3, 0.7), top + h * rng.uniform(0.3, 0.7)])
    direction = np.array([np.cos(angle), np.sin(angle)]) * max(h, w)
    eraser = draw_strokes([[tuple(centre - direction), tuple(centre + direction)]],
                          gray.shape[1], gray.shape[0], pen=rng.uniform(0.3, 0.55) * max(h, w))
    paper = float(np.percentile(gray, 90))
    strength = rng.uniform(0.75, 1.0)
    out = gray + (paper - gray) * eraser * strength
    return (np.clip(out, 0, 1) * 255).astype(np.uint8)


def _pieces(rng: np.random.Generator) -> list[Stroke]:
    """Two to five short, unconnected pieces of stroke at random places and angles."""
    strokes = []
    for _ in range(int(rng.integers(2, 6))):
        start = rng.uniform(0, 1, 2)
        heading = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(0.12, 0.35)
        bend = rng.normal(0, 1.5)
        t = np.linspace(0, 1, 12)[:, None]
        angle = heading + bend * t
        steps = np.hstack([np.cos(angle), np.sin(angle)]) * length / 11
        strokes.append([tuple(p) for p in start + np.cumsum(steps, axis=0)])
    return strokes


def render_negative(kind: str, rng: np.random.Generator) -> tuple[Image.Image | np.ndarray, str]:
    """The page of one non-digit of ``kind`` (one of :data:`KINDS`) and what it is."""
    if kind in ("font_letters", "font_letters_heldout"):
        fonts = TRAIN_FONTS if kind == "font_letters" else HELDOUT_FONTS
        letter = LETTERS[int(rng.integers(len(LETTERS)))]
        font = fonts[int(rng.integers(len(fonts)))]
        return render_font_letter(letter, font, rng), f"{letter}/{Path(font).stem}"
    if kind in ("drawn_letters", "drawn_letters_heldout"):
        letters = TRAIN_LETTERS if kind == "drawn_letters" else HELDOUT_LETTERS
        letter = letters[int(rng.integers(len(letters)))]
        page, medium = render_strokes(_jitter(LETTER_STROKES[letter], rng), rng)
        return page, f"{letter}/{medium}"
    if kind in ("shapes", "shapes_heldout"):
        shapes = TRAIN_SHAPES if kind == "shapes" else HELDOUT_SHAPES
        name = shapes[int(rng.integers(len(shapes)))]
        page, medium = render_strokes(_jitter(_shape(name, rng), rng, wobble=0.015), rng)
        return page, f"{name}/{medium}"
    if kind == "scribbles":
        strokes, style = _scribble(rng)
        page, medium = render_strokes(strokes, rng)
        return page, f"{style}/{medium}"
    if kind == "specks":
        count = int(rng.choice([1, 2, 3, int(rng.integers(4, 12)), int(rng.integers(12, 40))]))
        dots = [[tuple(rng.uniform(0, 1, 2))] for _ in range(count)]
        medium = "paper" if rng.random() < 0.6 else "canvas"
        if medium == "canvas":  # clicks on the website's canvas
            page, _ = render_strokes(dots, rng, "canvas18")
        else:
            side = int(rng.integers(120, 360))
            ink = np.zeros((side, side), dtype=np.float32)
            for (x, y), in dots:
                radius = rng.uniform(0.5, 4.0) * (1 + 3 * (count <= 3))
                dot = draw_strokes([[(x * (side - 20) + 10, y * (side - 20) + 10)]], side, side,
                                   2 * radius)
                ink = np.maximum(ink, dot)
            page = print_on_paper(ink, rng)
        return page, f"{count} dots/{medium}"
    if kind == "noise":
        page, style = _noise_page(rng)
        return page, f"{style}/paper"
    if kind == "fragments":
        if rng.random() < 0.5:
            page, medium = render_strokes(_pieces(rng), rng)
            return page, f"pieces/{medium}"
        source = TRAIN_LETTERS if rng.random() < 0.5 else TRAIN_SHAPES
        if isinstance(source, str):
            name = source[int(rng.integers(len(source)))]
            strokes = _jitter(LETTER_STROKES[name], rng)
        else:
            name = source[int(rng.integers(len(source)))]
            strokes = _jitter(_shape(name, rng), rng, wobble=0.015)
        page, medium = render_strokes(strokes, rng)
        return _erase(page, rng), f"erased {name}/{medium}"
    if kind == "crossed_out":
        style = ["scratched", "struck", "boxed"][int(rng.integers(3))]
        letters = [TRAIN_LETTERS[int(i)] for i in rng.integers(len(TRAIN_LETTERS),
                                                                size=int(rng.integers(1, 4)))]
        word: list[Stroke] = []
        for position, letter in enumerate(letters):  # a short word of training letters
            word += [[(x + 1.1 * position, y) for x, y in stroke]
                     for stroke in _jitter(LETTER_STROKES[letter], rng)]
        width = 1.1 * len(letters)
        if style == "scratched":
            over = [[(x * width, y) for x, y in s] for s in _scratch(rng)]
        elif style == "struck":
            lines = int(rng.integers(1, 4))
            over = [_line((-0.1, y0), (width + 0.1, y0 + rng.uniform(-0.3, 0.3)))
                    for y0 in rng.uniform(0.2, 0.8, lines)]
        else:
            over = [_line((-0.1, -0.1), (width + 0.1, 1.1)),
                    _line((width + 0.1, -0.1), (-0.1, 1.1))]
        page, medium = render_strokes(word + over, rng)
        return page, f"{style} {''.join(letters)}/{medium}"
    raise ValueError(f"unknown kind {kind!r}; choose from {KINDS}")


# Guarding against accidental digits -----------------------------------------------------------

RANDOM_KINDS: tuple[str, ...] = ("scribbles", "specks", "noise", "fragments")
"""Kinds whose random drawings could by chance look like a 1 or a 0; such draws are redrawn."""


def looks_like_one_or_zero(image: np.ndarray) -> bool:
    """Whether a 28x28 image is one straight, upright bar (a 1) or one plain ring (a 0)."""
    mask = image > 0.3
    labels, count = ndimage.label(mask, structure=np.ones((3, 3)))
    if count != 1:
        return False
    rows, cols = np.nonzero(mask)
    points = np.column_stack([cols, rows]).astype(float)
    covariance = np.cov(points.T)
    values, vectors = np.linalg.eigh(covariance)
    elongation = np.sqrt(values[1] / max(values[0], 1e-6))
    upright = abs(vectors[0, 1]) < np.sin(np.radians(35))  # main axis within 35 deg of vertical
    if elongation > 3.5 and upright:
        return True
    filled = ndimage.binary_fill_holes(mask)
    holes, hole_count = ndimage.label(filled & ~mask)
    if hole_count != 1 or (filled & ~mask).sum() < 0.2 * filled.sum():
        return False
    try:
        hull = ConvexHull(np.column_stack(np.nonzero(filled)).astype(float))
    except QhullError:
        return False
    return bool(filled.sum() / max(hull.volume, 1.0) > 0.85)


# The sets ------------------------------------------------------------------------------------


def make_negatives(
    count: int,
    seed: int,
    kinds: Sequence[str] = TRAIN_KINDS,
    preprocess_fn: Preprocess = preprocess.to_mnist,
) -> Negatives:
    """``count`` non-digits, spread evenly over ``kinds``, each preprocessed by
    ``preprocess_fn`` (default :func:`helpers.preprocess.to_mnist`).

    The i-th image of a kind depends only on (seed, kind, i): the same seed gives the same
    images whatever other kinds are asked for. Pages the preprocessing refuses as blank are
    counted in ``rejected`` (by kind), not returned. Drawings of the kinds in
    :data:`RANDOM_KINDS` that happen to look like a 1 or a 0
    (:func:`looks_like_one_or_zero`) are drawn again. Defaults to :data:`TRAIN_KINDS`:
    pass :data:`HELDOUT_KINDS` (or a training kind left out of training) to validate,
    with another seed. About 3-8 ms per image on one core.
    """
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown kinds {unknown}; choose from {KINDS}")
    images, kind_names, details = [], [], []
    rejected = {kind: 0 for kind in kinds}
    for position, kind in enumerate(kinds):
        share = count // len(kinds) + (position < count % len(kinds))
        for index in range(share):
            rng = image_rng(seed, 2000 + KINDS.index(kind), index)
            for _attempt in range(10):
                page, detail = render_negative(kind, rng)
                try:
                    image = preprocess_fn(page)
                except preprocess.PreprocessError:
                    image = None
                    break
                if kind not in RANDOM_KINDS or not looks_like_one_or_zero(image):
                    break
            if image is None:
                rejected[kind] += 1
                continue
            images.append(image)
            kind_names.append(kind)
            details.append(detail)
    x = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28)
    return Negatives(x, np.asarray(kind_names, dtype=str), np.asarray(details, dtype=str),
                     rejected)


# The website's own test drawings ---------------------------------------------------------------


def _points(*corners: tuple[float, float], step: float = 12.0) -> list[tuple[float, float]]:
    """A polyline through ``corners`` with a point every ``step`` pixels, as a mouse reports."""
    return [tuple(float(v) for v in p) for p in _densify(corners, step)]


def _curve(function: Callable[[np.ndarray], np.ndarray], steps: int) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in p) for p in function(np.linspace(0, 1, steps))]


def website_strokes() -> dict[str, list[Stroke]]:
    """The eight non-digits of the website's test, drawn on its 280x280 canvas: star, cross,
    grid, wave, spiral and the letters A, H, M, as (x, y) canvas points per stroke."""

    def wave(t: np.ndarray) -> np.ndarray:
        return np.column_stack([30 + 220 * t, 140 - 45 * np.sin(2 * np.pi * 2 * t)])

    def spiral(t: np.ndarray) -> np.ndarray:
        theta = 2 * np.pi * 3 * t
        radius = 8 + 100 * t
        return np.column_stack([140 + radius * np.cos(theta), 140 + radius * np.sin(theta)])

    star = [(140 + 105 * np.cos(a), 150 - 105 * np.sin(a))
            for a in np.radians(90 + 144 * np.arange(6))]
    return {
        "star": [_points(*star)],
        "cross": [_points((140, 40), (140, 240)), _points((40, 140), (240, 140))],
        "grid": [_points((105, 40), (105, 240)), _points((175, 40), (175, 240)),
                 _points((40, 105), (240, 105)), _points((40, 175), (240, 175))],
        "wave": [_curve(wave, 60)],
        "spiral": [_curve(spiral, 90)],
        "A": [_points((60, 240), (140, 40), (220, 240)), _points((95, 165), (185, 165))],
        "H": [_points((75, 40), (75, 240)), _points((205, 40), (205, 240)),
              _points((75, 140), (205, 140))],
        "M": [_points((50, 240), (70, 40), (140, 170), (210, 40), (230, 240))],
    }


def digit_strokes() -> dict[int, list[Stroke]]:
    """Ten digits drawn on the website's 280x280 canvas, one way each, as canvas points."""

    def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float
            ) -> list[tuple[float, float]]:
        return _arc(cx, cy, rx, ry, start, end, steps=max(8, int(abs(end - start) / 8)))

    return {
        0: [arc(140, 140, 60, 95, 90, 450)],
        1: [_points((115, 75), (150, 45), (150, 235))],
        2: [arc(140, 100, 55, 50, 160, -20) + _points((185, 125), (85, 235), (200, 235))],
        3: [arc(135, 95, 50, 45, 150, -90) + arc(135, 185, 55, 50, 90, -150)],
        4: [_points((175, 235), (175, 45), (80, 170), (205, 170))],
        5: [_points((190, 50), (105, 50), (95, 130)) + arc(140, 175, 58, 55, 130, -150)],
        6: [arc(150, 125, 60, 80, 60, 180) + arc(140, 185, 55, 50, 180, 540)],
        7: [_points((80, 55), (200, 55), (120, 235))],
        8: [arc(140, 95, 45, 45, -90, 270) + arc(140, 185, 55, 50, 90, 450)],
        9: [arc(140, 100, 50, 50, 0, 360), _points((190, 100), (180, 235))],
    }


def website_drawings(preprocess_fn: Preprocess = preprocess.to_mnist) -> dict[str, np.ndarray]:
    """:func:`website_strokes` as the demo feeds them to the model: canvas -> 28x28."""
    return {name: preprocess_fn(drawing.rasterise_strokes(strokes, CANVAS_SIZE, CANVAS_PEN))
            for name, strokes in website_strokes().items()}


def drawn_digits(preprocess_fn: Preprocess = preprocess.to_mnist) -> dict[int, np.ndarray]:
    """:func:`digit_strokes` as the demo feeds them to the model: canvas -> 28x28."""
    return {digit: preprocess_fn(drawing.rasterise_strokes(strokes, CANVAS_SIZE, CANVAS_PEN))
            for digit, strokes in digit_strokes().items()}
