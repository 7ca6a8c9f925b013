"""Fixtures and builders shared by the unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from helpers.config import DATA_ENV


def real_mnist_path() -> Path:
    """The real MNIST file named by DIGITS_MNIST_PATH; skips the test when it is not set."""
    value = os.environ.get(DATA_ENV)
    if not value or not Path(value).is_file():
        pytest.skip(f"{DATA_ENV} does not name the MNIST file")
    return Path(value)


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    """Write arrays to an .npz file and return its path."""
    np.savez(path, **arrays)
    return path


def fake_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random float images in [0, 1] of shape (count, 28, 28, 1) and labels 0-9."""
    rng = np.random.default_rng(seed)
    images = rng.random((count, 28, 28, 1), dtype=np.float32)
    labels = np.arange(count) % 10
    return images, labels
