"""The fast CNN, its input pipelines, fractional epochs, bfloat16 detection and mixed
precision, and test-time shifts (helpers.speed)."""

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
    recipe = replace(speed.SPEED_RECIPES[0], steps_per_execution=1)
    one_point_two = replace(recipe, epochs=1.2, batch_size=100)
    assert one_point_two.total_steps(1000) == 12
    x, y = fake_digits(1000)
    arguments = speed.fit_arguments(one_point_two, x, y, seed=1)
    assert (arguments["epochs"], arguments["steps_per_epoch"]) == (1, 12)
    five = replace(recipe, epochs=5, batch_size=100)
    arguments = speed.fit_arguments(five, x, y, seed=1)
    assert (arguments["epochs"], arguments["steps_per_epoch"]) == (5, 10)


@pytest.mark.parametrize("epochs, per_execution, examples, expected", [
    (1.2, 1, 55_000, 258), (1.2, 1, 60_000, 282), (1.0, 1, 55_000, 215), (1.0, 8, 55_000, 216),
    (1.0, 8, 60_000, 240), (6, 1, 60_000, 1410), (6, 8, 55_000, 6 * 216)])
def test_steps_are_whole_calls_of_steps_per_execution(epochs, per_execution, examples,
                                                      expected):
    """215 batches of 256 make one pass over 55,000 images (235 over 60,000); with 8 steps
    per call, each Keras epoch is rounded up to a multiple of 8 and the schedule follows."""
    recipe = replace(speed.SPEED_RECIPES[0], epochs=epochs, batch_size=256,
                     steps_per_execution=per_execution)
    assert recipe.total_steps(examples) == expected
    assert recipe.steps_per_keras_epoch(examples) % per_execution == 0
    assert recipe.total_steps(examples) == recipe.keras_epochs() * recipe.steps_per_keras_epoch(
        examples)


def test_compile_sizes_the_schedule_for_the_steps_fit_runs():
    recipe = replace(speed.SPEED_RECIPES[0], epochs=1.0, steps_per_execution=8)
    model = speed.compile_fast_cnn(speed.build_for(recipe, "float32"), recipe, 55_000)
    optimizer = keras.saving.serialize_keras_object(model.optimizer)
    config = optimizer["config"]["learning_rate"]["config"]
    assert config["decay_steps"] + config["warmup_steps"] == recipe.total_steps(55_000) == 216
    assert model.steps_per_execution == 8


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


@pytest.mark.parametrize("pipeline", ["make_dataset", "shuffled_batches"])
def test_pipelines_yield_every_image_once_per_pass_in_a_new_order(pipeline):
    make = training.make_dataset if pipeline == "make_dataset" else speed.shuffled_batches
    x = np.arange(10, dtype="float32").reshape(10, 1, 1, 1)
    y = np.arange(10)
    batches = list(make(x, y, batch_size=4, seed=1).take(6))
    labels = np.concatenate([b[1].numpy() for b in batches])
    images = np.concatenate([b[0].numpy().ravel() for b in batches])
    np.testing.assert_array_equal(images, labels)  # each image keeps its label
    first, second = labels[:10], labels[10:]  # a pass is batches of 4, 4 and 2
    assert [len(b[1]) for b in batches] == [4, 4, 2, 4, 4, 2]
    assert sorted(first) == list(range(10))
    assert not np.array_equal(first, np.arange(10))
    assert sorted(second) == list(range(10)) and not np.array_equal(first, second)


def test_shuffled_batches_repeat_with_the_seed_and_change_without_it():
    x = np.arange(50, dtype="float32").reshape(50, 1, 1, 1)
    y = np.arange(50)

    def order(seed):
        return np.concatenate([b[1].numpy() for b in speed.shuffled_batches(
            x, y, batch_size=16, seed=seed).take(8)])

    np.testing.assert_array_equal(order(3), order(3))
    assert not np.array_equal(order(3), order(4))


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
    assert all(recipe.mixed_precision for recipe in speed.SPEED_RECIPES)
    assert speed.one_epoch_recipe().epochs == 1


CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC
flags\t\t: fpu vme sse2 avx2 avx512f avx512bw {extra}
"""


@pytest.mark.parametrize("extra, system, expected", [
    ("avx512_bf16 avx512_vnni", "Linux", True),
    ("amx_bf16 amx_tile", "Linux", True),
    ("avx512_vnni", "Linux", False),
    ("avx512_bf16", "Darwin", False),  # other systems: none unless detected
    ("avx512_bf16", "Windows", False)])
def test_bfloat16_is_detected_from_the_cpu_flags(tmp_path, extra, system, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(extra=extra) * 2)
    assert speed.cpu_has_bfloat16(cpuinfo, system=system) is expected


def test_no_cpuinfo_means_no_bfloat16(tmp_path):
    assert speed.cpu_has_bfloat16(tmp_path / "missing", system="Linux") is False


def test_precision_follows_the_cpu_the_recipe_and_the_override(monkeypatch):
    monkeypatch.delenv(speed.PRECISION_ENV, raising=False)
    recipe = speed.SPEED_RECIPES[0]
    monkeypatch.setattr(speed, "cpu_has_bfloat16", lambda: True)
    assert speed.precision_for(recipe) == "mixed_bfloat16"
    assert speed.precision_for(replace(recipe, mixed_precision=False)) == "float32"
    monkeypatch.setattr(speed, "cpu_has_bfloat16", lambda: False)
    assert speed.precision_for(recipe) == "float32"
    monkeypatch.setenv(speed.PRECISION_ENV, "mixed_bfloat16")
    assert speed.precision_for(recipe) == "mixed_bfloat16"
    monkeypatch.setenv(speed.PRECISION_ENV, "float16")
    with pytest.raises(ValueError, match="float32 or mixed_bfloat16"):
        speed.precision_for(recipe)


def test_mixed_bfloat16_model_keeps_float32_weights_and_output_and_restores_policy():
    before = keras.mixed_precision.global_policy().name
    model = speed.build_for(speed.SPEED_RECIPES[0], "mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == before  # restored
    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    assert model.get_layer("conv1").variable_dtype == "float32"
    assert model.get_layer("probabilities").compute_dtype == "float32"
    x, _ = fake_digits(3)
    probabilities = model.predict(x, verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_recipe_filters_reach_the_model():
    recipe = replace(speed.SPEED_RECIPES[0], filters=(24, 32))
    model = speed.build_for(recipe, "float32")
    assert model.get_layer("conv1").filters == 24 and model.get_layer("conv2").filters == 32
    unit = speed.one_epoch_recipe()
    assert unit == replace(speed.SPEED_RECIPES[0], epochs=1, mixed_precision=False,
                           steps_per_execution=1)
    assert speed.precision_for(unit) == "float32"


def test_float32_build_is_the_plain_fast_cnn():
    model = speed.build_for(speed.SPEED_RECIPES[0], "float32")
    assert model.get_config() == speed.build_fast_cnn().get_config()
    assert all(layer.compute_dtype == "float32" for layer in model.layers[1:])


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
