"""The MNIST loader: where it looks, what it checks, and its errors.

Every error path runs on small generated files, so it runs on any machine; only the
tests marked by ``real_mnist_path()`` need the real file (and skip where there is none).
"""

from __future__ import annotations

import hashlib
import json
import ntpath
import os
import posixpath
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import data
from helpers.config import DATA_ENV
from tests.helpers_for_tests import (
    fake_home_environment,
    fake_mnist_arrays,
    real_mnist_path,
    use_fake_home,
    write_npz,
)

KERAS_FILE_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
"""The whole-file hash keras.datasets.mnist.load_data() checks its cached mnist.npz against."""


@pytest.fixture(scope="module")
def mnist() -> data.Mnist:
    return data.load_mnist(real_mnist_path())


@pytest.fixture(scope="module")
def fake() -> dict[str, np.ndarray]:
    return fake_mnist_arrays()


KERAS_CALLS: list[tuple] = []
"""Calls of the stub that replaces keras.datasets.mnist.load_data in the cache tests."""


@pytest.fixture
def keras_cache(tmp_path, monkeypatch) -> Path:
    """A fake home folder (HOME and, for Windows, USERPROFILE; no KERAS_HOME, no
    DIGITS_MNIST_PATH): the path of its Keras cache file, not yet written.
    keras.datasets.mnist.load_data is replaced by a stub that records its calls in KERAS_CALLS
    and fails, so no test can download or touch the real cache."""
    home = tmp_path / "home"
    home.mkdir()
    use_fake_home(monkeypatch, home)
    import keras

    KERAS_CALLS.clear()

    def no_download(*args, **kwargs):
        KERAS_CALLS.append(args)
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_download)
    path = home / ".keras" / "datasets" / "mnist.npz"
    path.parent.mkdir(parents=True)
    return path


def sha256_of_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# The real file ------------------------------------------------------------------------------


def test_loads_real_file_from_argument(mnist):
    assert mnist.x_train.shape == (60000, 28, 28)
    assert mnist.y_test.shape == (10000,)
    assert mnist.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_environment_variable_is_used(monkeypatch):
    path = real_mnist_path()
    monkeypatch.setenv(DATA_ENV, str(path))
    assert data.load_mnist().source == str(path)


def test_checksums_match_published_values(mnist):
    assert data.checksums(mnist) == data.ARRAY_SHA256
    # from the table of the offline copy's README (shared/data/README.md)
    assert data.ARRAY_SHA256["y_test"] == (
        "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5")
    assert data.ARRAY_SHA256["x_train"].startswith("741c988805d008ac")


def test_keras_cache_with_other_bytes_is_read_and_kept(mnist, keras_cache):
    """The finding of issue 16: an MNIST copy saved by another tool (same arrays, other zip
    bytes) in Keras' cache. Keras would delete it; the loader reads it and leaves it."""
    arrays = {key: getattr(mnist, key) for key in data.EXPECTED_SHAPES}
    np.savez(keras_cache, **arrays)
    digest = sha256_of_file(keras_cache)
    assert digest != KERAS_FILE_SHA256  # the case Keras mishandles
    loaded = data.load_mnist()
    assert loaded.source == str(keras_cache)
    assert np.array_equal(loaded.y_test, mnist.y_test)
    assert KERAS_CALLS == []
    assert sha256_of_file(keras_cache) == digest


# Where the loader looks --------------------------------------------------------------------


def test_fake_home_is_the_home_on_every_system(keras_cache):
    """The cache fixture's home is the one Python finds on Linux and macOS (HOME) and on
    Windows (USERPROFILE): checked with both path flavours, whatever this system is."""
    home = keras_cache.parent.parent.parent
    assert Path(posixpath.expanduser("~")) == home
    assert Path(ntpath.expanduser("~")) == home
    assert "KERAS_HOME" not in os.environ and DATA_ENV not in os.environ
    assert data.keras_cache_path() == keras_cache


def test_fake_home_environment_covers_every_system(tmp_path):
    environ = {"HOME": "/real", "USERPROFILE": r"C:\Users\real", "KERAS_HOME": "/real/k",
               DATA_ENV: "/real/mnist.npz", "PATH": "/bin"}
    env = fake_home_environment(tmp_path, environ)
    assert env == {"HOME": str(tmp_path), "USERPROFILE": str(tmp_path), "PATH": "/bin"}
    assert environ["HOME"] == "/real"  # not changed


def test_keras_cache_path_follows_keras_home(keras_cache, tmp_path, monkeypatch):
    assert data.keras_cache_path() == keras_cache
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "elsewhere"))
    assert data.keras_cache_path() == tmp_path / "elsewhere" / "datasets" / "mnist.npz"


def test_keras_cache_path_agrees_with_keras(tmp_path):
    """Keras decides its home folder when imported: ask a fresh process with a fake home."""
    home = tmp_path / "home"
    home.mkdir()
    env = fake_home_environment(home, os.environ)
    script = (
        "import json, keras\n"
        "from keras.src.backend import config\n"
        "from helpers import data\n"
        "print(json.dumps([config.keras_home(), str(data.keras_cache_path())]))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, cwd=Path(data.__file__).parent.parent, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    keras_home, ours = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(ours) == Path(keras_home) / "datasets" / "mnist.npz"
    assert Path(keras_home) == home / ".keras"


def test_search_order_argument_variable_cache(keras_cache, tmp_path, monkeypatch):
    assert data.find_mnist() is None  # nothing anywhere: the loader would download
    keras_cache.write_bytes(b"anything")
    assert data.find_mnist() == keras_cache
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "from_variable.npz"))
    assert data.find_mnist() == tmp_path / "from_variable.npz"  # reported missing later
    assert data.find_mnist(tmp_path / "given.npz") == tmp_path / "given.npz"


def test_no_cache_and_no_network_is_explained(keras_cache):
    with pytest.raises(data.MnistDataError, match="network is unreachable") as error:
        data.load_mnist()
    assert DATA_ENV in str(error.value) and str(keras_cache) in str(error.value)
    assert len(KERAS_CALLS) == 1


@pytest.mark.parametrize("damage", ["truncated", "other_arrays"])
def test_bad_keras_cache_is_reported_and_never_deleted(keras_cache, fake, damage):
    write_npz(keras_cache, **fake)
    if damage == "truncated":
        keras_cache.write_bytes(keras_cache.read_bytes()[:5000])
    digest = sha256_of_file(keras_cache)
    expected = "truncated or corrupt" if damage == "truncated" else "SHA-256"
    with pytest.raises(data.MnistDataError, match=expected) as error:
        data.load_mnist()
    assert str(keras_cache) in str(error.value) and "left untouched" in str(error.value)
    assert KERAS_CALLS == []  # Keras would have deleted it
    assert sha256_of_file(keras_cache) == digest


# What the loader checks, on generated files --------------------------------------------------


def test_missing_file_says_how_to_supply(tmp_path):
    with pytest.raises(data.MnistDataError) as error:
        data.load_mnist(tmp_path / "nowhere.npz")
    message = str(error.value)
    assert "not found" in message and DATA_ENV in message


def test_directory_is_reported(tmp_path):
    (tmp_path / "mnist.npz").mkdir()
    with pytest.raises(data.MnistDataError, match="is not a file"):
        data.load_mnist(tmp_path / "mnist.npz")


def test_truncated_file_is_reported(tmp_path, fake):
    path = write_npz(tmp_path / "mnist.npz", **fake)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(data.MnistDataError, match="truncated or corrupt"):
        data.load_mnist(path)


def test_text_file_is_reported(tmp_path):
    wrong = tmp_path / "mnist.npz"
    wrong.write_text("this is not an archive")
    with pytest.raises(data.MnistDataError, match="could not be read"):
        data.load_mnist(wrong)


def test_pickled_arrays_are_refused(tmp_path, fake):
    path = tmp_path / "mnist.npz"
    np.savez(path, **dict(fake, y_test=np.array([{"label": 7}] * 10000, dtype=object)))
    with pytest.raises(data.MnistDataError, match="could not be read"):
        data.load_mnist(path)


def test_missing_arrays_are_named(tmp_path):
    path = write_npz(tmp_path / "other.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(data.MnistDataError, match="lacks the arrays x_test, y_test, y_train"):
        data.load_mnist(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"x_train": np.ones((100, 28, 28), np.uint8)}, r"x_train has shape \(100, 28, 28\)"),
        ({"x_test": "float32"}, "x_test has dtype float32, expected uint8"),
        ({"y_train": "int64"}, "y_train has dtype int64, expected uint8"),
        ({"x_test": "zeros"}, "x_test is all zeros"),
        ({"y_train": "label 10"}, "y_train holds label 10, expected 0-9"),
        ({"y_test": "one label changed"}, "y_test class counts"),
        ({}, "x_train has the right shape and class counts but other values"),
    ],
    ids=["shape", "float_images", "int64_labels", "all_zero_images", "label_10",
         "class_counts", "not_mnist_values"],
)
def test_wrong_arrays_in_a_file_are_reported(tmp_path, fake, change, message):
    arrays = dict(fake)
    for key, how in change.items():
        if isinstance(how, np.ndarray):
            arrays[key] = how
        elif how in ("float32", "int64"):
            arrays[key] = arrays[key].astype(how)
        elif how == "zeros":
            arrays[key] = np.zeros_like(arrays[key])
        elif how == "label 10":
            arrays[key] = arrays[key].copy()
            arrays[key][123] = 10
        elif how == "one label changed":
            arrays[key] = arrays[key].copy()
            arrays[key][0] = (arrays[key][0] + 1) % 10
    path = write_npz(tmp_path / "mnist.npz", **arrays)
    with pytest.raises(data.MnistDataError, match=message) as error:
        data.load_mnist(path)
    assert str(path) in str(error.value) and DATA_ENV in str(error.value)


# Preparing the arrays --------------------------------------------------------------------------


def test_to_model_input_scales_and_adds_channel():
    images = np.array([[[0, 255] * 14] * 28], dtype=np.uint8)
    scaled = data.to_model_input(images)
    assert scaled.shape == (1, 28, 28, 1) and scaled.dtype == np.float32
    assert scaled.min() == 0.0 and scaled.max() == 1.0
    with pytest.raises(ValueError, match="expected images of shape"):
        data.to_model_input(np.zeros((2, 32, 32)))


def generated_mnist(arrays: dict[str, np.ndarray]) -> data.Mnist:
    return data.Mnist(**arrays, source="generated")


def test_splits_are_stratified_seeded_and_sized(fake):
    mnist = generated_mnist(fake)
    splits = data.make_splits(mnist, validation_size=5000, seed=1)
    assert splits.sizes() == {"train": 55000, "validation": 5000, "test": 10000}
    again = data.make_splits(mnist, validation_size=5000, seed=1)
    other = data.make_splits(mnist, validation_size=5000, seed=2)
    assert np.array_equal(splits.y_val, again.y_val)
    assert not np.array_equal(splits.y_val, other.y_val)
    share = np.bincount(splits.y_val, minlength=10) / 5000
    full = np.bincount(mnist.y_train, minlength=10) / 60000
    assert np.abs(share - full).max() < 0.001


def test_quick_subset_keeps_validation_and_test_whole(fake):
    splits = data.make_splits(generated_mnist(fake), train_size=6000)
    assert splits.sizes() == {"train": 6000, "validation": 5000, "test": 10000}
    assert np.bincount(splits.y_train, minlength=10).min() > 500
