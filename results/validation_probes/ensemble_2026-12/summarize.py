"""Summarise the ensemble probe: each run's validation accuracy, the errors two runs share,
and ensembles of three scored on validation.

Usage: python summarize.py PROBE_DIR (the folder probe_ensemble.py wrote)
"""
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from helpers import data

probe = Path(sys.argv[1])
runs = [json.loads(line) for line in open(probe / "runs.jsonl")]
labels = data.make_splits(data.load_mnist()).y_val
probabilities = {run["seed"]: np.load(probe / f"val_{run['seed']}.npy") for run in runs}
wrong = {seed: p.argmax(1) != labels for seed, p in probabilities.items()}
name = {run["seed"]: f"{run['architecture']}/{run['augmentation']} ({run['seed']})"
        for run in runs}
print("run                          val acc  errors  s/epoch")
for run in runs:
    seed = run["seed"]
    print(f"{name[seed]:28s} {100 * run['val_accuracy']:.2f}%  {wrong[seed].sum():6d}  "
          f"{np.median(run['epoch_seconds']):.1f}")
print("\nerrors shared by two runs (and the share of the smaller error set):")
for a, b in itertools.combinations(probabilities, 2):
    shared = int((wrong[a] & wrong[b]).sum())
    print(f"  {name[a]:28s} {name[b]:28s} {shared:4d}  "
          f"{shared / min(wrong[a].sum(), wrong[b].sum()):.0%}")
print("\nensembles of three (probabilities averaged), validation errors:")
scored = []
for trio in itertools.combinations(probabilities, 3):
    average = np.mean([probabilities[seed] for seed in trio], axis=0)
    scored.append((int((average.argmax(1) != labels).sum()), trio))
for errors, trio in sorted(scored):
    print(f"  {errors:4d}  " + " + ".join(name[seed] for seed in trio))
everything = np.mean(list(probabilities.values()), axis=0)
print(f"\nall {len(runs)} runs averaged: {int((everything.argmax(1) != labels).sum())} errors")
