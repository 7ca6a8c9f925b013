"""Notebook 07 shows the best CNN's code; ``helpers.training`` repeats it for the benchmark.

These tests run notebook 07's own cells (tagged ``best-cnn-layers``, ``best-cnn-compile`` and
``best-cnn-fit``) and compare what they build, compile and train with
``helpers.models.build_cnn(5, 256)`` and ``helpers.training.compile_best_cnn`` /
``train_best_cnn``: an edit on either side that changes the model, the compile settings or
the training run fails here.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import keras
import numpy as np
import tensorflow as tf

from helpers import artifacts, augmentation, config, models, training
from tests.test_models_and_training import learnable_digits
from tests.test_notebook_models import run_cells

NB07 = "07_best_cnn_and_ensembles.ipynb"


class _Board:
    """Stands in for the notebook's scoreboard: no test-set reading in these tests."""

    def settings(self, *args, **kwargs):
        return {}

    def check(self, *args, **kwargs):
        return None

    def score(self, *args, **kwargs):
        return None


def namespace(**extra) -> dict:
    return {"keras": keras, "layers": keras.layers, "tf": tf, "np": np, "training": training,
            "config": config, "artifacts": artifacts, "augmentation": augmentation, **extra}


def without_names(config_dict: dict) -> dict:
    described = dict(config_dict)
    described.pop("name")
    return described


def compile_description(model: keras.Model) -> dict:
    described = model.get_compile_config()
    described["optimizer"]["config"].pop("name")
    return described


def test_notebook07_builds_the_helpers_best_cnn():
    cells = run_cells(NB07, "best-cnn-layers", namespace())
    notebook_model = cells["build_best_cnn"]()
    helper_model = models.build_cnn(kernel=5, hidden=256)
    assert without_names(notebook_model.get_config()) == without_names(helper_model.get_config())
    assert notebook_model.count_params() == 317_066


def test_notebook07_compiles_the_best_cnn_like_the_helpers():
    splits = SimpleNamespace(y_train=np.zeros(55_000))
    cells = run_cells(NB07, "best-cnn-compile", namespace(splits=splits))
    recipe = training.best_recipe()
    assert (cells["EPOCHS"], cells["BATCH_SIZE"], cells["PEAK_RATE"]) == (
        recipe.epochs, recipe.batch_size, recipe.peak_learning_rate)
    assert cells["AUGMENT"] is augmentation.random_affine
    steps = cells["EPOCHS"] * cells["STEPS"]
    ours = cells["compile_best_cnn"](models.build_cnn(5, 256))
    theirs = training.compile_best_cnn(models.build_cnn(5, 256), recipe, steps)
    assert compile_description(ours) == compile_description(theirs)


def test_notebook07_trains_the_best_cnn_like_train_best_cnn(tmp_path, monkeypatch):
    """The fit cell and the helper, from the same seed on the same small data, end with
    bit-identical weights."""
    monkeypatch.setenv("DIGITS_OUTPUT_DIR", str(tmp_path))
    x, y = learnable_digits(96)
    splits = SimpleNamespace(x_train=x[:64], y_train=y[:64], x_val=x[64:], y_val=y[64:])
    cells = namespace(splits=splits, board=_Board())
    for tag in ("best-cnn-layers", "best-cnn-compile"):
        cells = run_cells(NB07, tag, cells)
    cells.update(SEEDS=(5,), EPOCHS=1, BATCH_SIZE=32,
                 STEPS=training.steps_per_epoch(64, 32))
    cells = run_cells(NB07, "best-cnn-fit", cells)
    recipe = replace(training.best_recipe(), epochs=1, batch_size=32)
    helper_model = training.train_best_cnn(x[:64], y[:64], seed=5, recipe=recipe,
                                           validation=(x[64:], y[64:]))
    for ours, theirs in zip(cells["models"][5].get_weights(), helper_model.get_weights(),
                            strict=True):
        np.testing.assert_array_equal(ours, theirs)
