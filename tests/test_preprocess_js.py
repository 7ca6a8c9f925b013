"""The website's preprocessing (site/demo/preprocess.js) against helpers.preprocess, under Node.

The drawing demo feeds its model the 28x28 image that ``site/demo/preprocess.js`` computes in
the browser; ``helpers.preprocess`` computes the same image in Python (notebook 08). Here both
run on the same fixed, synthetic images (dark ink on white and light ink on grey, a large and
an off-centre digit, a tiny scan that takes the enlarging path, a speck to remove) and must give
the same intermediate box and final image. The browser test in ``tests/test_site.py`` checks
the same on the page, but only where a Chromium is installed; this one needs only ``node``.
Without ``node`` it is skipped, and with ``CI=true`` it fails instead.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image, ImageDraw

from helpers import preprocess
from helpers.config import REPO_ROOT

PREPROCESS_JS = REPO_ROOT / "site" / "demo" / "preprocess.js"

TOLERANCE = 1e-4
"""Largest allowed pixel difference (pixels in [0, 1]); tests/test_site.py's tolerance. The
pipelines do the same arithmetic, in float32 NumPy and float64 JavaScript."""

NODE_STEPS = """
require(process.argv[1]);
const P = globalThis.DigitsPreprocess;
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = cases.map(({ width, height, rgba }) => {
  const steps = P.preprocessSteps(Uint8ClampedArray.from(rgba), width, height);
  if (steps === null) return null;
  const plain = {};
  for (const name of ["box", "mnist"]) {
    plain[name] = { width: steps[name].width, height: steps[name].height,
                    data: Array.from(steps[name].data) };
  }
  return plain;
});
process.stdout.write(JSON.stringify(out));
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def run_node(cases: list[dict]) -> list[dict | None]:
    """Run ``preprocessSteps`` of preprocess.js on each case; its box and mnist images."""
    node = shutil.which("node")
    if node is None:
        message = "node (Node.js) not found: the JavaScript preprocessing cannot be checked"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run([node, "-e", NODE_STEPS, str(PREPROCESS_JS)],
                            input=json.dumps(cases), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def drawn(strokes: list[list[tuple[float, float]]], size: tuple[int, int] = (280, 280),
          width: int = 18, ink: int = 0, paper: int = 255) -> np.ndarray:
    """An RGB uint8 image with ``strokes`` (polylines, in pixels) drawn in ``ink`` on ``paper``."""
    image = Image.new("L", size, paper)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill=ink, width=width, joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=ink)
    gray = np.asarray(image)
    return np.repeat(gray[..., None], 3, axis=-1)


SEVEN = [[(70, 60), (210, 60), (120, 230)]]
FOUR = [[(110, 50), (80, 170), (200, 170)], [(170, 90), (165, 250)]]
ZERO = [[(140, 45), (95, 80), (85, 160), (110, 225), (160, 230), (190, 170), (190, 90),
         (140, 45)]]


def fixed_images() -> dict[str, np.ndarray]:
    """The images both pipelines read: RGB uint8 arrays of several sizes and polarities."""
    with_speck = drawn(ZERO)
    with_speck[250:253, 20:23] = 0  # a 3x3 speck of dust far from the digit
    off_centre = drawn([[(30, 40), (60, 30), (60, 120)]], size=(240, 180), width=10)
    tiny = drawn([[(4, 3), (12, 3), (7, 16)]], size=(16, 20), width=2)  # enlarged first
    return {
        "seven, dark ink": drawn(SEVEN),
        "four, two strokes": drawn(FOUR),
        "zero with a speck": with_speck,
        "light ink on grey": drawn(SEVEN, ink=230, paper=40),
        "off-centre, not square": off_centre,
        "tiny scan": tiny,
    }


def as_case(rgb: np.ndarray) -> dict:
    """The JSON payload of one image: canvas-style RGBA bytes."""
    height, width, _ = rgb.shape
    rgba = np.concatenate([rgb, np.full((height, width, 1), 255, np.uint8)], axis=-1)
    return {"width": width, "height": height, "rgba": rgba.ravel().tolist()}


def as_array(image: dict) -> np.ndarray:
    return np.asarray(image["data"], np.float32).reshape(image["height"], image["width"])


def difference_allowing_a_tie(js: np.ndarray, python: np.ndarray) -> float:
    """Largest pixel difference, allowing a one-pixel shift only along an axis where the
    Python image's centre of mass sits within 0.01 of a half pixel (a rounding tie that
    float32 and float64 may decide differently)."""
    best = float(np.abs(js - python).max())
    centre = np.array(preprocess.centre_of_mass(python))
    tie = np.abs((centre - 14.0) % 1.0 - 0.5) < 0.01
    for axis in np.flatnonzero(tie):
        for step in (-1, 1):
            best = min(best, float(np.abs(js - np.roll(python, step, axis=int(axis))).max()))
    return best


@pytest.fixture(scope="module")
def both() -> list[tuple[str, dict, dict]]:
    """(name, Python steps, JavaScript steps) for every fixed image."""
    images = fixed_images()
    results = run_node([as_case(rgb) for rgb in images.values()])
    return [(name, preprocess.preprocess_steps(rgb), js)
            for (name, rgb), js in zip(images.items(), results, strict=True)]


def test_javascript_gives_pythons_28x28_image(both) -> None:
    for name, python, js in both:
        assert js is not None, f"{name}: preprocess.js found no digit"
        mnist = as_array(js["mnist"])
        assert mnist.shape == (28, 28), name
        difference = difference_allowing_a_tie(mnist, python["mnist"])
        assert difference <= TOLERANCE, f"{name}: 28x28 images differ by {difference:.2e}"


def test_javascript_gives_pythons_20x20_box(both) -> None:
    for name, python, js in both:
        box = as_array(js["box"])
        assert box.shape == python["box"].shape == (20, 20), name
        difference = float(np.abs(box - python["box"]).max())
        assert difference <= TOLERANCE, f"{name}: 20x20 boxes differ by {difference:.2e}"


def test_javascript_centres_by_mass_like_python(both) -> None:
    """The final step on its own: the centre of mass at (14, 14) within half a pixel."""
    for name, _, js in both:
        row, col = preprocess.centre_of_mass(as_array(js["mnist"]))
        assert abs(row - 14.0) <= 0.5 and abs(col - 14.0) <= 0.5, (name, row, col)


def test_the_fixed_images_are_not_already_centred(both) -> None:
    """The cases exercise the centring: the box placed in the middle of the field, unshifted,
    is more than a pixel off centre for at least one of them."""
    offsets = []
    for _, python, _ in both:
        field = np.zeros((28, 28), np.float32)
        field[4:24, 4:24] = python["box"]
        row, col = preprocess.centre_of_mass(field)
        offsets.append(max(abs(row - 14.0), abs(col - 14.0)))
    assert max(offsets) > 1.0, offsets


def test_a_blank_image_is_refused_by_both() -> None:
    blank = np.full((100, 100, 3), 255, np.uint8)
    with pytest.raises(preprocess.PreprocessError):
        preprocess.to_mnist(blank)
    assert run_node([as_case(blank)]) == [None]
