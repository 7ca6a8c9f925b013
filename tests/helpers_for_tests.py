"""Fixtures and builders shared by the unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from helpers import data
from helpers.config import DATA_ENV

NO_MNIST = (
    f"no MNIST file on this machine: set {DATA_ENV}=/path/to/mnist.npz, or put mnist.npz in "
    "Keras' cache (~/.keras/datasets/, where keras.datasets.mnist.load_data() downloads it)"
)


def real_mnist_path() -> Path:
    """The MNIST file the loader reads when given no path: ``$DIGITS_MNIST_PATH`` if set,
    else Keras' cache. Skips the test only when there is neither (the loader would have to
    download); fails, with the loader's message, when the variable names no file."""
    found = data.find_mnist()
    if found is None:
        pytest.skip(NO_MNIST)
    if not found.is_file():
        try:
            data.load_mnist()
        except data.MnistDataError as error:
            pytest.fail(str(error))
    return found


HOME_VARIABLES = ("HOME", "USERPROFILE")
"""Where the user's home folder comes from: ``HOME`` on Linux and macOS, ``USERPROFILE`` on
Windows (``Path.home()`` and ``os.path.expanduser`` read it there, not ``HOME``)."""


def fake_home_environment(home: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` for a process whose home folder is ``home`` on any system: ``HOME`` and
    ``USERPROFILE`` point there, and ``KERAS_HOME`` and ``$DIGITS_MNIST_PATH`` are removed, so
    Keras' cache is ``home/.keras`` and nothing reaches the learner's real ``~/.keras``."""
    env = {key: value for key, value in environ.items() if key not in ("KERAS_HOME", DATA_ENV)}
    env.update({name: str(home) for name in HOME_VARIABLES})
    return env


def use_fake_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """:func:`fake_home_environment` for this process, undone by ``monkeypatch`` after the
    test (a test that needs ``KERAS_HOME`` sets it itself)."""
    for name in HOME_VARIABLES:
        monkeypatch.setenv(name, str(home))
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv(DATA_ENV, raising=False)


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    """Write arrays to a compressed .npz file and return its path."""
    np.savez_compressed(path, **arrays)
    return path


def fake_mnist_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Generated arrays that pass every structural check of the loader (keys, shapes,
    uint8, non-blank images, labels 0-9 with MNIST's class counts) but are not MNIST:
    start from these and break one thing."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, counts in (("train", data.TRAIN_CLASS_COUNTS), ("test", data.TEST_CLASS_COUNTS)):
        labels = np.repeat(np.arange(10, dtype=np.uint8), counts)
        arrays[f"y_{split}"] = rng.permutation(labels)
        images = np.zeros((len(labels), 28, 28), np.uint8)
        images[:, 8:20, 12:16] = 255  # a bar: a "1" in every image
        arrays[f"x_{split}"] = images
    return arrays


def fake_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random float images in [0, 1] of shape (count, 28, 28, 1) and labels 0-9."""
    rng = np.random.default_rng(seed)
    images = rng.random((count, 28, 28, 1), dtype=np.float32)
    labels = np.arange(count) % 10
    return images, labels
