"""Model builders, training plumbing, saving/loading, and determinism."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from helpers import artifacts, models, training
from helpers.data import Splits
from tests.helpers_for_tests import fake_digits


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITS_OUTPUT_DIR", str(tmp_path))
    return tmp_path


def tiny_splits() -> Splits:
    x, y = fake_digits(64)
    return Splits(x[:48], y[:48], x[48:56], y[48:56], x[56:], y[56:])


def test_original_cnn_shapes_and_parameters():
    model = models.build_original_cnn()
    assert model.count_params() == 34826
    assert model.output_shape == (None, 10)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D",
                     "Flatten", "Dropout", "Dense"]
    probabilities = model.predict(np.zeros((3, 28, 28, 1), "float32"), verbose=0)
    assert probabilities.shape == (3, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_original_cnn_is_functional_not_sequential():
    assert not isinstance(models.build_original_cnn(), keras.Sequential)


def test_fit_with_checkpoint_saves_model_and_history(scratch):
    model = models.compile_original_cnn(models.build_original_cnn())
    history = training.fit_with_checkpoint(model, tiny_splits(), "tiny", epochs=2,
                                           batch_size=16, verbose=0)
    assert len(history["val_accuracy"]) == 2 and len(history["epoch_seconds"]) == 2
    assert artifacts.model_path("tiny").is_file()
    assert artifacts.load_history("tiny")["loss"] == pytest.approx(history["loss"])
    assert 1 <= training.best_epoch(history) <= 2


def test_best_epoch_picks_earliest_maximum():
    assert training.best_epoch({"val_accuracy": [0.5, 0.9, 0.9, 0.8]}) == 2


def test_load_or_train_trains_once_then_loads(scratch):
    calls = []

    def train():
        calls.append(1)
        model = models.build_original_cnn()
        return model, {"loss": [1.0], "val_accuracy": [0.5]}

    first, _ = artifacts.load_or_train("cached", train)
    second, history = artifacts.load_or_train("cached", train)
    assert len(calls) == 1 and history == {"loss": [1.0], "val_accuracy": [0.5]}
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_load_model_rejects_files_from_elsewhere(scratch):
    not_a_model = scratch / "notes.keras"
    not_a_model.write_text("hello")
    with pytest.raises(artifacts.ModelFileError, match="not a Keras 3 model file"):
        artifacts.load_model(not_a_model)
    with pytest.raises(artifacts.ModelFileError, match="not found"):
        artifacts.load_model(scratch / "missing.keras")
    inputs = keras.Input((32, 32, 3))
    other = keras.Model(inputs, keras.layers.Dense(5)(keras.layers.Flatten()(inputs)))
    other.save(scratch / "cifar.keras")
    with pytest.raises(artifacts.ModelFileError, match=r"inputs \(32, 32, 3\)"):
        artifacts.load_model(scratch / "cifar.keras")


def test_two_runs_in_separate_processes_give_identical_weights(tmp_path):
    script = textwrap.dedent(
        """
        import hashlib, json, os, sys
        os.environ["DIGITS_OUTPUT_DIR"] = sys.argv[1]
        from tests.test_models_and_training import tiny_splits
        from helpers import config, models, training
        config.set_seed()
        model = models.compile_original_cnn(models.build_original_cnn())
        history = training.fit_with_checkpoint(model, tiny_splits(), "det", 2, 16, verbose=0)
        digest = hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest()
        print(json.dumps({"digest": digest, "loss": history["loss"]}))
        """
    )
    outputs = []
    for run in range(2):
        result = subprocess.run([sys.executable, "-c", script, str(tmp_path / str(run))],
                                capture_output=True, text=True, check=True)
        outputs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1]
