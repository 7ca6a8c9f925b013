"""The README's results tables, generated from committed results: ``python -m helpers.report``.

- the results table: every rung of notebook 06's ladder (``results/ladder_runs.csv``), the
  best CNN's recipe over its seeds and the model kept (notebook 07,
  ``results/best_cnn_runs.csv``), and the benchmark's ensemble (``results/benchmark.json``);
- the benchmark section: ``results/benchmark.md``, as the benchmark wrote it.

``python -m helpers.report --write`` rewrites the README between its markers;
``tests/test_docs_consistency.py`` fails when the README and the results disagree.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from helpers.config import REPO_ROOT

README = REPO_ROOT / "README.md"
RESULTS = REPO_ROOT / "results"
LADDER_RUNS = RESULTS / "ladder_runs.csv"
BEST_CNN_RUNS = RESULTS / "best_cnn_runs.csv"
BENCHMARK_JSON = RESULTS / "benchmark.json"
BENCHMARK_MD = RESULTS / "benchmark.md"
ORIGINAL_HISTORY = REPO_ROOT / "models" / "original_cnn.history.json"
TEST_RECORD = RESULTS / "test_set_record.csv"
TEST_DIGITS = 10_000


def _accuracy_cell(values: pd.Series) -> str:
    """``99.12%`` for one run, ``99.12% ± 0.05`` (mean ± sd, in points) for several."""
    points = values * 100
    if len(points) == 1:
        return f"{points.iloc[0]:.2f}%"
    return f"{points.mean():.2f}% ± {points.std(ddof=1):.2f}"


def _rows(runs: pd.DataFrame, notebook: str, changed_default: str = "") -> list[str]:
    lines = []
    for rung, group in runs.groupby("rung", sort=False):
        errors = round(TEST_DIGITS * (1 - group["test_accuracy"].mean()))
        changed = group["what changed"].iloc[0] if "what changed" in group else ""
        changed = changed_default if pd.isna(changed) or not changed else changed
        lines.append(f"| {notebook} | {rung} | {changed} | {len(group)} | "
                     f"{int(group['parameters'].iloc[0]):,} | {group['seconds'].mean():.0f} s | "
                     f"{_accuracy_cell(group['val_accuracy'])} | "
                     f"{_accuracy_cell(group['test_accuracy'])} | {errors} |")
    return lines


def original_cnn_row(history: Path = ORIGINAL_HISTORY, record: Path = TEST_RECORD) -> str:
    """The row of notebook 03's original CNN: its best validation epoch (the one the
    checkpoint keeps) and notebook 04's reading of the test set."""
    from helpers.models import build_original_cnn

    epochs = json.loads(history.read_text())
    readings = pd.read_csv(record)
    test = float(readings.loc[readings["source"] == "notebook 04", "test_accuracy"].iloc[-1])
    return (f"| 03-04 | original CNN, SGD, {len(epochs['val_accuracy'])} epochs, best "
            f"validation epoch kept | the original work's network and training | 1 | "
            f"{build_original_cnn().count_params():,} | {sum(epochs['epoch_seconds']):.0f} s | "
            f"{100 * max(epochs['val_accuracy']):.2f}% | {100 * test:.2f}% | "
            f"{round(TEST_DIGITS * (1 - test))} |")


def results_table(ladder: Path = LADDER_RUNS, best: Path = BEST_CNN_RUNS,
                  benchmark: Path = BENCHMARK_JSON) -> str:
    """The README's results table (validation and test accuracy, mean ± sd over seeds)."""
    lines = ["| notebook | model | what changed | runs | parameters | training time "
             "| validation (mean ± sd) | test (mean ± sd) | test errors (mean) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|",
             original_cnn_row()]
    lines += _rows(pd.read_csv(ladder), "06")
    best_runs = pd.read_csv(best)
    lines += _rows(best_runs, "07", "rung 8's recipe, 25 epochs instead of 3")
    kept = best_runs.loc[best_runs["val_accuracy"].idxmax()]
    lines.append(f"| 07 | the model kept (best on validation: seed {int(kept['seed'])}) | | 1 | "
                 f"{int(kept['parameters']):,} | {kept['seconds']:.0f} s | "
                 f"{100 * kept['val_accuracy']:.2f}% | {100 * kept['test_accuracy']:.2f}% | "
                 f"{round(TEST_DIGITS * (1 - kept['test_accuracy']))} |")
    if benchmark.exists():
        ensemble = json.loads(benchmark.read_text())["ensemble"]
        accuracy = ensemble["test_accuracy"]  # the plain average (no test-time shifts)
        records = ensemble["member_records"]
        epochs = sorted({record["keras_epochs"] for record in records})
        lines.append(f"| benchmark | ensemble of {ensemble['members']} CNNs chosen to differ "
                     f"(see the benchmark section), {'/'.join(map(str, epochs))} epochs each "
                     f"on {records[0]['train_examples']:,} images | | 1 | "
                     f"{sum(r['parameters'] for r in ensemble['member_records']):,} | "
                     f"{ensemble['train_seconds']:.0f} s | | {100 * accuracy:.2f}% | "
                     f"{round(TEST_DIGITS * (1 - accuracy))} |")
    return "\n".join(lines) + "\n"


def replace_block(text: str, name: str, content: str) -> str:
    """``text`` with the part between ``<!-- name:start -->`` and ``<!-- name:end -->``
    replaced by ``content``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"README.md lacks the markers {start} and {end}")
    head, rest = text.split(start, 1)
    return head + start + "\n" + content.strip() + "\n" + end + rest.split(end, 1)[1]


def generated_readme(readme: str) -> str:
    """The README with its generated blocks rewritten from the committed results."""
    readme = replace_block(readme, "results-table", results_table())
    return replace_block(readme, "benchmark", BENCHMARK_MD.read_text())


def main(argv: list[str] | None = None) -> int:
    """Print the generated tables, or write them into README.md with ``--write``."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite README.md in place")
    args = parser.parse_args(argv)
    if args.write:
        README.write_text(generated_readme(README.read_text()))
        print("README.md: results and benchmark tables rewritten")
    else:
        print(results_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
