"""Loading, checking and preparing MNIST (introduced in notebooks 00 and 01).

The loader looks for the data in this order:

1. the ``path`` argument of :func:`load_mnist`;
2. the environment variable ``DIGITS_MNIST_PATH``;
3. Keras' cache (``~/.keras/datasets/mnist.npz``, or ``$KERAS_HOME/datasets/mnist.npz``):
   read and checked here like any other file; only when it is absent is
   ``keras.datasets.mnist.load_data()`` asked to download it.

Whatever it loads is checked (keys, shapes, dtypes, value range, class counts and each
array's SHA-256) and anything wrong stops with a :class:`MnistDataError` that says how
to fix it. The loader never deletes or overwrites a file that is already there: Keras
itself would delete a cached copy whose bytes differ from its download (an MNIST copy
saved by another tool, with the same arrays) and, offline, leave nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from helpers.config import DATA_ENV, SEED, VALIDATION_SIZE

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
EXPECTED_SHAPES = {
    "x_train": (60000, 28, 28),
    "y_train": (60000,),
    "x_test": (10000, 28, 28),
    "y_test": (10000,),
}
TRAIN_CLASS_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_CLASS_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
ARRAY_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
"""SHA-256 of each MNIST array's raw bytes (``hashlib.sha256(array.tobytes())``).

Arrays, not the file: two .npz files with the same arrays differ in their zip metadata."""

HOW_TO_SUPPLY = (
    "Supply the MNIST file in the Keras layout (mnist.npz with x_train, y_train, x_test, y_test): "
    f"pass its path to load_mnist(path=...), or set the environment variable {DATA_ENV}, e.g.\n"
    f"    export {DATA_ENV}=/path/to/mnist.npz\n"
    "or place it at ~/.keras/datasets/mnist.npz (where keras.datasets.mnist.load_data() caches it)."
)


class MnistDataError(RuntimeError):
    """Raised when MNIST cannot be loaded or does not look like MNIST."""


@dataclass(frozen=True)
class Mnist:
    """The four MNIST arrays as stored: uint8 images (white digit on black) and uint8 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


@dataclass(frozen=True)
class Splits:
    """Model-ready arrays: float32 images in [0, 1] with a channel axis, integer labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def sizes(self) -> dict[str, int]:
        """Number of images in each split."""
        return {"train": len(self.x_train), "validation": len(self.x_val), "test": len(self.x_test)}


def _fail(problem: str) -> MnistDataError:
    return MnistDataError(f"{problem}\n{HOW_TO_SUPPLY}")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise _fail(f"MNIST file not found: {path}")
    if not path.is_file():
        raise _fail(f"MNIST path is not a file: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = sorted(set(EXPECTED_SHAPES) - set(archive.files))
            if missing:
                raise _fail(
                    f"{path} is not the MNIST file: it lacks the arrays {', '.join(missing)} "
                    f"(it has {', '.join(archive.files) or 'none'})."
                )
            return {key: archive[key] for key in EXPECTED_SHAPES}
    except MnistDataError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise _fail(
            f"{path} could not be read as an .npz archive; it may be truncated or corrupt "
            f"({type(error).__name__}: {error})."
        ) from error


def _writable(folder: Path) -> bool:
    """Whether ``folder`` can be written, or created (its nearest existing parent is writable)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return os.access(folder, os.W_OK)


def keras_cache_path() -> Path:
    """Where ``keras.datasets.mnist.load_data()`` keeps ``mnist.npz``.

    The same rule as Keras 3 (``keras.utils.get_file``): ``$KERAS_HOME``, else ``~/.keras``
    (``/tmp/.keras`` when that cannot be written), then ``datasets/mnist.npz``.
    """
    if "KERAS_HOME" in os.environ:
        home = Path(os.environ["KERAS_HOME"]).expanduser()
    else:
        user_home = Path("~").expanduser()
        home = (user_home if os.access(user_home, os.W_OK) else Path("/tmp")) / ".keras"
    if not _writable(home):
        home = Path("/tmp") / ".keras"
    return home / "datasets" / "mnist.npz"


def find_mnist(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The file :func:`load_mnist` reads for this ``path``, without reading it.

    ``path`` if given, else ``$DIGITS_MNIST_PATH`` if set (whether or not a file is
    there: the loader then reports it missing), else Keras' cache if a file is there;
    ``None`` when the loader would have to download MNIST.
    """
    if path is None and os.environ.get(DATA_ENV):
        path = os.environ[DATA_ENV]
    if path is not None:
        return Path(path).expanduser()
    cached = keras_cache_path()
    return cached if cached.exists() else None


def _download_with_keras() -> dict[str, np.ndarray]:
    """Ask Keras to download MNIST into its cache; only called when no cached file exists."""
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:  # any failure of the download
        raise _fail(
            f"No MNIST path was given, {DATA_ENV} is not set and Keras' cache "
            f"{keras_cache_path()} holds no file, and Keras could not download MNIST "
            f"({type(error).__name__}: {error})."
        ) from error
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def validate_arrays(arrays: dict[str, np.ndarray], source: str = "the data") -> None:
    """Check that ``arrays`` are MNIST: shapes, dtypes, pixel range, labels, class counts and
    each array's SHA-256 (:data:`ARRAY_SHA256`).

    Raises :class:`MnistDataError` naming the first problem found.
    """
    for key, shape in EXPECTED_SHAPES.items():
        array = arrays[key]
        if array.shape != shape:
            raise _fail(f"{source}: {key} has shape {array.shape}, expected {shape}.")
        if array.dtype != np.uint8:
            raise _fail(f"{source}: {key} has dtype {array.dtype}, expected uint8.")
    for key in ("x_train", "x_test"):
        if arrays[key].max() == 0:
            raise _fail(f"{source}: {key} is all zeros, not digit images.")
    for key, expected in (("y_train", TRAIN_CLASS_COUNTS), ("y_test", TEST_CLASS_COUNTS)):
        labels = arrays[key]
        if labels.max() >= NUM_CLASSES:
            raise _fail(f"{source}: {key} holds label {labels.max()}, expected 0-9.")
        counts = tuple(int(c) for c in np.bincount(labels, minlength=NUM_CLASSES))
        if counts != expected:
            raise _fail(f"{source}: {key} class counts {counts} differ from MNIST's {expected}.")
    for key, expected_digest in ARRAY_SHA256.items():
        if hashlib.sha256(arrays[key].tobytes()).hexdigest() != expected_digest:
            raise _fail(
                f"{source}: {key} has the right shape and class counts but other values than "
                "MNIST's (its SHA-256 differs from the published one)."
            )


def load_mnist(path: str | os.PathLike[str] | None = None) -> Mnist:
    """Load and check MNIST from ``path``, ``$DIGITS_MNIST_PATH`` or Keras' cache/download.

    A file in Keras' cache is read and checked here, never handed to Keras (which would
    delete it if its bytes differ from Keras' download); a wrong one is reported with its
    path and left where it is.
    """
    found = find_mnist(path)
    if found is None:
        arrays = _download_with_keras()
        source = str(keras_cache_path())
        validate_arrays(arrays, source)
        return Mnist(**arrays, source=source)
    source = str(found)
    try:
        arrays = _read_npz(found)
        validate_arrays(arrays, source)
    except MnistDataError as error:
        if path is not None or os.environ.get(DATA_ENV):
            raise
        raise MnistDataError(
            f"{error}\nThis file is Keras' cache; it was left untouched. Delete it to let "
            "Keras download a fresh copy, or replace it with a good one."
        ) from error.__cause__
    return Mnist(**arrays, source=source)


def checksums(mnist: Mnist) -> dict[str, str]:
    """SHA-256 of each array's raw bytes, comparable with the values in the data README."""
    return {
        key: hashlib.sha256(getattr(mnist, key).tobytes()).hexdigest() for key in EXPECTED_SHAPES
    }


def to_model_input(images: np.ndarray) -> np.ndarray:
    """Scale uint8 images (N, 28, 28) to float32 in [0, 1] with a channel axis: (N, 28, 28, 1)."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"expected images of shape (N, 28, 28), got {images.shape}")
    return (images.astype("float32") / 255.0)[..., np.newaxis]


def stratified_subset(
    x: np.ndarray, y: np.ndarray, size: int, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``size`` examples drawn without replacement, keeping the class proportions."""
    if size >= len(y):
        return x, y
    x_subset, _, y_subset, _ = train_test_split(
        x, y, train_size=size, stratify=y, random_state=seed
    )
    return x_subset, y_subset


def make_splits(
    mnist: Mnist,
    validation_size: int = VALIDATION_SIZE,
    train_size: int | None = None,
    seed: int = SEED,
) -> Splits:
    """Scale the images and hold out a stratified, seeded validation split from the training set.

    ``train_size`` (quick mode) keeps only that many training images after the split;
    the validation and test sets stay whole so that quick and full runs are judged alike.
    """
    x_train, x_val, y_train, y_val = train_test_split(
        mnist.x_train,
        mnist.y_train,
        test_size=validation_size,
        stratify=mnist.y_train,
        random_state=seed,
    )
    if train_size is not None:
        x_train, y_train = stratified_subset(x_train, y_train, train_size, seed)
    return Splits(
        x_train=to_model_input(x_train),
        y_train=y_train.astype("int64"),
        x_val=to_model_input(x_val),
        y_val=y_val.astype("int64"),
        x_test=to_model_input(mnist.x_test),
        y_test=mnist.y_test.astype("int64"),
    )
