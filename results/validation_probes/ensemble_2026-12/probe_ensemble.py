"""Ensemble-member probe on the validation split (the test set is never read).

Trains each candidate member of the benchmark's ensemble (``helpers.ensemble``: three
architectures x two augmentations) on the course's 55,000-image training split for a
short run (the schedule sized for ``EPOCHS`` epochs), plus two more seeds of the
5x5 / affine member, and saves every model's validation probabilities. ``summarize.py``
then counts the errors the members share and scores ensembles of three.

Usage: python probe_ensemble.py OUT_DIR
"""
import json
import sys
import time
from pathlib import Path

import helpers  # noqa: F401  (quiet TensorFlow start-up)
import numpy as np

from helpers import data, ensemble, training

EPOCHS = 6
RUNS = [(961 + index, recipe.architecture, recipe.augmentation)
        for index, (_, recipe) in enumerate(ensemble.MEMBERS)]
RUNS += [(967, "5x5", "affine"), (968, "5x5", "affine")]


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    splits = data.make_splits(data.load_mnist())  # 55,000 train / 5,000 validation
    for seed, architecture, augmentation in RUNS:
        recipe = ensemble.MemberRecipe(architecture, augmentation, EPOCHS)
        timer = training.EpochTimer()
        model = ensemble.train_member(recipe, splits.x_train, splits.y_train, seed,
                                      callbacks=[timer])
        probabilities = model.predict(splits.x_val, batch_size=1000, verbose=0)
        np.save(out / f"val_{seed}.npy", probabilities.astype("float32"))
        line = {"seed": seed, "architecture": architecture, "augmentation": augmentation,
                "epochs": EPOCHS, "epoch_seconds": [round(s, 2) for s in timer.seconds],
                "val_accuracy": float((probabilities.argmax(1) == splits.y_val).mean()),
                "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
        print(json.dumps(line), flush=True)
        with open(out / "runs.jsonl", "a") as handle:
            handle.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
