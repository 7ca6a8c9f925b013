"""Exported models (notebook 11, helpers/export.py) and the committed ONNX export of the
deployed model."""

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
    # an eleventh output ("not a digit") is a class for agreement, not for reading digits
    eleven = np.zeros((2, 11))
    eleven[0, [3, 10]] = [0.4, 0.6]
    eleven[1, 5] = 1.0
    check = export.compare(eleven, eleven, labels=np.array([3, 4]))
    assert check.accuracy == pytest.approx(0.5) and check.agreement == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        export.compare(reference, other[:2])


def test_file_size_and_keras_archive_contents(tmp_path) -> None:
    """keras_archive lists the zip's members and every array of the weights file: a trained
    model's optimizer arrays are there, and the inference copy drops them."""
    import keras

    from helpers import artifacts

    assert export.file_size_kb(b"x" * 2500) == 2.5
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1), name="image")
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(use_ema=True), "sparse_categorical_crossentropy")
    model.fit(np.zeros((4, 28, 28, 1)), np.arange(4), epochs=1, verbose=0)
    model.save(tmp_path / "trained.keras")
    members, arrays = export.keras_archive(tmp_path / "trained.keras")
    assert {name for name, _ in members} == {"metadata.json", "config.json", "model.weights.h5"}
    layers = [row for row in arrays if row[0].startswith("layers/")]
    optimizer = [row for row in arrays if row[0].startswith("optimizer/")]
    assert sum(size for *_, size in layers) == 4 * model.count_params()
    # scalars (iteration count, learning rate), then per weight: the average (use_ema),
    # Adam's momentum and velocity, each of the weight's shape
    slots = [v.path.rsplit("/", 1)[-1] for v in model.optimizer.variables]
    assert len(optimizer) == len(slots) and slots[0] == "iteration"
    per_weight = [row for row in optimizer if row[1] != ()]
    assert len(per_weight) == 3 * len(model.weights)
    assert sum(size for *_, size in per_weight) == 3 * 4 * model.count_params()
    assert [row[0] for row in optimizer][:3] == [f"optimizer/vars/{i}" for i in range(3)]
    assert {slot.rsplit("_", 1)[-1] for slot in slots if "_" in slot and slot != "learning_rate"
            } == {"average", "momentum", "velocity"}
    copy = artifacts.save_for_inference(model, "copy_for_export_test")
    assert not [row for row in export.keras_archive(copy)[1] if row[0].startswith("optimizer")]


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
        blob = converter.convert()
    runner = export.TFLiteRunner(blob)
    assert runner.input["dtype"] == np.int8
    assert "float32" not in export.tflite_tensor_types(blob)
    expected = model.predict(images, verbose=0)
    probabilities = runner.predict(images, batch_size=16)  # batches of 16, 16 and 8
    assert probabilities.shape == (40, 10) and probabilities.dtype == np.float32
    assert np.abs(probabilities - expected).max() < 0.05
    assert np.allclose(runner(images[:1]), probabilities[:1])


def test_committed_onnx_model_matches_the_committed_keras_model() -> None:
    """The committed ONNX file (export.ONNX_MODEL) is the export of the predict command's
    model: after retraining, run notebook 11 in the course's run to refresh it."""
    import onnxruntime as ort

    from helpers import artifacts, data, predict

    name = export.ONNX_MODEL.name
    assert export.ONNX_MODEL.is_file(), f"models/{name} is missing: run notebook 11"
    images = data.to_model_input(data.load_mnist(real_mnist_path()).x_test[:COMMITTED_CHECK_IMAGES])
    keras_probabilities = artifacts.load_model(predict.default_model()).predict(images, verbose=0)
    session = ort.InferenceSession(export.ONNX_MODEL, providers=["CPUExecutionProvider"])
    assert [value.name for value in session.get_inputs()] == [export.INPUT_NAME]
    check = export.compare(keras_probabilities, session.run(None, {"image": images})[0])
    assert check.max_abs_difference < export.MAX_DIFFERENCE and check.agreement == 1.0, (
        f"models/{name} is not the export of {predict.default_model().name} ({check}): "
        "run notebook 11 in the course's run"
    )
