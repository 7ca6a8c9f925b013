"""Notebook 06 shows the best CNN's code; ``helpers`` repeats it for the benchmark.

These tests run notebook 06's own cells (tagged ``wider-cnn-layers``, ``random-affine``,
``best-cnn-compile`` and ``best-cnn-fit``) and notebook 10's (``fast-cnn-layers``,
``fast-cnn-compile``), and compare what they build, compile and train with
``helpers.models.build_wider_cnn``, ``helpers.augmentation.random_affine``,
``helpers.training.compile_best_cnn`` / ``train_best_cnn`` and ``helpers.speed``: an edit on
either side that changes the model, the augmentation, the compile settings or the training
run fails here.
"""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace

import keras
import numpy as np
import tensorflow as tf

from helpers import artifacts, augmentation, config, models, speed, test_record, training
from tests.test_models_and_training import learnable_digits
from tests.test_notebook_models import run_cells

NB06 = "06_improving_the_model.ipynb"
NB08 = "10_how_fast.ipynb"


def notebook06_namespace(**extra) -> dict:
    return {"keras": keras, "layers": keras.layers, "tf": tf, "np": np, "training": training,
            "config": config, "artifacts": artifacts, "test_record": test_record,
            "PEAK_RATE": training.best_recipe().peak_learning_rate, **extra}


def compile_description(model: keras.Model) -> dict:
    described = model.get_compile_config()
    described["optimizer"]["config"].pop("name")
    return described


def test_notebook06_builds_the_helpers_wider_cnn():
    namespace = run_cells(NB06, "wider-cnn-layers", notebook06_namespace())
    notebook_model = namespace["build_wider_cnn"]()
    assert notebook_model.get_config() == models.build_wider_cnn().get_config()
    assert notebook_model.count_params() == 317_066


def test_notebook06_augmentation_is_the_helpers():
    namespace = run_cells(NB06, "random-affine", notebook06_namespace())
    x, _ = learnable_digits(16)
    tf.random.set_seed(7)
    ours = np.asarray(namespace["random_affine"](x))
    tf.random.set_seed(7)
    theirs = np.asarray(augmentation.random_affine(x))
    np.testing.assert_array_equal(ours, theirs)
    assert not np.allclose(ours, x)  # it did move the images


def test_notebook06_compiles_the_best_cnn_like_the_helpers():
    namespace = run_cells(NB06, "best-cnn-compile", notebook06_namespace())
    steps = 36 * 215
    ours = namespace["compile_smooth_ema"](models.build_wider_cnn(), total_steps=steps)
    theirs = training.compile_best_cnn(models.build_wider_cnn(), training.best_recipe(), steps)
    assert compile_description(ours) == compile_description(theirs)


def test_notebook06_trains_the_best_cnn_like_train_best_cnn(tmp_path, monkeypatch):
    """The fit cell and the helper, from the same seed on the same small data, end with
    bit-identical weights."""
    monkeypatch.setenv("DIGITS_OUTPUT_DIR", str(tmp_path))
    x, y = learnable_digits(96)
    recipe = replace(training.best_recipe(), epochs=1, batch_size=32)
    splits = SimpleNamespace(x_train=x[:64], y_train=y[:64], x_val=x[64:], y_val=y[64:])
    namespace = notebook06_namespace(
        splits=splits, BEST_SEED=5, BEST_EPOCHS=recipe.epochs, BATCH_SIZE=recipe.batch_size,
        steps_per_epoch=training.steps_per_epoch(64, recipe.batch_size),
        y_train_onehot=keras.utils.to_categorical(y[:64], 10),
        y_val_onehot=keras.utils.to_categorical(y[64:], 10),
        score=lambda *args, **kwargs: None)
    for tag in ("wider-cnn-layers", "random-affine", "best-cnn-compile", "best-cnn-fit"):
        run_cells(NB06, tag, namespace)
    helper_model = training.train_best_cnn(x[:64], y[:64], seed=5, recipe=recipe)
    for ours, theirs in zip(namespace["best"].get_weights(), helper_model.get_weights(),
                            strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert artifacts.model_path(training.BEST_CNN).is_file()


def test_notebook08_builds_and_compiles_the_fast_cnn_like_the_helpers():
    namespace = run_cells(NB08, "fast-cnn-layers", {"keras": keras, "layers": keras.layers})
    assert namespace["build_fast_cnn"]().get_config() == speed.build_fast_cnn().get_config()
    namespace = run_cells(NB08, "fast-cnn-compile", namespace | {"training": training})
    for recipe in speed.SPEED_RECIPES:
        ours = namespace["compile_fast"](speed.build_fast_cnn(), recipe, 60_000)
        theirs = speed.compile_fast_cnn(speed.build_fast_cnn(), recipe, 60_000)
        assert compile_description(ours) == compile_description(theirs)
        assert math.isclose(recipe.total_steps(60_000), recipe.epochs * 235, abs_tol=1)
