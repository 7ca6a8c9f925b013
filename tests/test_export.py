"""Exported models (notebook 11, helpers/export.py) and the ONNX file the website runs."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import export
from tests.helpers_for_tests import real_mnist_path

COMMITTED_CHECK_IMAGES = 500
"""Test digits on which the committed ONNX file must reproduce the committed Keras model."""


def test_compare_reports_differences_agreement_and_accuracy() -> None:
    reference = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    other = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    check = export.compare(reference, other, labels=np.array([0, 1, 0]))
    assert check.max_abs_difference == pytest.approx(0.2)
    assert check.agreement == pytest.approx(2 / 3) and check.disagreements == 1
    assert check.accuracy == pytest.approx(2 / 3)
    assert export.compare(reference, reference).accuracy is None
    with pytest.raises(ValueError, match="shapes differ"):
        export.compare(reference, other[:2])


def test_timing_helpers() -> None:
    calls = []
    milliseconds = export.median_milliseconds(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7 and milliseconds >= 0
    with pytest.raises(ValueError):
        export.median_milliseconds(lambda: None, repeats=0)
    timing = export.latency(lambda images: images.sum(), np.zeros((1, 28, 28, 1)),
                            np.zeros((8, 28, 28, 1)), repeats_one=3, repeats_batch=3)
    assert set(timing) == {"one_image_ms", "batch_ms", "batch_images_per_s"}
    assert export.file_size_kb(b"x" * 2500) == 2.5


def test_tflite_runner_handles_batches_and_integer_models() -> None:
    """A small model converted with int8 input and output: the runner quantizes the images,
    dequantizes the probabilities, and resizes for each batch size."""
    import contextlib
    import io

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1), name="image")
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    images = np.random.default_rng(0).random((40, 28, 28, 1), dtype=np.float32)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([image[np.newaxis]] for image in images)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()):  # Keras names its temporary folder
        runner = export.TFLiteRunner(converter.convert())
    assert runner.input["dtype"] == np.int8
    expected = model.predict(images, verbose=0)
    probabilities = runner.predict(images, batch_size=16)  # batches of 16, 16 and 8
    assert probabilities.shape == (40, 10) and probabilities.dtype == np.float32
    assert np.abs(probabilities - expected).max() < 0.05
    assert np.allclose(runner(images[:1]), probabilities[:1])


def test_committed_onnx_model_matches_the_committed_keras_model() -> None:
    """models/best_cnn.onnx, which the website's demo runs, is the export of
    models/best_cnn.keras: after retraining, run notebook 11 in full mode to refresh it."""
    import onnxruntime as ort

    from helpers import artifacts, data, predict

    assert export.ONNX_MODEL.is_file(), "models/best_cnn.onnx is missing: run notebook 11"
    images = data.to_model_input(data.load_mnist(real_mnist_path()).x_test[:COMMITTED_CHECK_IMAGES])
    keras_probabilities = artifacts.load_model(predict.default_model()).predict(images, verbose=0)
    session = ort.InferenceSession(export.ONNX_MODEL, providers=["CPUExecutionProvider"])
    assert [value.name for value in session.get_inputs()] == [export.INPUT_NAME]
    check = export.compare(keras_probabilities, session.run(None, {"image": images})[0])
    assert check.max_abs_difference < 1e-4 and check.agreement == 1.0, (
        f"models/best_cnn.onnx is not the export of models/best_cnn.keras ({check}): "
        "run notebook 11 in full mode"
    )
