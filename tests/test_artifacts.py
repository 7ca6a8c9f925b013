"""helpers.artifacts: what load_model accepts and refuses, and when load_or_train retrains.

Every model here is small and built on the spot; no MNIST is needed.
"""

from __future__ import annotations

import os
import time
import warnings
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from helpers import artifacts, models
from helpers.config import QUICK_ENV


def small_model(inputs_shape=(28, 28, 1), classes=10, activation="softmax") -> keras.Model:
    inputs = keras.Input(inputs_shape)
    outputs = keras.layers.Dense(classes, activation=activation)(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, outputs)


def rewrite_archive(source: Path, target: Path, change) -> Path:
    """Copy the .keras archive ``source`` to ``target`` with ``change(name, bytes)`` applied to
    each member (return None to leave the member out)."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as copy:
        for name in original.namelist():
            content = change(name, original.read(name))
            if content is not None:
                copy.writestr(name, content)
    return target


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    models.build_original_cnn().save(folder / "original.keras")
    small_model(classes=5).save(folder / "five_classes.keras")
    return folder


def test_a_course_model_loads_with_its_weights(folder):
    loaded = artifacts.load_model(folder / "original.keras")
    assert loaded.count_params() == 34826
    reference = keras.models.load_model(folder / "original.keras")
    for a, b in zip(loaded.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("text file", "not a Keras 3 model file"),
        ("truncated", "not a Keras 3 model file"),
        ("other suffix", "not a Keras 3 model file"),
        ("zip of other files", "could not be loaded as a Keras model.*config.json"),
        ("config not JSON", "could not be loaded as a Keras model"),
        ("weights missing", "could not be loaded as a Keras model.*weights"),
        ("weights corrupt", "could not be loaded as a Keras model"),
        ("weights of another model", "could not be loaded as a Keras model"),
    ],
)
def test_corrupt_archives_are_refused_with_a_model_file_error(folder, tmp_path, damage, message):
    good = folder / "original.keras"
    path = tmp_path / "model.keras"
    if damage == "text file":
        path.write_text("hello")
    elif damage == "truncated":
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif damage == "other suffix":
        path = tmp_path / "model.h5"
        path.write_bytes(good.read_bytes())
    elif damage == "zip of other files":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "not a model")
    elif damage == "config not JSON":
        rewrite_archive(good, path, lambda name, data: b"{oops" if name == "config.json" else data)
    elif damage == "weights missing":
        rewrite_archive(good, path, lambda name, data: None if name.endswith(".h5") else data)
    elif damage == "weights corrupt":
        rewrite_archive(good, path, lambda name, data: (
            data[:200] + bytes(len(data) - 200) if name.endswith(".h5") else data))
    elif damage == "weights of another model":
        with zipfile.ZipFile(folder / "five_classes.keras") as other:
            weights = other.read("model.weights.h5")
        rewrite_archive(good, path, lambda name, data: weights if name.endswith(".h5") else data)
    with pytest.raises(artifacts.ModelFileError, match=message):
        artifacts.load_model(path)


def two_inputs() -> keras.Model:
    image, extra = keras.Input((28, 28, 1)), keras.Input((3,))
    joined = keras.layers.Concatenate()([keras.layers.Flatten()(image), extra])
    return keras.Model([image, extra], keras.layers.Dense(10, activation="softmax")(joined))


def two_outputs() -> keras.Model:
    image = keras.Input((28, 28, 1))
    flat = keras.layers.Flatten()(image)
    return keras.Model(image, [keras.layers.Dense(10, activation="softmax")(flat),
                               keras.layers.Dense(3)(flat)])


def with_lambda() -> keras.Model:
    image = keras.Input((28, 28, 1))
    flat = keras.layers.Lambda(lambda x: keras.ops.reshape(x, (-1, 784)))(image)
    return keras.Model(image, keras.layers.Dense(10, activation="softmax")(flat))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: small_model(classes=5), r"inputs \(28, 28, 1\) and outputs \(5,\)"),
        (lambda: small_model((32, 32, 3)), r"inputs \(32, 32, 3\) and outputs \(10,\)"),
        (two_inputs, "2 inputs and 1 outputs"),
        (two_outputs, "1 inputs and 2 outputs"),
        (lambda: small_model(activation=None), "not probabilities"),
        (lambda: keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(10)]),
         "could not be loaded"),  # never built: no inputs
        (with_lambda, "could not be loaded.*arbitrary code"),  # Keras' safe mode
    ],
    ids=["five_outputs", "colour_input", "two_inputs", "two_outputs", "logits",
         "never_built", "python_lambda"],
)
def test_models_for_other_tasks_are_refused(tmp_path, build, message):
    path = tmp_path / "other.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns when saving a model never built
        build().save(path)
    with pytest.raises(artifacts.ModelFileError, match=message):
        artifacts.load_model(path)


# load_or_train -----------------------------------------------------------------------------


@pytest.fixture
def outputs(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DIGITS_OUTPUT_DIR", str(tmp_path / "out"))
    code = tmp_path / "code"
    code.mkdir()
    (code / "module.py").write_text("x = 1\n")
    monkeypatch.setattr(artifacts, "CODE_DIR", code)
    return code / "module.py"


def counting_trainer(calls: list[int]):
    def train():
        calls.append(1)
        keras.utils.set_random_seed(len(calls))
        return small_model(), {"loss": [1.0 / len(calls)], "val_accuracy": [0.5]}

    return train


def test_load_or_train_trains_once_then_loads(outputs, capsys):
    calls: list[int] = []
    first, _ = artifacts.load_or_train("model", counting_trainer(calls))
    second, history = artifacts.load_or_train("model", counting_trainer(calls))
    assert calls == [1] and history == {"loss": [1.0], "val_accuracy": [0.5]}
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("No saved model for this mode: training it now")
    assert printed[1] == "Loaded model from …/models/model.keras"  # no machine's folders


def edit_code_after_saving(code_file: Path, name: str) -> None:
    """Make the saved model a minute older than the code file (as if the code was edited)."""
    earlier = time.time() - 60
    for saved in (artifacts.model_path(name), artifacts.history_path(name)):
        os.utime(saved, (earlier, earlier))
    code_file.write_text("x = 2\n")


def test_quick_mode_retrains_a_model_older_than_the_code(outputs, capsys):
    calls: list[int] = []
    artifacts.load_or_train("model", counting_trainer(calls))
    edit_code_after_saving(outputs, "model")
    _, history = artifacts.load_or_train("model", counting_trainer(calls))
    assert calls == [1, 1] and history["loss"] == [0.5]
    assert "older than the course's code" in capsys.readouterr().out
    assert artifacts.load_history("model")["loss"] == [0.5]  # the new one replaced it
    artifacts.load_or_train("model", counting_trainer(calls))
    assert len(calls) == 2  # now up to date: loaded


def test_full_mode_always_uses_the_saved_model(outputs, monkeypatch):
    calls: list[int] = []
    artifacts.load_or_train("model", counting_trainer(calls))
    edit_code_after_saving(outputs, "model")
    monkeypatch.delenv(QUICK_ENV)
    _, history = artifacts.load_or_train("model", counting_trainer(calls))
    assert calls == [1] and history["loss"] == [1.0]


def test_saved_for_inference_without_optimizer_and_with_a_single_input(outputs):
    """A model built from another's list of inputs (as notebook 09 builds the deployed model)
    is saved with one input, so that loading and calling it on images does not warn; the
    optimizer's slots are left out, the weights kept."""
    base = small_model()
    head = keras.layers.Dense(11, activation="softmax")
    model = keras.Model(base.inputs, head(base.layers[-2].output))
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(np.zeros((4, 28, 28, 1)), np.eye(11)[:4], verbose=0)
    path = artifacts.save_for_inference(model, "deployed_like")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        loaded = artifacts.load_model(path)
        loaded.predict(np.zeros((2, 28, 28, 1), np.float32), verbose=0)
    assert getattr(loaded, "optimizer", None) is None
    pairs = zip(model.get_weights(), loaded.get_weights(), strict=True)
    assert all((a == b).all() for a, b in pairs)
