"""The MNIST loader: where it looks, what it checks, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import data
from helpers.config import DATA_ENV
from tests.helpers_for_tests import real_mnist_path, write_npz


@pytest.fixture(scope="module")
def mnist() -> data.Mnist:
    return data.load_mnist(real_mnist_path())


def test_loads_real_file_from_argument(mnist):
    assert mnist.x_train.shape == (60000, 28, 28)
    assert mnist.y_test.shape == (10000,)
    assert mnist.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_environment_variable_is_used(monkeypatch):
    path = real_mnist_path()
    monkeypatch.setenv(DATA_ENV, str(path))
    assert data.load_mnist().source == str(path)


def test_checksums_match_published_values(mnist):
    sums = data.checksums(mnist)
    assert sums["y_test"] == "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5"
    assert sums["x_train"].startswith("741c988805d008ac")


def test_missing_file_says_how_to_supply(tmp_path):
    with pytest.raises(data.MnistDataError) as error:
        data.load_mnist(tmp_path / "nowhere.npz")
    message = str(error.value)
    assert "not found" in message and DATA_ENV in message


def test_truncated_file_is_reported(tmp_path):
    source = real_mnist_path()
    broken = tmp_path / "mnist.npz"
    broken.write_bytes(source.read_bytes()[:100_000])
    with pytest.raises(data.MnistDataError, match="truncated or corrupt"):
        data.load_mnist(broken)


def test_text_file_is_reported(tmp_path):
    wrong = tmp_path / "mnist.npz"
    wrong.write_text("this is not an archive")
    with pytest.raises(data.MnistDataError, match="could not be read"):
        data.load_mnist(wrong)


def test_missing_arrays_are_named(tmp_path):
    path = write_npz(tmp_path / "other.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(data.MnistDataError, match="lacks the arrays x_test, y_test, y_train"):
        data.load_mnist(path)


def test_wrong_shape_is_reported(tmp_path):
    path = write_npz(
        tmp_path / "small.npz",
        x_train=np.ones((100, 28, 28), np.uint8),
        y_train=np.zeros(100, np.uint8),
        x_test=np.ones((10, 28, 28), np.uint8),
        y_test=np.zeros(10, np.uint8),
    )
    with pytest.raises(data.MnistDataError, match=r"x_train has shape \(100, 28, 28\)"):
        data.load_mnist(path)


def test_wrong_dtype_and_counts_are_reported(mnist):
    arrays = {k: getattr(mnist, k) for k in data.EXPECTED_SHAPES}
    as_float = dict(arrays, x_test=arrays["x_test"].astype("float32"))
    with pytest.raises(data.MnistDataError, match="dtype float32"):
        data.validate_arrays(as_float)
    relabelled = arrays["y_train"].copy()
    relabelled[0] = (relabelled[0] + 1) % 10
    with pytest.raises(data.MnistDataError, match="class counts"):
        data.validate_arrays(dict(arrays, y_train=relabelled))


def test_failed_download_is_explained(monkeypatch):
    import keras

    def offline():
        raise OSError("network is unreachable")

    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(data.MnistDataError, match="network is unreachable") as error:
        data.load_mnist()
    assert DATA_ENV in str(error.value)


def test_to_model_input_scales_and_adds_channel():
    images = np.array([[[0, 255] * 14] * 28], dtype=np.uint8)
    scaled = data.to_model_input(images)
    assert scaled.shape == (1, 28, 28, 1) and scaled.dtype == np.float32
    assert scaled.min() == 0.0 and scaled.max() == 1.0
    with pytest.raises(ValueError, match="expected images of shape"):
        data.to_model_input(np.zeros((2, 32, 32)))


def test_splits_are_stratified_seeded_and_sized(mnist):
    splits = data.make_splits(mnist, validation_size=5000, seed=1)
    assert splits.sizes() == {"train": 55000, "validation": 5000, "test": 10000}
    again = data.make_splits(mnist, validation_size=5000, seed=1)
    other = data.make_splits(mnist, validation_size=5000, seed=2)
    assert np.array_equal(splits.y_val, again.y_val)
    assert not np.array_equal(splits.y_val, other.y_val)
    share = np.bincount(splits.y_val, minlength=10) / 5000
    full = np.bincount(mnist.y_train, minlength=10) / 60000
    assert np.abs(share - full).max() < 0.001


def test_quick_subset_keeps_validation_and_test_whole(mnist):
    splits = data.make_splits(mnist, train_size=6000)
    assert splits.sizes() == {"train": 6000, "validation": 5000, "test": 10000}
    assert np.bincount(splits.y_train, minlength=10).min() > 500
