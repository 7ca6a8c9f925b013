"""Classify images of handwritten digits from the command line (notebook 08).

    python -m helpers.predict IMAGE [IMAGE ...] [--json] [--model PATH]

Each image goes through :mod:`helpers.preprocess` (MNIST's form) and the model; one
line per image gives the predicted digit, its probability and the runner-up. With
``--json`` each line is a JSON object with ``path``, ``digit``, ``probability``,
``runner_up``, ``runner_up_probability`` and ``probabilities`` (all ten).

An image that cannot be read (missing, not an image, blank) gets a one-line error on
stderr; the others are still classified, and the exit status is 1 if any failed
(2 for a model that cannot be loaded or wrong arguments).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from helpers.config import REPO_ROOT

DEFAULT_MODEL = REPO_ROOT / "models" / "best_cnn.keras"
"""The course's best trained model, committed so that the command works before any training."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.predict",
        description="Classify images of handwritten digits (any size; dark ink on light "
        "paper or the reverse) with a model trained on MNIST.",
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")
    parser.add_argument(
        "--model",
        type=Path,
        default=DEFAULT_MODEL,
        help=f"a .keras model for 28x28x1 inputs and 10 classes (default: {DEFAULT_MODEL})",
    )
    return parser.parse_args(argv)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence C-level stderr (TensorFlow's start-up lines) while importing and loading."""
    try:
        saved = os.dup(2)
    except OSError:  # no real file descriptor (e.g. inside some notebook front ends)
        yield
        return
    with open(os.devnull, "w") as devnull:
        sys.stderr.flush()
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def describe(path: str, probabilities: np.ndarray) -> dict[str, object]:
    """The result for one image: predicted digit, its probability and the runner-up."""
    order = np.argsort(probabilities)[::-1]
    return {
        "path": path,
        "digit": int(order[0]),
        "probability": round(float(probabilities[order[0]]), 4),
        "runner_up": int(order[1]),
        "runner_up_probability": round(float(probabilities[order[1]]), 4),
        "probabilities": [round(float(p), 4) for p in probabilities],
    }


def format_line(result: dict[str, object]) -> str:
    """The human-readable line for one result."""
    return (
        f"{result['path']}: {result['digit']} ({100 * result['probability']:.1f}%), "
        f"runner-up {result['runner_up']} ({100 * result['runner_up_probability']:.1f}%)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = parse_args(argv)
    from helpers.preprocess import PreprocessError, to_batch, to_mnist

    images, paths, failed = [], [], 0
    for path in args.images:
        try:
            images.append(to_mnist(path))
            paths.append(path)
        except PreprocessError as error:
            message = str(error) if str(path) in str(error) else f"{path}: {error}"
            print(f"error: {message}", file=sys.stderr)
            failed += 1
    if not images:
        return 1

    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # before TensorFlow is imported: results only
    with _quiet_stderr():
        from helpers.artifacts import ModelFileError, load_model

        try:
            model = load_model(args.model)
        except ModelFileError as error:
            model, message = None, str(error).splitlines()[0]
    if model is None:
        print(f"error: {message}", file=sys.stderr)
        return 2
    with _quiet_stderr():
        probabilities = model.predict(to_batch(images), verbose=0)
    for path, row in zip(paths, probabilities, strict=True):
        result = describe(path, row)
        print(json.dumps(result) if args.json else format_line(result))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
