"""Running an exported model outside Keras, checking it and timing it (notebook 11).

Notebook 11 exports the course's best CNN to ONNX (``tf2onnx.convert.from_keras``) and to
TensorFlow Lite (``tf.lite.TFLiteConverter``) in its own cells: the export calls are the
lesson. This module holds what the notebook repeats for every format:

- :class:`TFLiteRunner` - the TFLite interpreter's calls (resize, allocate, set, invoke, get)
  behind one ``runner(images) -> probabilities`` call;
- :func:`compare` - how far an export's probabilities are from Keras': largest absolute
  difference, agreement of the predicted digits, accuracy;
- :func:`median_milliseconds` and :func:`latency` - the time of one call, after warm-up runs,
  as the median of many (robust to the odd slow run on a busy machine);
- :func:`file_size_kb` - the size of a file or of bytes in memory.

The website's drawing demo (``site/demo.md``) runs the ONNX file that notebook 11 writes,
``models/best_cnn.onnx``, with onnxruntime-web.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

INPUT_NAME = "image"
"""Name of the exported models' input: a float32 batch of shape (N, 28, 28, 1) in [0, 1]."""

ONNX_MODEL = Path(__file__).resolve().parent.parent / "models" / "best_cnn.onnx"
"""The ONNX export of ``models/best_cnn.keras`` that the website's demo runs (notebook 11)."""


def file_size_kb(source: str | Path | bytes) -> float:
    """Size in kilobytes (1,000 bytes) of a file, or of a model held in memory as bytes."""
    size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
    return size / 1000


@dataclass(frozen=True)
class Comparison:
    """How an exported model's probabilities compare with the reference (Keras) ones."""

    max_abs_difference: float
    """Largest absolute difference of any of the ten probabilities, over all images."""
    agreement: float
    """Fraction of images for which both predict the same digit."""
    disagreements: int
    """Number of images for which the predicted digits differ."""
    accuracy: float | None
    """Fraction of images the exported model classifies right (None without labels)."""


def compare(
    reference: np.ndarray, probabilities: np.ndarray, labels: np.ndarray | None = None
) -> Comparison:
    """Compare ``probabilities`` (N, 10) with ``reference`` (N, 10), e.g. ONNX against Keras.

    Both must hold the probabilities of the same images in the same order; ``labels``
    (N,) adds the accuracy of ``probabilities``.
    """
    reference = np.asarray(reference, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if reference.shape != probabilities.shape:
        raise ValueError(f"shapes differ: {reference.shape} and {probabilities.shape}")
    same = reference.argmax(axis=1) == probabilities.argmax(axis=1)
    accuracy = None
    if labels is not None:
        accuracy = float((probabilities.argmax(axis=1) == np.asarray(labels)).mean())
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
        """Probabilities (N, 10) for float32 images (N, 28, 28, 1) in [0, 1]."""
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


def median_milliseconds(function: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    """Median wall-clock time of ``function()`` in milliseconds over ``repeats`` calls.

    ``warmup`` calls run first and are not counted: the first calls of a runtime pay for
    tracing, memory allocation and caches. The median ignores the odd slow call that
    another process on the machine causes.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def latency(
    predict: Callable[[np.ndarray], object],
    one_image: np.ndarray,
    batch: np.ndarray,
    repeats_one: int = 200,
    repeats_batch: int = 10,
) -> dict[str, float]:
    """Median milliseconds of ``predict`` on one image (1, 28, 28, 1) and on a whole batch.

    Returns ``{"one_image_ms": ..., "batch_ms": ..., "batch_images_per_s": ...}``.
    """
    one_ms = median_milliseconds(lambda: predict(one_image), repeats_one)
    batch_ms = median_milliseconds(lambda: predict(batch), repeats_batch)
    return {
        "one_image_ms": one_ms,
        "batch_ms": batch_ms,
        "batch_images_per_s": len(batch) / (batch_ms / 1000),
    }
