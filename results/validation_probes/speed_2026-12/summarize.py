"""Summarise probe files: per candidate, validation mean and spread over seeds, seconds and
reference epochs (median and max), and the paired difference against a baseline candidate.
Usage: python summarize.py [--unit SECONDS] BASELINE FILE [FILE ...]
--unit: state the seconds in epochs of a reference measured elsewhere (the 15-epoch average
of ref15.py), as well as in the probe's own two-epoch estimates."""
import json
import statistics as st
import sys
from collections import defaultdict

arguments = sys.argv[1:]
unit = None
if arguments[0] == "--unit":
    unit, arguments = float(arguments[1]), arguments[2:]
baseline, files = arguments[0], arguments[1:]
runs = defaultdict(dict)
refs = []
for name in files:
    for line in open(name):
        d = json.loads(line)
        if d["candidate"] == "reference_keras_io":
            refs.append(d["seconds_per_epoch_estimate"])
        else:
            runs[d["candidate"]][d["seed"]] = d
print(f"reference s/epoch: median {st.median(refs):.2f}, range {min(refs):.2f}-{max(refs):.2f}"
      f" ({len(refs)} measurements)")
for name, by_seed in runs.items():
    acc = [d["val_accuracy"] * 100 for d in by_seed.values()]
    sec = [d["train_seconds"] for d in by_seed.values()]
    ratio = [d["reference_epochs_at_60k"] for d in by_seed.values()]
    line = (f"{name:22s} n={len(acc)} val {st.mean(acc):.2f} (sd {st.stdev(acc) if len(acc) > 1 else 0:.2f},"
            f" {min(acc):.2f}-{max(acc):.2f})  s median {st.median(sec):.2f} ({min(sec):.2f}-{max(sec):.2f})"
            f"  ref-epochs@60k median {st.median(ratio):.3f} max {max(ratio):.3f}")
    if unit:
        fixed = [s * 60000 / 55000 / unit for s in sec]
        line += f" | unit {unit:.2f} s: median {st.median(fixed):.3f} max {max(fixed):.3f}"
    if name != baseline and baseline in runs:
        common = sorted(set(by_seed) & set(runs[baseline]))
        if len(common) > 1:
            diff = [(by_seed[s]["val_accuracy"] - runs[baseline][s]["val_accuracy"]) * 100 for s in common]
            half = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78, 6: 2.57, 7: 2.45, 8: 2.36, 9: 2.31, 10: 2.26}.get(len(diff), 2.2) * st.stdev(diff) / len(diff) ** 0.5
            line += f"  vs {baseline}: {st.mean(diff):+.2f} [{st.mean(diff) - half:+.2f}, {st.mean(diff) + half:+.2f}]"
    print(line)
