"""Model builders, training plumbing, saving/loading, and determinism."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from helpers import artifacts, augmentation, models, training
from helpers.config import REPO_ROOT
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


def test_original_cnn_dropout_drops_half_the_features_in_training_only():
    """Dropout has no parameters, so the count above cannot see it: check its rate, that in
    training it zeroes about half the features and scales the rest by 2, and that at
    inference it passes them through unchanged (two calls agree)."""
    model = models.build_original_cnn()
    assert model.get_layer("dropout").rate == 0.5
    x, _ = learnable_digits(8)
    features = keras.Model(model.input, model.get_layer("dropout").output)
    keras.utils.set_random_seed(0)
    dropped = np.asarray(features(x, training=True))
    kept = np.asarray(features(x, training=False))
    np.testing.assert_array_equal(kept, np.asarray(features(x, training=False)))
    active = kept != 0
    share_dropped = float((dropped[active] == 0).mean())
    assert 0.4 < share_dropped < 0.6, share_dropped
    np.testing.assert_allclose(dropped[dropped != 0], 2 * kept[dropped != 0], rtol=1e-5)


def test_original_cnn_is_functional_not_sequential():
    assert not isinstance(models.build_original_cnn(), keras.Sequential)


def test_fit_with_checkpoint_saves_model_and_history(scratch):
    model = models.compile_original_cnn(models.build_original_cnn())
    history = training.fit_with_checkpoint(model, tiny_splits(), "tiny", epochs=2,
                                           batch_size=16, verbose=0)
    assert len(history["val_accuracy"]) == 2 and len(history["epoch_seconds"]) == 2
    assert artifacts.model_path("tiny").is_file()
    assert artifacts.load_history("tiny")["loss"] == pytest.approx(history["loss"])
    # The model in memory is the one saved, and it scores what its best epoch scored.
    saved = keras.models.load_model(artifacts.model_path("tiny"))
    for kept, stored in zip(model.get_weights(), saved.get_weights(), strict=True):
        np.testing.assert_array_equal(kept, stored)
    splits = tiny_splits()
    accuracy = model.evaluate(splits.x_val, splits.y_val, verbose=0)[1]
    assert accuracy == pytest.approx(history["val_accuracy"][training.best_epoch(history) - 1])


def learnable_digits(count: int, seed: int = 0,
                     noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Noisy images whose class is a bright 4x4 square at one of ten positions."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 10
    images = rng.random((count, 28, 28, 1), dtype=np.float32) * noise
    for index, label in enumerate(labels):
        row, column = 2 + 12 * (label // 5), 2 + 5 * (label % 5)
        images[index, row:row + 4, column:column + 4, 0] = 1.0
    return images, labels


class _WeightsPerEpoch(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])


def test_checkpoint_restores_the_best_epochs_weights_not_the_last(scratch, monkeypatch):
    x, y = learnable_digits(200)
    splits = Splits(x[:160], y[:160], x[160:], y[160:], x[:10], y[:10])
    # A rate that is sensible for the first epoch's 10 steps and absurd afterwards, so the
    # network learns, then wrecks itself: the best epoch is the first, not the last.
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([10], [0.05, 50.0])
    model = models.build_original_cnn()
    model.compile(optimizer=keras.optimizers.SGD(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    recorder = _WeightsPerEpoch()
    original_fit = model.fit
    monkeypatch.setattr(model, "fit", lambda *a, **k: original_fit(
        *a, **{**k, "callbacks": k["callbacks"] + [recorder]}))
    history = training.fit_with_checkpoint(model, splits, "best_epoch", epochs=3, batch_size=16,
                                           verbose=0)
    best = training.best_epoch(history)
    assert best < 3 and history["val_accuracy"][best - 1] > history["val_accuracy"][-1]
    for kept, recorded in zip(model.get_weights(), recorder.weights[best - 1], strict=True):
        np.testing.assert_array_equal(kept, recorded)
    saved = keras.models.load_model(artifacts.model_path("best_epoch"))
    for kept, recorded in zip(saved.get_weights(), recorder.weights[best - 1], strict=True):
        np.testing.assert_array_equal(kept, recorded)


def test_one_cycle_schedule_warms_up_to_the_peak_then_decays_to_zero():
    schedule = training.one_cycle_schedule(0.01, total_steps=100, warmup_fraction=0.2)
    rate = [float(schedule(step)) for step in range(101)]
    assert rate[0] == pytest.approx(0.01 / 25)
    assert max(rate) == pytest.approx(0.01) and int(np.argmax(rate)) == 20
    assert all(a < b for a, b in zip(rate[:20], rate[1:21], strict=True))  # warm-up
    assert all(a >= b for a, b in zip(rate[20:-1], rate[21:], strict=True))  # then never up
    assert rate[100] == pytest.approx(0.0, abs=1e-9)
    assert rate[60] == pytest.approx(0.005, rel=1e-3)  # cosine: half the peak half-way down


def test_ema_momentum_averages_over_the_last_tenth():
    assert training.ema_momentum(1000) == pytest.approx(0.99)
    assert training.ema_momentum(36 * 215) == pytest.approx(0.99871, abs=1e-5)
    assert training.ema_momentum(5) == 0.0


def test_wider_cnn_layers_and_parameters():
    model = models.build_wider_cnn()
    # conv1 5*5*32+32, conv2 5*5*32*64+64, hidden 4*4*64*256+256, output 256*10+10
    assert model.count_params() == 832 + 51_264 + 262_400 + 2_570 == 317_066
    assert model.get_layer("dropout").rate == 0.3
    with_bn = models.build_wider_cnn(batch_norm_momentum=0.9)
    assert with_bn.get_layer("bn1").momentum == 0.9
    assert not with_bn.get_layer("conv1").use_bias


def test_compile_best_cnn_uses_plain_adam_on_the_warmup_cosine_schedule():
    recipe = training.best_recipe()
    model = training.compile_best_cnn(models.build_cnn(5, 256), recipe, total_steps=1000)
    assert not model.optimizer.use_ema
    assert model.loss.get_config()["label_smoothing"] == 0.0
    assert float(model.optimizer.learning_rate) == pytest.approx(3e-3 / 25)  # step 0
    assert recipe.peak_learning_rate == 3e-3 and recipe.warmup_fraction == 0.15


def test_random_affine_with_no_range_leaves_images_unchanged():
    x, _ = learnable_digits(4)
    same = augmentation.random_affine(x, max_degrees=0.0, max_scale=0.0, max_shift=0.0)
    np.testing.assert_allclose(np.asarray(same), x, atol=1e-5)
    # ... and with its default ranges it does move them (an identity would pass the above).
    moved = np.asarray(augmentation.random_affine(x))
    assert moved.shape == x.shape
    assert np.abs(moved - x).max(axis=(1, 2, 3)).min() > 0.2


def test_random_affine_moves_a_digit_by_at_most_its_range_and_varies_per_image():
    images = np.zeros((64, 28, 28, 1), "float32")
    images[:, 12:16, 12:16, 0] = 1.0  # a centred square
    moved = np.asarray(augmentation.random_affine(images, max_degrees=0.0, max_scale=0.0,
                                                  max_shift=2.5))
    rows, columns = np.arange(28)[None, :, None], np.arange(28)[None, None, :]
    mass = moved[..., 0].sum(axis=(1, 2))
    centre_row = (moved[..., 0] * rows).sum(axis=(1, 2)) / mass
    centre_column = (moved[..., 0] * columns).sum(axis=(1, 2)) / mass
    assert np.all(np.abs(centre_row - 13.5) <= 2.5 + 1e-3)
    assert np.all(np.abs(centre_column - 13.5) <= 2.5 + 1e-3)
    assert np.std(centre_row) > 0.5 and np.std(centre_column) > 0.5  # a new shift per image
    np.testing.assert_allclose(mass, 16.0, rtol=0.02)  # a shift keeps the ink


def test_one_affine_resampling_blurs_less_than_the_same_moves_resampled_three_times():
    x, _ = learnable_digits(200, noise=0.0)
    keras.utils.set_random_seed(0)
    once = np.asarray(augmentation.random_affine(x))
    keras.utils.set_random_seed(0)
    thrice = np.asarray(augmentation.three_resamplings(x))
    full_ink = lambda images: (images > 0.9).sum() / (images > 0.1).sum()  # noqa: E731
    assert not np.allclose(once, x, atol=0.05)  # the augmentation did move the digits
    assert full_ink(once) > full_ink(thrice) + 0.05
    # The same geometry: the two put their ink in the same places.
    assert np.corrcoef(once.ravel(), thrice.ravel())[0, 1] > 0.9


def test_train_original_cnn_learns_with_the_original_recipe(scratch):
    """The recipe trains: a learning rate of 0 (or a model left at its initial weights)
    leaves the loss where it started and validation accuracy at chance."""
    recipe = training.original_recipe()
    assert recipe.learning_rate > 0 and 0 <= recipe.momentum < 1
    x, y = learnable_digits(1600, noise=0.2)
    splits = Splits(x[:1400], y[:1400], x[1400:], y[1400:], x[:10], y[:10])
    model, history = training.train_original_cnn(splits, verbose=0)
    assert len(history["loss"]) == recipe.epochs
    assert history["loss"][-1] < history["loss"][0] - 0.1, history["loss"]
    assert max(history["val_accuracy"]) > 0.6, history["val_accuracy"]  # chance: 0.1
    training.set_seed(training.SEED)  # as train_original_cnn does before it builds
    initial = models.build_original_cnn().get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(model.get_weights(), initial, strict=True))


def test_best_recipe_augments():
    assert training.best_recipe().augment is True
    assert training.BestRecipe(epochs=1).augment is True


def test_train_best_cnn_feeds_augmented_images(monkeypatch):
    """``train_best_cnn`` passes every training batch through ``random_affine``: the input
    pipeline calls it (once, when ``tf.data`` traces the map) on batches of training images;
    with ``augment=False`` it is never called."""
    batches = []
    original = augmentation.random_affine

    def counting(images, *args, **kwargs):
        batches.append(tuple(images.shape))
        return original(images, *args, **kwargs)

    monkeypatch.setattr(augmentation, "random_affine", counting)
    x, y = learnable_digits(64)
    recipe = dataclasses.replace(training.best_recipe(), epochs=1, batch_size=32)
    training.train_best_cnn(x, y, seed=0, recipe=recipe)
    assert batches, "train_best_cnn never called random_affine: the images are not augmented"
    assert all(shape[1:] == (28, 28, 1) for shape in batches), batches
    batches.clear()
    training.train_best_cnn(x, y, seed=0, recipe=dataclasses.replace(recipe, augment=False))
    assert not batches


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
                                capture_output=True, text=True, check=True, cwd=REPO_ROOT)
        outputs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    assert outputs[0] == outputs[1]
