"""Draw the sample handwriting images of notebook 08 with Pillow (run from the repository root).

    python data/handwriting/make_samples.py

Each digit is a few pen strokes (lists of points on a 100x100 grid), drawn with a
chosen slant, rotation, size, pen width and paper: clean white, noisy, tinted,
photographed-looking (uneven light, blur, JPEG), chalk on a dark board, or ink on a
transparent background. The true label is the first character of each file name.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

HERE = Path(__file__).resolve().parent


def _arc(cx, cy, rx, ry, start, stop, steps=40):
    angles = np.radians(np.linspace(start, stop, steps))
    return list(zip(cx + rx * np.cos(angles), cy + ry * np.sin(angles), strict=True))


def _curve(*points, steps=60):
    """A smooth curve through the points (Catmull-Rom spline)."""
    p = np.array(points, dtype=float)
    p = np.vstack([p[0], p, p[-1]])
    out = []
    for i in range(1, len(p) - 2):
        for t in np.linspace(0, 1, steps // (len(p) - 3), endpoint=False):
            a, b, c, d = p[i - 1], p[i], p[i + 1], p[i + 2]
            out.append(0.5 * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t**2
                              + (-a + 3 * b - 3 * c + d) * t**3))
    out.append(p[-2])
    return [tuple(q) for q in out]


t = np.linspace(0, 2 * np.pi, 80)
STROKES = {
    0: [_arc(50, 50, 27, 46, -90, 275)],
    1: [[(40, 16), (56, 2), (50, 98)]],
    2: [_curve((24, 26), (40, 4), (66, 6), (74, 28), (56, 58), (24, 96), (52, 92), (82, 94))],
    3: [_curve((24, 14), (50, 2), (74, 18), (66, 40), (46, 48)),
        _curve((46, 48), (74, 58), (78, 82), (52, 98), (22, 88))],
    4: [[(34, 2), (22, 62), (82, 60)], [(68, 10), (66, 100)]],
    5: [[(76, 4), (34, 4), (30, 44)],
        _curve((30, 44), (56, 38), (78, 58), (72, 86), (48, 98), (24, 88))],
    6: [_curve((70, 4), (44, 22), (28, 56), (34, 90), (58, 96), (74, 74), (60, 54),
               (36, 60), (30, 72))],
    7: [[(18, 6), (82, 4), (40, 98)]],
    8: [list(zip(50 + 22 * np.sin(2 * t), 50 - 47 * np.cos(t), strict=True))],
    9: [_arc(48, 28, 24, 24, -10, 360), _curve((72, 24), (70, 60), (62, 100))],
}

# name, digit, size px, pen width (as % of digit height), slant, rotation deg, scale, paper
SAMPLES = [
    ("0_clean", 0, 200, 8, 0.0, 0, 0.7, "white"),
    ("0_thin_wide_margin", 0, 320, 2.5, 0.15, 0, 0.35, "noisy"),
    ("1_plain", 1, 160, 9, 0.0, 0, 0.8, "white"),
    ("1_slanted_photo", 1, 240, 7, 0.3, 5, 0.6, "photo"),
    ("2_thick", 2, 180, 14, 0.0, 0, 0.75, "white"),
    ("2_small_tinted", 2, 260, 6, 0.1, -5, 0.3, "tinted"),
    ("3_slanted", 3, 200, 8, 0.25, 0, 0.7, "noisy"),
    ("3_chalk", 3, 220, 10, 0.0, 3, 0.7, "chalk"),
    ("4_thin", 4, 240, 3, 0.0, 0, 0.7, "white"),
    ("4_photo", 4, 260, 8, 0.15, -4, 0.55, "photo"),
    ("5_clean", 5, 180, 9, 0.1, 0, 0.75, "white"),
    ("5_thick_tinted", 5, 220, 13, -0.1, 4, 0.6, "tinted"),
    ("6_slanted", 6, 200, 8, 0.25, 0, 0.7, "noisy"),
    ("6_transparent", 6, 160, 10, 0.0, 0, 0.75, "transparent"),
    ("7_thick_slanted", 7, 200, 13, 0.3, 0, 0.7, "white"),
    ("7_small_photo", 7, 300, 6, 0.0, 6, 0.3, "photo"),
    ("8_clean", 8, 200, 8, 0.0, 0, 0.75, "white"),
    ("8_thin_noisy", 8, 260, 3, 0.2, 0, 0.6, "noisy"),
    ("9_slanted", 9, 200, 9, 0.3, 0, 0.7, "tinted"),
    ("9_chalk", 9, 220, 8, 0.0, -4, 0.65, "chalk"),
]


def draw(digit, size, pen, slant, rotation, scale, seed):
    """Ink coverage in [0, 1] (1 = ink) of one digit on a size x size page."""
    rng = np.random.default_rng(seed)
    height = size * scale
    angle = np.radians(rotation)
    centre = np.array([size / 2, size / 2]) + rng.uniform(-0.12, 0.12, 2) * size * (1 - scale)
    canvas = Image.new("L", (size * 4, size * 4), 0)  # drawn 4x larger, then reduced: smooth
    pen_draw = ImageDraw.Draw(canvas)
    width = pen / 100 * height * 4
    for stroke in STROKES[digit]:
        points = []
        for x, y in stroke:
            u, v = (x - 50) / 100 * height, (y - 50) / 100 * height
            u -= slant * v
            u, v = u * np.cos(angle) - v * np.sin(angle), u * np.sin(angle) + v * np.cos(angle)
            points.append(((centre[0] + u) * 4, (centre[1] + v) * 4))
        pen_draw.line(points, fill=255, width=max(1, int(width)))
        for px, py in points:
            pen_draw.ellipse((px - width / 2, py - width / 2, px + width / 2, py + width / 2),
                             fill=255)
    canvas = canvas.resize((size, size), Image.Resampling.BOX)
    return np.asarray(canvas, dtype=np.float32) / 255


def paper(ink, kind, seed):
    """Put the ink on a kind of paper; returns a PIL image and the file suffix to save it with."""
    rng = np.random.default_rng(seed)
    size = ink.shape[0]
    if kind == "transparent":
        rgba = np.zeros((size, size, 4), dtype=np.uint8)
        rgba[..., :3] = (20, 20, 90)
        rgba[..., 3] = (ink * 255).astype(np.uint8)
        return Image.fromarray(rgba, "RGBA"), ".png"
    if kind == "chalk":
        board = 0.2 + 0.05 * rng.standard_normal(ink.shape)
        page = board + (0.9 - board) * ink * rng.uniform(0.7, 1.0, ink.shape)
        rgb = np.clip(page[..., None] * np.array([0.9, 1.0, 0.95]), 0, 1)
        return Image.fromarray((rgb * 255).astype(np.uint8), "RGB"), ".jpg"
    level = {"white": 0.98, "noisy": 0.92, "tinted": 0.88, "photo": 0.8}[kind]
    tint = {"white": (1, 1, 1), "noisy": (1, 1, 1), "tinted": (1.0, 0.95, 0.8),
            "photo": (0.95, 0.97, 1.0)}[kind]
    page = np.full(ink.shape, level)
    if kind == "photo":  # uneven light and a soft shadow in one corner
        yy, xx = np.mgrid[:size, :size] / size
        page = page - 0.25 * np.clip(1.2 - xx - yy, 0, 1) ** 2 + 0.08 * xx
    page = page + (0.15 - page) * ink
    noise = {"white": 0.0, "noisy": 0.06, "tinted": 0.02, "photo": 0.03}[kind]
    page = page + noise * rng.standard_normal(ink.shape)
    if kind == "noisy":  # dust specks
        for _ in range(12):
            y, x = rng.integers(0, size, 2)
            page[y : y + 2, x : x + 2] = 0.3
    rgb = np.clip(page[..., None] * np.array(tint), 0, 1)
    image = Image.fromarray((rgb * 255).astype(np.uint8), "RGB")
    if kind == "white":
        return image.convert("L"), ".png"
    if kind == "photo":
        image = image.filter(ImageFilter.GaussianBlur(1.0))
    return image, ".jpg"


def main() -> None:
    for old in HERE.glob("[0-9]_*.*"):
        old.unlink()
    for seed, (name, digit, size, pen, slant, rotation, scale, kind) in enumerate(SAMPLES):
        ink = draw(digit, size, pen, slant, rotation, scale, seed)
        image, suffix = paper(ink, kind, seed)
        if suffix == ".jpg":
            buffer = io.BytesIO()
            image.save(buffer, format="JPEG", quality=70)
            (HERE / f"{name}{suffix}").write_bytes(buffer.getvalue())
        else:
            image.save(HERE / f"{name}{suffix}", optimize=True)
    total = sum(path.stat().st_size for path in HERE.glob("[0-9]_*.*"))
    print(f"{len(SAMPLES)} samples written to {HERE}, {total / 1024:.0f} KB in all")


if __name__ == "__main__":
    main()
