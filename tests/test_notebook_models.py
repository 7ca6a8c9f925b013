"""The notebooks show the original CNN's code; ``helpers`` rebuilds it for later notebooks.

Notebook 02 builds the network layer by layer and compiles it, notebook 03 compiles and
fits it in view. ``helpers.models.build_original_cnn``, ``compile_original_cnn`` and
``helpers.training.train_original_cnn`` / ``fit_with_checkpoint`` repeat that code for
notebooks 04-07 and the benchmark. These tests run the notebooks' own cells (those tagged
``original-cnn-layers``, ``original-cnn-compile`` and ``original-cnn-fit`` in the cell
metadata) and compare what they build with what the helpers build, so an edit on either
side that changes the model, its compile settings or its fit call fails here.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from types import SimpleNamespace

import keras
import nbformat
import numpy as np
import pytest

from helpers import artifacts, config, models, training

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def tagged_sources(notebook: str, tag: str) -> list[str]:
    """Sources of the code cells of ``notebook`` tagged ``tag``, in notebook order."""
    nb = nbformat.read(NOTEBOOKS / notebook, as_version=4)
    sources = [
        cell.source
        for cell in nb.cells
        if cell.cell_type == "code" and tag in cell.metadata.get("tags", [])
    ]
    assert sources, f"no code cell tagged {tag!r} in {notebook}: was the tag removed?"
    return sources


def run_cells(notebook: str, tag: str, namespace: dict) -> dict:
    """Execute the tagged cells in ``namespace`` (their printed output is discarded)."""
    for index, source in enumerate(tagged_sources(notebook, tag)):
        code = compile(source, f"{notebook}[{tag} #{index}]", "exec")
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, namespace)  # noqa: S102 - the course's own notebook cells
    return namespace


def build_notebook_02_model() -> keras.Model:
    """The model that notebook 02's layer cells build."""
    namespace = run_cells("02_model.ipynb", "original-cnn-layers",
                          {"keras": keras, "layers": keras.layers})
    return namespace["model"]


def test_notebook_02_builds_the_helpers_model():
    notebook_model = build_notebook_02_model()
    helper_model = models.build_original_cnn()
    assert notebook_model.count_params() == helper_model.count_params() == 34_826
    assert [type(layer).__name__ for layer in notebook_model.layers] == [
        type(layer).__name__ for layer in helper_model.layers
    ]
    for ours, theirs in zip(notebook_model.layers, helper_model.layers, strict=True):
        assert ours.get_config() == theirs.get_config(), ours.name
    assert notebook_model.get_config() == helper_model.get_config()


def compile_config(model: keras.Model) -> dict:
    """``model.get_compile_config()`` without the optimizer's automatic name (sgd, sgd_1...)."""
    described = model.get_compile_config()
    described["optimizer"]["config"].pop("name")
    return described


def helper_compile_config() -> dict:
    recipe = training.original_recipe()
    compiled = models.compile_original_cnn(
        models.build_original_cnn(), recipe.learning_rate, recipe.momentum
    )
    return compile_config(compiled)


def test_notebook_02_compiles_like_the_helpers():
    namespace = {"keras": keras, "model": models.build_original_cnn()}
    run_cells("02_model.ipynb", "original-cnn-compile", namespace)
    assert compile_config(namespace["model"]) == helper_compile_config()


def test_notebook_03_builds_and_compiles_like_train_original_cnn():
    namespace = {"keras": keras, "models": models, "config": config,
                 "recipe": training.original_recipe()}
    run_cells("03_training.ipynb", "original-cnn-compile", namespace)
    model = namespace["model"]
    assert model.get_config() == models.build_original_cnn().get_config()
    assert compile_config(model) == helper_compile_config()


class _FitCalled(Exception):
    """Raised by the recording model to stop right after ``fit`` was called."""


class _RecordingModel:
    """Stands in for a Keras model: records the arguments of ``fit`` and stops."""

    def __init__(self) -> None:
        self.call: tuple[tuple, dict] | None = None

    def fit(self, *args, **kwargs):
        self.call = (args, kwargs)
        raise _FitCalled


def _describe_fit(call: tuple[tuple, dict]) -> dict:
    """A comparable description of a recorded ``fit`` call (arrays compared by identity)."""
    args, kwargs = call
    callbacks = kwargs.pop("callbacks")
    described = {
        "args": [id(arg) for arg in args],
        "validation_data": [id(part) for part in kwargs.pop("validation_data")],
        "callbacks": [type(callback).__name__ for callback in callbacks],
        **kwargs,
    }
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.ModelCheckpoint):
            described["checkpoint"] = {
                key: str(value) for key, value in vars(callback).items() if key != "_model"
            }
    return described


def test_notebook_03_fits_like_fit_with_checkpoint():
    arrays = {name: np.zeros(1) for name in ("x_train", "y_train", "x_val", "y_val")}
    splits = SimpleNamespace(**arrays)
    recipe = training.original_recipe()

    notebook_model = _RecordingModel()
    namespace = {"keras": keras, "artifacts": artifacts, "training": training,
                 "splits": splits, "recipe": recipe, "model": notebook_model}
    with pytest.raises(_FitCalled):
        run_cells("03_training.ipynb", "original-cnn-fit", namespace)

    helper_model = _RecordingModel()
    with pytest.raises(_FitCalled):
        training.fit_with_checkpoint(helper_model, splits, training.ORIGINAL_CNN,
                                     epochs=recipe.epochs, batch_size=recipe.batch_size)

    notebook_fit = _describe_fit(notebook_model.call)
    assert notebook_fit == _describe_fit(helper_model.call)
    assert notebook_fit["checkpoint"]["monitor"] == "val_accuracy"
    assert notebook_fit["checkpoint"]["save_best_only"] == "True"
