"""Notebook 06 shows the ladder's code in its cells; ``helpers`` repeats it for notebook 07,
the solutions and the benchmark.

These tests run notebook 06's own cells (tagged ``make-dataset``, ``dense-network``,
``build-cnn``, ``bn-cnn``, ``warmup-cosine``, ``random-affine``, ``three-resamplings`` and
``train-rung``) and compare what they build with the helpers, so an edit on either side
that changes a network, the pipeline, the schedule or the augmentation fails here.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import augmentation, models, scoreboard, training
from tests.test_models_and_training import learnable_digits
from tests.test_notebook_models import run_cells

NB06 = "06_improving_the_model.ipynb"


def namespace(**extra) -> dict:
    return {"keras": keras, "layers": keras.layers, "tf": tf, "np": np, "math": math, **extra}


def configs_match(ours: keras.Model, theirs: keras.Model) -> None:
    a, b = ours.get_config(), theirs.get_config()
    a.pop("name"), b.pop("name")
    assert a == b
    assert ours.count_params() == theirs.count_params()


def test_dense_network_cell_is_the_helper():
    cells = run_cells(NB06, "dense-network", namespace())
    configs_match(cells["build_dense_network"](), models.build_dense_network())
    assert cells["build_dense_network"]().count_params() == 269_322


def test_cnn_cells_are_the_helpers():
    cells = run_cells(NB06, "build-cnn", namespace())
    cells = run_cells(NB06, "bn-cnn", cells)
    original = cells["build_cnn"]()
    configs_match(original, models.build_cnn())
    assert original.count_params() == models.build_original_cnn().count_params() == 34_826
    assert [layer.name for layer in original.layers] == \
        [layer.name for layer in models.build_original_cnn().layers]
    configs_match(cells["build_cnn"](kernel=5, hidden=256), models.build_cnn(5, 256))
    assert models.build_cnn(5, 256).count_params() == 317_066
    configs_match(cells["build_bn_cnn"](0.9), models.build_cnn(5, 256, batch_norm_momentum=0.9))


def test_schedule_cell_is_the_helper():
    cells = run_cells(NB06, "warmup-cosine", namespace())
    ours, theirs = cells["warmup_cosine"](3e-3, 645), training.warmup_cosine(3e-3, 645)
    for step in (0, 50, 96, 97, 300, 644):
        assert float(ours(step)) == pytest.approx(float(theirs(step)), rel=1e-7)


def test_augmentation_cells_give_the_helpers_images():
    cells = run_cells(NB06, "random-affine", namespace())
    cells = run_cells(NB06, "three-resamplings", cells)
    x, _ = learnable_digits(16)
    for name in ("random_affine", "three_resamplings"):
        keras.utils.set_random_seed(7)
        ours = np.asarray(cells[name](x))
        keras.utils.set_random_seed(7)
        theirs = np.asarray(getattr(augmentation, name)(x))
        np.testing.assert_array_equal(ours, theirs)
        assert not np.allclose(ours, x, atol=0.05)  # it did move the images


def test_pipeline_cell_gives_the_helpers_batches():
    cells = run_cells(NB06, "make-dataset", namespace())
    x, y = learnable_digits(40)
    labels = keras.utils.to_categorical(y, 10)
    ours = cells["make_dataset"](x, labels, 16, seed=3)
    theirs = training.make_dataset(x, labels, 16, seed=3)
    for (a, b), (c, d) in zip(ours.take(4), theirs.take(4), strict=True):  # past one pass
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())


def test_train_rung_trains_scores_and_keeps_the_averaged_and_raw_weights(tmp_path, monkeypatch):
    """The rung function trains from every seed; with a moving average it scores both the
    averaged and the raw weights of the same run, and the raw weights are those of a run
    without the average (the average does not change training)."""
    monkeypatch.setenv("DIGITS_OUTPUT_DIR", str(tmp_path))
    x, y = learnable_digits(120)
    splits = SimpleNamespace(x_train=x[:64], y_train=y[:64], x_val=x[64:96], y_val=y[64:96],
                             x_test=x[96:], y_test=y[96:])
    board = scoreboard.Scoreboard("test", splits)
    cells = namespace(board=board, splits=splits, SEEDS=(1, 2), EPOCHS=2, BATCH_SIZE=16,
                      STEPS=4, training=training,
                      y_train=keras.utils.to_categorical(y[:64], 10),
                      y_val=keras.utils.to_categorical(y[64:96], 10))
    cells = run_cells(NB06, "make-dataset", cells)
    cells = run_cells(NB06, "build-cnn", cells)
    cells = run_cells(NB06, "train-rung", cells)

    def compile_with(use_ema):
        def compile_model(model):
            model.compile(optimizer=keras.optimizers.Adam(3e-3, use_ema=use_ema,
                                                          ema_momentum=0.5),
                          loss="categorical_crossentropy", metrics=["accuracy"])
            return model
        return compile_model

    plain = cells["train_rung"]("plain", "-", cells["build_cnn"], compile_with(False))
    averaged = cells["train_rung"]("raw", "-", cells["build_cnn"], compile_with(True),
                                   averaged="averaged")
    assert [run.rung for run in board.runs] == ["plain", "plain", "raw", "averaged",
                                                "raw", "averaged"]
    for a, b in zip(plain, averaged, strict=True):  # same seeds: same raw weights
        for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
            np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    # and the averaged weights were really different ones
    assert board.of("averaged")[0].val_probabilities.tolist() != \
        board.of("raw")[0].val_probabilities.tolist()


def test_compile_cells_change_one_thing_each():
    """Rung 5 compiles Adam on the schedule with plain cross-entropy; rung 8 only adds the
    weight average (kept for rung 9); rung 10 only adds label smoothing 0.1."""
    stubs = namespace(train_rung=lambda *args, **kwargs: None, build_cnn=None,
                      build_wider_cnn=None, random_affine=None, EPOCHS=3, STEPS=215,
                      PEAK_RATE=3e-3, warmup_cosine=training.warmup_cosine)
    cells = run_cells(NB06, "compile-schedule", stubs)
    cells = run_cells(NB06, "weight-averaging", cells)
    cells = run_cells(NB06, "label-smoothing", cells)
    plain = cells["compile_schedule"](models.build_cnn(5, 256))
    averaged = cells["compile_with_average"](models.build_cnn(5, 256))
    smoothed = cells["compile_smoothing"](models.build_cnn(5, 256))
    assert plain.loss.get_config()["label_smoothing"] == 0.0 and not plain.optimizer.use_ema
    assert averaged.loss.get_config()["label_smoothing"] == 0.0 and averaged.optimizer.use_ema
    assert smoothed.loss.get_config()["label_smoothing"] == pytest.approx(0.1)
    assert not smoothed.optimizer.use_ema
    assert float(plain.optimizer.learning_rate) == pytest.approx(3e-3 / 25)  # warm-up start
