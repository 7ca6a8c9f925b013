"""The fast CNN, its input pipeline, fractional epochs and test-time shifts (helpers.speed)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from helpers import config, speed
from tests.helpers_for_tests import fake_digits


def test_fast_cnn_layers_and_parameters():
    model = speed.build_fast_cnn()
    assert model.count_params() == 147146
    assert [layer.name for layer in model.layers[1:3]] == ["conv1", "pool1"]
    assert model.get_layer("conv1").filters == 16
    augmented = speed.build_fast_cnn(shifts=True, rotations=True)
    assert {"shift", "rotate"} <= {layer.name for layer in augmented.layers}
    assert augmented.count_params() == model.count_params()


def test_augmentation_is_off_at_prediction_time():
    x, _ = fake_digits(4)
    config.set_seed(0)
    model = speed.build_fast_cnn(shifts=True, rotations=True)
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


def test_pipeline_yields_every_image_once_per_pass_in_a_new_order():
    x = np.arange(10, dtype="float32").reshape(10, 1, 1, 1)
    y = np.arange(10)
    batches = list(speed.make_dataset(x, y, batch_size=4, seed=1).take(6))
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


def test_predict_with_shifts_averages_the_views():
    x, _ = fake_digits(6)
    config.set_seed(0)
    model = speed.build_fast_cnn()
    averaged = speed.predict_with_shifts(model, x)
    views = [model.predict(speed.shift_images(x, dx, dy), verbose=0)
             for dx, dy in speed.TEST_TIME_SHIFTS]
    np.testing.assert_allclose(averaged, np.mean(views, axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(averaged.sum(axis=1), 1.0, rtol=1e-5)


def test_recipes_are_the_ones_the_benchmark_reports():
    assert [recipe.target for recipe in speed.SPEED_RECIPES] == [0.99, 0.995]
    assert speed.ENSEMBLE.members >= 3 and speed.ENSEMBLE.member.target is None
