"""Notebook 10 shows the fast CNN's code; ``helpers.speed`` repeats it for the benchmark,
the solutions and the worker processes of ``helpers.multiworker``.

These tests run notebook 10's own cells (tagged ``fast-cnn-layers``, ``fast-cnn-compile``,
``fast-cnn-fit`` and ``ablation-settings``) and compare what they build, compile and train
with ``helpers.speed.build_for``, ``compile_fast_cnn`` and ``fit_arguments``, in float32 and
in ``mixed_bfloat16``: an edit on either side that changes the model, its precision, the
compile settings (``steps_per_execution`` included), the pipeline or the training run fails
here.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, replace
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from helpers import augmentation, config, speed, training
from tests.test_models_and_training import learnable_digits
from tests.test_notebook_models import run_cells

NB10 = "10_how_fast.ipynb"
PRECISIONS = ["float32", "mixed_bfloat16"]


def compile_description(model: keras.Model) -> dict:
    """The compile config without the optimizer's automatic name (adam, adam_1, ...)."""
    described = model.get_compile_config()
    described["optimizer"]["config"].pop("name")
    return described


def notebook10_namespace(**extra) -> dict:
    """What the notebook's cells find defined when they run (its imports)."""
    return {"keras": keras, "layers": keras.layers, "np": np, "contextlib": contextlib,
            "replace": replace, "config": config, "training": training, "speed": speed,
            "augmentation": augmentation, **extra}


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("dropout_rate, filters", [(0.0, (16, 32)), (0.2, (24, 32))])
def test_notebook10_builds_the_helpers_fast_cnn(precision, dropout_rate, filters):
    namespace = run_cells(NB10, "fast-cnn-layers", notebook10_namespace())
    before = keras.mixed_precision.global_policy().name
    with speed.precision_policy(precision):
        ours = namespace["build_fast_cnn"](dropout_rate, filters)
    assert keras.mixed_precision.global_policy().name == before
    recipe = replace(speed.SPEED_RECIPES[0], dropout_rate=dropout_rate, filters=filters)
    theirs = speed.build_for(recipe, precision)
    assert ours.get_config() == theirs.get_config()
    assert ours.get_layer("conv1").compute_dtype == (
        "bfloat16" if precision == "mixed_bfloat16" else "float32")
    assert ours.get_layer("conv1").variable_dtype == "float32"
    assert ours.get_layer("probabilities").compute_dtype == "float32"  # the softmax
    if dropout_rate == 0 and filters == (16, 32):
        assert ours.count_params() == 147_146


def test_notebook10_compiles_every_recipe_like_the_helpers():
    namespace = run_cells(NB10, "fast-cnn-layers", notebook10_namespace())
    namespace = run_cells(NB10, "fast-cnn-compile", namespace)
    for recipe in (*speed.SPEED_RECIPES, speed.one_epoch_recipe()):
        ours = namespace["compile_fast"](speed.build_fast_cnn(), recipe, 60_000)
        theirs = speed.compile_fast_cnn(speed.build_fast_cnn(), recipe, 60_000)
        assert compile_description(ours) == compile_description(theirs)
        assert ours.steps_per_execution == theirs.steps_per_execution == (
            recipe.steps_per_execution)
    assert speed.SPEED_RECIPES[0].steps_per_execution == 8
    constant = namespace["compile_fast"](speed.build_fast_cnn(), speed.SPEED_RECIPES[0], 60_000,
                                         constant_rate=True)
    assert float(constant.optimizer.learning_rate) == pytest.approx(0.02)
    assert float(constant.optimizer.beta_1) == 0.8  # only the schedule changes


def notebook10_training(x: np.ndarray, y: np.ndarray) -> dict:
    """The notebook's build, compile and fit cells, run on the small data ``x, y``."""
    namespace = notebook10_namespace(
        x_train=x, y_train=keras.utils.to_categorical(y, 10), x_val=x,
        splits=SimpleNamespace(x_train=x, y_train=y, x_val=x, y_val=y))
    for tag in ("fast-cnn-layers", "fast-cnn-compile", "fast-cnn-fit"):
        run_cells(NB10, tag, namespace)
    return namespace


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("target", [0.99, 0.995])
def test_notebook10_trains_like_the_helpers(monkeypatch, precision, target):
    """The notebook's train_fast (the index pipeline, the recipe's precision and steps per
    call) and the benchmark's path (helpers.speed), from the same seed on the same small
    data, end with bit-identical weights."""
    monkeypatch.setenv(speed.PRECISION_ENV, precision)
    x, y = learnable_digits(96)
    base = next(recipe for recipe in speed.SPEED_RECIPES if recipe.target == target)
    recipe = replace(base, epochs=min(base.epochs, 2), batch_size=32)
    namespace = notebook10_training(x, y)
    seconds, ours = namespace["train_fast"](recipe, 5)
    assert seconds > 0
    assert ours.get_layer("conv1").compute_dtype == keras.mixed_precision.Policy(
        precision).compute_dtype
    config.set_seed(5)
    theirs = speed.compile_fast_cnn(speed.build_for(recipe), recipe, len(y))
    arguments = speed.fit_arguments(recipe, x, y, 5)
    history = theirs.fit(**arguments, verbose=0)
    assert len(history.history["loss"]) == recipe.keras_epochs()
    for our_weights, their_weights in zip(ours.get_weights(), theirs.get_weights(),
                                          strict=True):
        np.testing.assert_array_equal(our_weights, their_weights)
    assert 0.0 <= namespace["validation_accuracy"](ours) <= 1.0


@pytest.mark.parametrize("pipeline", ["buffer", "arrays"])
def test_notebook10_other_pipelines_train(monkeypatch, pipeline):
    """The ablation's shuffle-buffer and NumPy-array rows train the same model, and the
    shuffle buffer is ``training.make_dataset``: same seed, same weights."""
    monkeypatch.setenv(speed.PRECISION_ENV, "float32")
    x, y = learnable_digits(96)
    recipe = replace(speed.SPEED_RECIPES[0], batch_size=32)
    namespace = notebook10_training(x, y)
    seconds, ours = namespace["train_fast"](recipe, 7, pipeline=pipeline)
    assert seconds > 0
    if pipeline == "buffer":
        config.set_seed(7)
        theirs = speed.compile_fast_cnn(speed.build_for(recipe), recipe, len(y))
        theirs.fit(training.make_dataset(x, keras.utils.to_categorical(y, 10), 32, 7),
                   epochs=1, steps_per_epoch=recipe.steps_per_keras_epoch(len(y)), shuffle=False,
                   verbose=0)
        for our_weights, their_weights in zip(ours.get_weights(), theirs.get_weights(),
                                              strict=True):
            np.testing.assert_array_equal(our_weights, their_weights)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_notebook10_ablation_rows_change_one_setting(precision):
    """Every row of the ablation changes exactly one setting of the recipe (a field of the
    recipe or one argument of train_fast); the float32 row exists only where the recipe
    trains in bfloat16."""
    recipe = speed.SPEED_RECIPES[0]
    namespace = run_cells(NB10, "ablation-settings",
                          notebook10_namespace(recipe=recipe, PRECISION=precision))
    settings = namespace["SETTINGS"]
    assert settings["the recipe"] == {}
    assert ("float32 instead of bfloat16" in settings) == (precision == "mixed_bfloat16")
    assert len(settings) >= 10
    for name, changes in settings.items():
        if name == "the recipe":
            continue
        changed_recipe = changes.get("recipe", recipe)
        fields = {key for key, value in asdict(changed_recipe).items()
                  if value != asdict(recipe)[key]}
        arguments = set(changes) - {"recipe"}
        assert len(fields) + len(arguments) == 1, (name, fields, arguments)


def test_notebook10_counts_steps_like_the_recipes():
    """The counts the notebook prints: 215 batches of 256 on 55,000 images, rounded up to
    216 steps (27 calls of 8) for one epoch and 264 for 1.2; 235, 240 and 288 on 60,000."""
    recipe = speed.SPEED_RECIPES[0]
    assert (recipe.epochs, recipe.steps_per_execution) == (1.0, 8)
    assert training.steps_per_epoch(55_000, 256) == 215
    assert recipe.total_steps(55_000) == 216
    assert replace(recipe, epochs=1.2).total_steps(55_000) == 264
    assert training.steps_per_epoch(60_000, 256) == 235
    assert recipe.total_steps(60_000) == 240
    assert replace(recipe, epochs=1.2).total_steps(60_000) == 288
