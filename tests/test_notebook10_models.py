"""Notebook 10 shows the fast CNN's code; ``helpers.speed`` repeats it for the benchmark,
the solutions and the worker processes of ``helpers.multiworker``.

These tests run notebook 10's own cells (tagged ``fast-cnn-layers``, ``fast-cnn-compile``
and ``fast-cnn-fit``) and compare what they build, compile and train with
``helpers.speed.build_fast_cnn`` / ``build_for``, ``compile_fast_cnn`` and
``fit_arguments``: an edit on either side that changes the model, the compile settings or
the training run fails here.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import replace
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from helpers import augmentation, config, speed, training
from tests.test_models_and_training import learnable_digits
from tests.test_notebook_models import run_cells

NB10 = "10_how_fast.ipynb"


def compile_description(model: keras.Model) -> dict:
    described = model.get_compile_config()
    described["optimizer"]["config"].pop("name")
    return described


def notebook10_namespace(**extra) -> dict:
    return {"keras": keras, "layers": keras.layers, "np": np, "math": math,
            "contextlib": contextlib, "training": training, "speed": speed,
            "augmentation": augmentation, **extra}


@pytest.mark.parametrize("dropout_rate, filters", [(0.0, (16, 32)), (0.3, (24, 32))])
def test_notebook10_builds_the_helpers_fast_cnn(dropout_rate, filters):
    namespace = run_cells(NB10, "fast-cnn-layers", notebook10_namespace())
    ours = namespace["build_fast_cnn"](dropout_rate, filters)
    theirs = speed.build_for(replace(speed.SPEED_RECIPES[0], dropout_rate=dropout_rate,
                                     filters=filters))
    assert ours.get_config() == theirs.get_config()
    if dropout_rate == 0 and filters == (16, 32):
        assert ours.count_params() == 147_146


def test_notebook10_compiles_every_recipe_like_the_helpers():
    namespace = run_cells(NB10, "fast-cnn-layers", notebook10_namespace())
    namespace = run_cells(NB10, "fast-cnn-compile", namespace)
    for recipe in speed.SPEED_RECIPES:
        ours = namespace["compile_fast"](speed.build_fast_cnn(), recipe, 60_000)
        theirs = speed.compile_fast_cnn(speed.build_fast_cnn(), recipe, 60_000)
        assert compile_description(ours) == compile_description(theirs)
    constant = namespace["compile_fast"](speed.build_fast_cnn(), speed.SPEED_RECIPES[0], 60_000,
                                         constant_rate=True)
    assert float(constant.optimizer.learning_rate) == pytest.approx(0.02)
    assert float(constant.optimizer.beta_1) == 0.8  # only the schedule changes


@pytest.mark.parametrize("target", [0.99, 0.995])
def test_notebook10_trains_like_the_helpers(target):
    """The notebook's train_fast and the benchmark's path (helpers.speed), from the same seed
    on the same small data, end with bit-identical weights."""
    x, y = learnable_digits(96)
    base = next(recipe for recipe in speed.SPEED_RECIPES if recipe.target == target)
    recipe = replace(base, epochs=min(base.epochs, 2), batch_size=32)
    namespace = notebook10_namespace(
        x_train=x, y_train=keras.utils.to_categorical(y, 10), x_val=x,
        splits=SimpleNamespace(x_train=x, y_train=y, x_val=x, y_val=y))
    for tag in ("fast-cnn-layers", "fast-cnn-compile", "fast-cnn-fit"):
        run_cells(NB10, tag, namespace)
    seconds, ours = namespace["train_fast"](recipe, 5)
    assert seconds > 0
    config.set_seed(5)
    theirs = speed.compile_fast_cnn(speed.build_for(recipe), recipe, len(y))
    theirs.fit(**speed.fit_arguments(recipe, x, y, 5), verbose=0)
    for our_weights, their_weights in zip(ours.get_weights(), theirs.get_weights(),
                                          strict=True):
        np.testing.assert_array_equal(our_weights, their_weights)
    assert 0.0 <= namespace["validation_accuracy"](ours) <= 1.0


def test_notebook10_counts_steps_like_the_recipes():
    """The counts the notebook prints: 215 batches of 256 on 55,000 images, 258 steps for
    1.2 epochs; 235 and 282 on 60,000."""
    recipe = speed.SPEED_RECIPES[0]
    assert training.steps_per_epoch(55_000, 256) == 215
    assert recipe.total_steps(55_000) == 258
    assert training.steps_per_epoch(60_000, 256) == 235
    assert recipe.total_steps(60_000) == 282
