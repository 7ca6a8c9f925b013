"""Running an exported model outside Keras and checking it (notebook 11).

Notebook 11 exports the deployed CNN (notebook 09, ``models/deployed_cnn.keras``) to ONNX
(``tf2onnx.convert.from_keras``) and to TensorFlow Lite (``tf.lite.TFLiteConverter``) in its
own cells: the export calls are the lesson. This module holds what the notebook repeats for
every format:

- :class:`TFLiteRunner` - the TFLite interpreter's calls (resize, allocate, set, invoke, get)
  behind one ``runner(images) -> probabilities`` call, integer inputs and outputs included;
- :func:`compare` - how far an export's probabilities are from Keras': largest absolute
  difference, agreement of the predicted classes, accuracy on digits;
- :func:`tflite_tensor_types` - the types of a TFLite model's tensors (is it integer-only?);
- :func:`file_size_kb` - the size of a file or of bytes in memory;
- :func:`keras_archive` - what a ``.keras`` file holds: its zip members and every array of
  its weights file, with sizes.

Timing lives in :mod:`helpers.latency` (one process per runtime, interleaved rounds). The
website's drawing demo does not run :data:`ONNX_MODEL`: the site's build exports the deployed
model with extra outputs itself (``python -m helpers.demo_model``, into ``scratch/demo/``).
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

INPUT_NAME = "image"
"""Name of the exported models' input: a float32 batch of shape (N, 28, 28, 1) in [0, 1]."""

ONNX_MODEL = Path(__file__).resolve().parent.parent / "models" / "deployed_cnn.onnx"
"""The ONNX export of the deployed model, ``models/deployed_cnn.keras`` (the predict
command's default model), that notebook 11 writes and ``tests/test_export.py`` checks."""

MAX_DIFFERENCE = 1e-4
"""Largest probability difference from Keras that a float32 export may show (notebook 11
asserts it on every test digit; float32 rounding gives about 1e-6)."""

QUANTIZED_AGREEMENT = 0.99
"""Least fraction of test digits on which a quantized model must give Keras' answer."""


def file_size_kb(source: str | Path | bytes) -> float:
    """Size in kilobytes (1,000 bytes) of a file, or of a model held in memory as bytes."""
    size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
    return size / 1000


@dataclass(frozen=True)
class Comparison:
    """How an exported model's probabilities compare with the reference (Keras) ones."""

    max_abs_difference: float
    """Largest absolute difference of any of the probabilities, over all images."""
    agreement: float
    """Fraction of images for which both give the same most probable class."""
    disagreements: int
    """Number of images for which the most probable classes differ."""
    accuracy: float | None
    """Fraction of images whose digit the exported model reads right (None without labels):
    the most probable of the first ten outputs, so "not a digit" (an eleventh output) is
    not counted against a model that has one."""


def compare(
    reference: np.ndarray, probabilities: np.ndarray, labels: np.ndarray | None = None
) -> Comparison:
    """Compare ``probabilities`` (N, K) with ``reference`` (N, K), e.g. ONNX against Keras.

    Both must hold the probabilities of the same images in the same order (K = 10 digits, or
    11 with "not a digit" last); ``labels`` (N,) adds the accuracy of ``probabilities``.
    """
    reference = np.asarray(reference, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if reference.shape != probabilities.shape:
        raise ValueError(f"shapes differ: {reference.shape} and {probabilities.shape}")
    same = reference.argmax(axis=1) == probabilities.argmax(axis=1)
    accuracy = None
    if labels is not None:
        digits = probabilities[:, :10].argmax(axis=1)
        accuracy = float((digits == np.asarray(labels)).mean())
    return Comparison(
        max_abs_difference=float(np.abs(reference - probabilities).max()),
        agreement=float(same.mean()),
        disagreements=int((~same).sum()),
        accuracy=accuracy,
    )


def tflite_interpreter(model: bytes | str | Path, num_threads: int | None = None):
    """A ``tf.lite.Interpreter`` for a model in memory (bytes) or in a ``.tflite`` file.

    TensorFlow 2.21 still ships the interpreter but warns that it moves to the
    ``ai_edge_litert`` package (LiteRT, same API); the warning is silenced here, since
    LiteRT has no wheels for Windows and the course runs there too.
    """
    import tensorflow as tf

    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
        return tf.lite.Interpreter(**source, num_threads=num_threads)


class TFLiteRunner:
    """Run a TFLite model on a batch of images: ``TFLiteRunner(model)(images) -> probabilities``.

    The interpreter works on fixed shapes: when the batch size changes, the input is
    resized and the tensors allocated again (a cost paid once per size, not per call).
    Models with integer inputs or outputs (full-integer quantization) get their inputs
    quantized and their outputs dequantized with the scale and zero point stored in them.
    """

    def __init__(self, model: bytes | str | Path, num_threads: int | None = None) -> None:
        self.interpreter = tflite_interpreter(model, num_threads=num_threads)
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.batch_size: int | None = None

    def _resize(self, batch_size: int) -> None:
        self.interpreter.resize_tensor_input(self.input["index"], [batch_size, 28, 28, 1])
        self.interpreter.allocate_tensors()
        self.batch_size = batch_size

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Probabilities (N, K) for float32 images (N, 28, 28, 1) in [0, 1]."""
        images = np.asarray(images, dtype=np.float32)
        if images.shape[0] != self.batch_size:
            self._resize(images.shape[0])
        input_type = self.input["dtype"]
        if np.issubdtype(input_type, np.integer):
            scale, zero_point = self.input["quantization"]
            images = np.round(images / scale + zero_point).astype(input_type)
        self.interpreter.set_tensor(self.input["index"], images)
        self.interpreter.invoke()
        output = self.interpreter.get_tensor(self.output["index"])
        if np.issubdtype(output.dtype, np.integer):
            scale, zero_point = self.output["quantization"]
            output = (output.astype(np.float32) - zero_point) * scale
        return np.array(output, dtype=np.float32)  # a copy: the interpreter reuses its buffer

    def predict(self, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Probabilities for any number of images, ``batch_size`` at a time."""
        parts = [self(images[start : start + batch_size])
                 for start in range(0, len(images), batch_size)]
        return np.concatenate(parts)


def tflite_tensor_types(model: bytes | str | Path) -> Counter:
    """How many tensors of each type (``"float32"``, ``"int8"``, ``"int32"``...) a TFLite
    model holds: an integer-only model has no float tensor at all."""
    details = tflite_interpreter(model).get_tensor_details()
    return Counter(np.dtype(detail["dtype"]).name for detail in details)


def keras_archive(path: str | Path) -> tuple[list[tuple[str, int]], list[tuple[str, tuple, int]]]:
    """What a ``.keras`` file holds: ``(members, arrays)``.

    ``members``: each file of the zip archive with its size in bytes (uncompressed).
    ``arrays``: each array of its ``model.weights.h5`` as (HDF5 path, shape, bytes), e.g.
    ``("layers/conv2d/vars/0", (5, 5, 1, 32), 3200)`` or ``("optimizer/vars/3", ...)``; the
    optimizer's arrays are numbered in the order of ``model.optimizer.variables``.
    """
    import h5py

    with zipfile.ZipFile(path) as archive:
        members = [(info.filename, info.file_size) for info in archive.infolist()]
        weights = archive.read("model.weights.h5")
    arrays: list[tuple[str, tuple, int]] = []
    with h5py.File(io.BytesIO(weights), "r") as h5:
        h5.visititems(lambda name, item: arrays.append((name, tuple(item.shape), item.nbytes))
                      if isinstance(item, h5py.Dataset) else None)
    arrays.sort(key=_h5_order)
    return members, arrays


def _h5_order(row: tuple[str, tuple, int]) -> tuple[str, int]:
    """Sort ``.../vars/10`` after ``.../vars/9``: by folder, then by the number at the end."""
    folder, _, last = row[0].rpartition("/")
    return folder, int(last) if last.isdigit() else -1
