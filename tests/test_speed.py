"""The fast CNN, its input pipeline, fractional epochs and test-time shifts (helpers.speed)."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest

from helpers import config, speed, training
from tests.helpers_for_tests import fake_digits


def test_fast_cnn_layers_and_parameters():
    model = speed.build_fast_cnn()
    # conv1 5*5*16+16, conv2 5*5*16*32+32, hidden 4*4*32*256+256, output 256*10+10
    assert model.count_params() == 416 + 12_832 + 131_328 + 2_570 == 147_146
    assert [layer.name for layer in model.layers[1:3]] == ["conv1", "pool1"]
    assert model.get_layer("conv1").filters == 16
    with_dropout = speed.build_fast_cnn(dropout_rate=0.3)
    assert with_dropout.get_layer("dropout").rate == 0.3
    assert with_dropout.count_params() == model.count_params()
    assert "dropout" not in {layer.name for layer in model.layers}


def test_dropout_is_off_at_prediction_time():
    x, _ = fake_digits(4)
    config.set_seed(0)
    model = speed.build_fast_cnn(dropout_rate=0.5)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_fractional_epochs_become_steps_of_one_keras_epoch():
    recipe = speed.SPEED_RECIPES[0]
    one_point_two = replace(recipe, epochs=1.2, batch_size=100)
    assert one_point_two.total_steps(1000) == 12
    x, y = fake_digits(1000)
    arguments = speed.fit_arguments(one_point_two, x, y, seed=1)
    assert (arguments["epochs"], arguments["steps_per_epoch"]) == (1, 12)
    five = replace(recipe, epochs=5, batch_size=100)
    arguments = speed.fit_arguments(five, x, y, seed=1)
    assert (arguments["epochs"], arguments["steps_per_epoch"]) == (5, 10)


def test_fit_arguments_give_one_hot_labels_and_augment_only_when_asked():
    x, y = fake_digits(8)
    plain = replace(speed.SPEED_RECIPES[0], batch_size=8)
    images, labels = next(iter(speed.fit_arguments(plain, x, y, seed=1)["x"]))
    assert labels.shape == (8, 10)
    np.testing.assert_array_equal(labels.numpy().argmax(1)[np.argsort(labels.numpy().argmax(1))],
                                  np.sort(y))
    assert sorted(map(float, images.numpy().sum(axis=(1, 2, 3)))) == pytest.approx(
        sorted(map(float, x.sum(axis=(1, 2, 3)))), rel=1e-5)  # the same images, shuffled
    augmented = replace(plain, augment=True)
    images, _ = next(iter(speed.fit_arguments(augmented, x, y, seed=1)["x"]))
    assert sorted(map(float, images.numpy().sum(axis=(1, 2, 3)))) != pytest.approx(
        sorted(map(float, x.sum(axis=(1, 2, 3)))), rel=1e-3)


def test_pipeline_yields_every_image_once_per_pass_in_a_new_order():
    x = np.arange(10, dtype="float32").reshape(10, 1, 1, 1)
    y = np.arange(10)
    batches = list(training.make_dataset(x, y, batch_size=4, seed=1).take(6))
    labels = np.concatenate([b[1].numpy() for b in batches])
    first, second = labels[:10], labels[10:]  # a pass is batches of 4, 4 and 2
    assert sorted(first) == list(range(10))
    assert not np.array_equal(first, np.arange(10))
    assert sorted(second) == list(range(10)) and not np.array_equal(first, second)


@pytest.mark.parametrize("dx, dy", [(1, 0), (-1, 0), (0, 2), (-3, -1)])
def test_shift_images_moves_pixels_and_fills_blank(dx, dy):
    images = np.zeros((1, 28, 28, 1), "float32")
    images[0, 10, 12, 0] = 1.0
    images[0, 0, 0, 0] = 0.5  # a corner pixel that may leave the frame
    shifted = speed.shift_images(images, dx, dy)
    assert shifted.shape == images.shape
    assert shifted[0, 10 + dy, 12 + dx, 0] == 1.0
    assert shifted.sum() == pytest.approx(1.0 + (0.5 if dx >= 0 and dy >= 0 else 0.0))
    np.testing.assert_array_equal(speed.shift_images(images, 0, 0), images)


class _Echo(keras.Model):
    """A stand-in model whose 'probabilities' are the pixel sums of ten fixed pixels."""

    def predict(self, images, batch_size=None, verbose=0):
        return np.asarray(images)[:, 10, 10:20, 0]


def test_predict_with_shifts_averages_the_image_and_its_four_one_pixel_shifts():
    images = np.zeros((1, 28, 28, 1), "float32")
    images[0, 10, 14, 0] = 5.0  # one bright pixel in the row the stand-in reads
    averaged = speed.predict_with_shifts(_Echo(), images)
    # Centre view: the pixel at column 14 (index 4). Right/left shifts move it to columns
    # 15/13 (indices 5/3); up/down shifts move it out of row 10 (all zeros).
    expected = np.zeros((1, 10))
    expected[0, [3, 4, 5]] = 5.0 / 5
    np.testing.assert_allclose(averaged, expected)


def test_recipes_are_the_ones_the_benchmark_reports():
    assert [recipe.target for recipe in speed.SPEED_RECIPES] == [0.99, 0.995]
    assert not speed.SPEED_RECIPES[0].augment and speed.SPEED_RECIPES[1].augment


def test_recipe_filters_reach_the_model():
    recipe = replace(speed.SPEED_RECIPES[0], filters=(24, 32))
    model = speed.build_for(recipe)
    assert model.get_layer("conv1").filters == 24 and model.get_layer("conv2").filters == 32
    plain = speed.build_for(speed.SPEED_RECIPES[0])
    assert plain.get_config() == speed.build_fast_cnn().get_config()
    assert speed.one_epoch_recipe() == replace(speed.SPEED_RECIPES[0], epochs=1)


def test_multiply_adds_fast_cnn_against_the_wider_cnn():
    from helpers import models

    fast = speed.multiply_adds(speed.build_fast_cnn())
    wider = speed.multiply_adds(models.build_wider_cnn())
    # conv1 24*24*16*25, conv2 8*8*32*(25*16), dense 512*256 and 256*10
    assert fast == 230_400 + 819_200 + 131_072 + 2_560 == 1_183_232
    assert wider == 460_800 + 3_276_800 + 262_144 + 2_560 == 4_002_304
    assert round(wider / fast, 1) == 3.4


def test_compare_seconds_is_a_paired_interval_on_log_ratios():
    slower = speed.compare_seconds([4.0, 4.4, 3.6], [2.0, 2.2, 1.8], "a", "b")
    assert [slower.ratio, slower.low, slower.high] == pytest.approx([2.0, 2.0, 2.0])
    assert slower.verdict() == "slower" and "2.00x" in slower.line()
    noisy = speed.compare_seconds([3.0, 2.0, 3.1], [2.0, 3.0, 3.0], "a", "b")
    assert noisy.low < 1 < noisy.high and noisy.verdict() == "no measurable difference"
    assert speed.compare_seconds([1.0, 1.1], [2.0, 2.3], "a", "b").verdict() == "faster"
    with pytest.raises(ValueError):
        speed.compare_seconds([1.0], [2.0], "a", "b")


def test_claim_seconds_raises_in_the_course_run_and_warns_in_a_learners_run(monkeypatch, capsys):
    from helpers import claims

    result = speed.compare_seconds([4.0, 4.4, 3.6], [2.0, 2.2, 1.8], "a", "b")
    monkeypatch.setenv("DIGITS_QUICK", "1")
    speed.claim_seconds(result, "faster")
    assert "DOES NOT HOLD" in capsys.readouterr().out
    monkeypatch.setenv("DIGITS_QUICK", "0")
    monkeypatch.setenv(config.COURSE_RUN_ENV, "1")
    with pytest.raises(claims.ClaimError):
        speed.claim_seconds(result, "faster")
    speed.claim_seconds(result, "slower")
    assert "holds" in capsys.readouterr().out
    monkeypatch.delenv(config.COURSE_RUN_ENV)
    with pytest.warns(claims.ClaimWarning):
        speed.claim_seconds(result, "no measurable difference")
    with pytest.raises(ValueError):
        speed.claim_seconds(result, "better")
