"""Speed-recipe probe on the validation split (the test set is never read).

Trains candidate speed recipes on the course's 55,000-image training split and scores
them on the 5,000 validation images, interleaved with the keras-io reference measured in
the same process, so that every candidate's seconds can be stated in reference epochs:

    for each seed:   reference (2 epochs)   then every candidate, in a rotated order

The reference is helpers.benchmark's ``reference_keras_io`` (the original CNN, Adam 1e-3,
batch 128, float32, NumPy arrays). The benchmark divides its 15-epoch total by 15, so the
first epoch's one-off costs (tracing) are spread over 15 epochs; here two epochs are
timed and the benchmark's figure is estimated as (first + 14 x second) / 15.

Usage: python probe_speed.py OUT.jsonl SEEDS CANDIDATE [CANDIDATE ...]
  SEEDS: comma-separated, e.g. 901,902,903; CANDIDATE: a name in CANDIDATES below.
Each run is one JSON line.
"""
import json
import sys
import time
from dataclasses import replace

import helpers  # noqa: F401  (quiet TensorFlow start-up)
import keras
import numpy as np

from helpers import config, data, models, speed, training

R99, R995 = speed.SPEED_RECIPES[0], speed.SPEED_RECIPES[1]
F32, BF16 = "float32", "mixed_bfloat16"

# name: (base recipe, changes, precision, pipeline)
CANDIDATES = {
    # the 99% rung
    "r99_old_f32": (R99, {}, F32, "make_dataset"),
    "r99_old_bf16": (R99, {}, BF16, "make_dataset"),
    "r99_f32": (R99, {}, F32, "indices"),
    "r99_bf16": (R99, {}, BF16, "indices"),
    "r99_bf16_spe8": (R99, {"steps_per_execution": 8}, BF16, "indices"),
    "r99_bf16_1ep": (R99, {"epochs": 1.0}, BF16, "indices"),
    "r99_bf16_1ep_spe8": (R99, {"epochs": 1.0, "steps_per_execution": 8}, BF16, "indices"),
    "r99_bf16_1ep_ls": (R99, {"epochs": 1.0, "label_smoothing": 0.1}, BF16, "indices"),
    "r99_bf16_b192": (R99, {"batch_size": 192, "epochs": 1.0}, BF16, "indices"),
    # second round, 99% rung: one epoch, bfloat16, 8 steps per execution, one change each
    "e1": (R99, {"epochs": 1.0, "steps_per_execution": 8}, BF16, "indices"),
    "e1_spe16": (R99, {"epochs": 1.0, "steps_per_execution": 16}, BF16, "indices"),
    "e1_ls01": (R99, {"epochs": 1.0, "steps_per_execution": 8, "label_smoothing": 0.1},
                BF16, "indices"),
    "e1_peak03": (R99, {"epochs": 1.0, "steps_per_execution": 8, "peak_learning_rate": 0.03},
                  BF16, "indices"),
    "e1_peak015": (R99, {"epochs": 1.0, "steps_per_execution": 8,
                         "peak_learning_rate": 0.015}, BF16, "indices"),
    "e1_warm01": (R99, {"epochs": 1.0, "steps_per_execution": 8, "warmup_fraction": 0.1},
                  BF16, "indices"),
    "e1_beta2_099": (R99, {"epochs": 1.0, "steps_per_execution": 8, "beta_2": 0.99},
                     BF16, "indices"),
    "e1_b192": (R99, {"epochs": 1.0, "steps_per_execution": 8, "batch_size": 192},
                BF16, "indices"),
    # third round, 99% rung: label smoothing 0.1 at one epoch, and its neighbours
    "e1_ls01_f32": (R99, {"epochs": 1.0, "steps_per_execution": 8, "label_smoothing": 0.1},
                    F32, "indices"),
    "e09_ls01": (R99, {"epochs": 0.9, "steps_per_execution": 8, "label_smoothing": 0.1},
                 BF16, "indices"),
    "e1_ls02": (R99, {"epochs": 1.0, "steps_per_execution": 8, "label_smoothing": 0.2},
                BF16, "indices"),
    "e1_ls01_peak03": (R99, {"epochs": 1.0, "steps_per_execution": 8, "label_smoothing": 0.1,
                             "peak_learning_rate": 0.03}, BF16, "indices"),
    # fourth round, 99% rung: peak 0.03 with label smoothing, and fewer steps
    "e09_ls01_peak03": (R99, {"epochs": 0.9, "steps_per_execution": 8, "label_smoothing": 0.1,
                              "peak_learning_rate": 0.03}, BF16, "indices"),
    "e08_ls01_peak03": (R99, {"epochs": 0.8, "steps_per_execution": 8, "label_smoothing": 0.1,
                              "peak_learning_rate": 0.03}, BF16, "indices"),
    "e09_ls01_peak04": (R99, {"epochs": 0.9, "steps_per_execution": 8, "label_smoothing": 0.1,
                              "peak_learning_rate": 0.04}, BF16, "indices"),
    # the 99.5% rung (8 steps per execution unless said)
    "r995_old_f32": (R995, {}, F32, "make_dataset"),
    "r995_bf16": (R995, {"steps_per_execution": 8}, BF16, "indices"),
    "r995_bf16_9ep": (R995, {"epochs": 9, "steps_per_execution": 8}, BF16, "indices"),
    "r995_bf16_2448_6ep": (R995, {"filters": (24, 48), "steps_per_execution": 8}, BF16,
                           "indices"),
    "r995_bf16_2448_9ep": (R995, {"filters": (24, 48), "epochs": 9, "steps_per_execution": 8},
                           BF16, "indices"),
    # fifth round, 99% rung: the chosen settings, with less work per step or per call
    "e1_ls01_spe24": (R99, {"epochs": 1.0, "steps_per_execution": 24, "label_smoothing": 0.1},
                      BF16, "indices"),
    "e1_ls01_nometrics": (R99, {"epochs": 1.0, "steps_per_execution": 8,
                                "label_smoothing": 0.1}, BF16, "indices", "no metrics"),
    "e1_ls01_nometrics_spe24": (R99, {"epochs": 1.0, "steps_per_execution": 24,
                                      "label_smoothing": 0.1}, BF16, "indices", "no metrics"),
    # second round, 99.5% rung: 8 epochs and one change each (bfloat16, 8 steps per call)
    "r995_bf16_8ep": (R995, {"epochs": 8, "steps_per_execution": 8}, BF16, "indices"),
    "r995_f32_8ep": (R995, {"epochs": 8, "steps_per_execution": 8}, F32, "indices"),
    "r995_bf16_8ep_peak02": (R995, {"epochs": 8, "steps_per_execution": 8,
                                    "peak_learning_rate": 0.02}, BF16, "indices"),
    "r995_bf16_8ep_b08": (R995, {"epochs": 8, "steps_per_execution": 8, "beta_1": 0.8},
                          BF16, "indices"),
    "r995_bf16_8ep_drop02": (R995, {"epochs": 8, "steps_per_execution": 8,
                                    "dropout_rate": 0.2}, BF16, "indices"),
    # third round, 99.5% rung: batch normalization (momentum 0.9, no weight averaging)
    "r995_bf16_8ep_bn9": (R995, {"epochs": 8, "steps_per_execution": 8}, BF16, "indices",
                          "batch norm 0.9"),
    "r995_bf16_6ep_bn9": (R995, {"epochs": 6, "steps_per_execution": 8}, BF16, "indices",
                          "batch norm 0.9"),
}


def reference_epochs(splits: data.Splits, seed: int) -> tuple[float, float]:
    """Two epochs of the keras-io reference (float32, as in the benchmark)."""
    with speed.precision_policy(F32):
        config.set_seed(seed)
        model = training.compile_adam(models.build_original_cnn(), 1e-3)
        timer = training.EpochTimer()
        model.fit(splits.x_train, splits.y_train, batch_size=128, epochs=2,
                  callbacks=[timer], verbose=0)
    return timer.seconds[0], timer.seconds[1]


def candidate_run(name: str, splits: data.Splits, seed: int) -> dict:
    base, changes, precision, pipeline, *extra = CANDIDATES[name]
    recipe = replace(base, **changes)
    config.set_seed(seed)
    if "batch norm 0.9" in extra:
        with speed.precision_policy(precision):
            network = speed.build_fast_cnn(recipe.dropout_rate, recipe.filters,
                                           batch_norm_momentum=0.9)
    else:
        network = speed.build_for(recipe, precision)
    model = speed.compile_fast_cnn(network, recipe, len(splits.y_train))
    if "no metrics" in extra:  # the same compile without the accuracy metric
        model.compile(optimizer=model.optimizer, loss=model.loss,
                      steps_per_execution=recipe.steps_per_execution)
    arguments = speed.fit_arguments(recipe, splits.x_train, splits.y_train, seed)
    if pipeline == "make_dataset":
        arguments["x"] = training.make_dataset(
            splits.x_train, keras.utils.to_categorical(splits.y_train, 10),
            recipe.batch_size, seed,
            augment=speed.random_affine if recipe.augment else None)
    timer = training.EpochTimer()
    model.fit(**arguments, callbacks=[timer], verbose=0)
    probabilities = model.predict(splits.x_val, batch_size=1000, verbose=0)
    return {"candidate": name, "seed": seed, "precision": precision, "pipeline": pipeline,
            "epochs": recipe.epochs, "batch_size": recipe.batch_size,
            "steps": recipe.total_steps(len(splits.y_train)),
            "train_seconds": round(float(sum(timer.seconds)), 3),
            "val_accuracy": float((probabilities.argmax(1) == splits.y_val).mean())}


def main() -> None:
    out, seeds, names = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], sys.argv[3:]
    unknown = [name for name in names if name not in CANDIDATES]
    assert not unknown, f"unknown candidates {unknown}"
    splits = data.make_splits(data.load_mnist())  # 55,000 train / 5,000 validation
    with open(out, "a") as handle:
        for round_, seed in enumerate(seeds):
            first, second = reference_epochs(splits, seed)
            estimate = (first + 14 * second) / 15
            line = {"candidate": "reference_keras_io", "seed": seed, "precision": F32,
                    "first_epoch_s": round(first, 3), "second_epoch_s": round(second, 3),
                    "seconds_per_epoch_estimate": round(estimate, 3),
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
            print(json.dumps(line), flush=True)
            handle.write(json.dumps(line) + "\n")
            handle.flush()
            shift = round_ % len(names)
            for name in names[shift:] + names[:shift]:
                result = candidate_run(name, splits, seed)
                result["reference_epochs"] = round(result["train_seconds"] / estimate, 3)
                result["reference_epochs_at_60k"] = round(
                    result["train_seconds"] * 60000 / 55000 / estimate, 3)
                print(json.dumps(result), flush=True)
                handle.write(json.dumps(result) + "\n")
                handle.flush()
    np.seterr()


if __name__ == "__main__":
    main()
