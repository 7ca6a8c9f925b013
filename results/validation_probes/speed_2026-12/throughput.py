"""Throughput probe (validation split only; the test set is never used).

One process, settings interleaved and repeated: for each round, one epoch of the fast CNN
on the 55,000 training images in every setting, in a rotated order. Prints one JSON line
per run: setting, round, seconds of the epoch (tracing included) and of a second epoch.

Usage: python throughput.py ROUNDS SETTING [SETTING ...]
A setting is PRECISION:BATCH:STEPS_PER_EXECUTION[:aug], e.g. mixed_bfloat16:256:1
"""
import json
import math
import sys
import time

import helpers  # noqa: F401  (quiet TensorFlow start-up)
import keras

from helpers import augmentation, data, speed, training


def run(setting: str, splits, seed: int) -> dict:
    precision, batch, per_execution, *rest = setting.split(":")
    batch, per_execution = int(batch), int(per_execution)
    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(seed)
    recipe = speed.SPEED_RECIPES[0]
    model = speed.build_fast_cnn()
    steps = training.steps_per_epoch(len(splits.y_train), batch)
    steps = math.ceil(steps / per_execution) * per_execution
    schedule = training.one_cycle_schedule(recipe.peak_learning_rate, 2 * steps, 0.2)
    model.compile(optimizer=keras.optimizers.Adam(schedule, beta_1=0.8),
                  loss="categorical_crossentropy", metrics=["accuracy"],
                  steps_per_execution=per_execution)
    labels = keras.utils.to_categorical(splits.y_train, 10)
    augment = augmentation.random_affine if "aug" in rest else None
    pipeline = training.make_dataset(splits.x_train, labels, batch, seed, augment)
    timer = training.EpochTimer()
    model.fit(pipeline, epochs=2, steps_per_epoch=steps, callbacks=[timer], verbose=0)
    keras.mixed_precision.set_global_policy("float32")
    return {"setting": setting, "steps": steps, "first_epoch_s": round(timer.seconds[0], 3),
            "second_epoch_s": round(timer.seconds[1], 3),
            "images_per_s_second": round(steps * batch / timer.seconds[1])}


def main() -> None:
    rounds, settings = int(sys.argv[1]), sys.argv[2:]
    splits = data.make_splits(data.load_mnist())
    for round_ in range(rounds):
        order = settings[round_ % len(settings):] + settings[:round_ % len(settings)]
        for setting in order:
            start = time.time()
            result = run(setting, splits, seed=900 + round_)
            print(json.dumps({"round": round_, **result,
                              "wall_s": round(time.time() - start, 1)}), flush=True)


if __name__ == "__main__":
    main()
