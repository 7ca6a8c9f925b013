"""The README's results tables, generated from committed outputs: ``python -m helpers.report``.

The ladder table comes from notebook 06's committed full-run outputs (one printed line
per run: rung, seed, parameters, seconds, validation and test accuracy), the benchmark
table from ``results/benchmark.md``. ``python -m helpers.report --write`` rewrites the
README between its markers; ``tests/test_docs_consistency.py`` fails when the README and
the outputs disagree.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from collections import Counter
from pathlib import Path

from helpers.config import REPO_ROOT

README = REPO_ROOT / "README.md"
NOTEBOOK_06 = REPO_ROOT / "notebooks" / "06_improving_the_model.ipynb"
BENCHMARK_JSON = REPO_ROOT / "results" / "benchmark.json"
BENCHMARK_MD = REPO_ROOT / "results" / "benchmark.md"
TEST_DIGITS = 10_000

RUN_LINE = re.compile(r"^(?P<rung>[^\n]+?), seed (?P<seed>\d+): (?P<parameters>[\d,]+) parameters, "
                      r"(?P<seconds>\d+) s, validation (?P<val>[\d.]+)%, test (?P<test>[\d.]+)%$",
                      re.M)
ENSEMBLE_LINE = re.compile(
    r"^average of (?P<count>\d+) \((?P<members>[^)]*\)?)\): (?P<test>[\d.]+)%$", re.M)


def stdout_of(notebook: Path) -> str:
    """Everything a committed notebook printed on stdout, joined."""
    cells = json.loads(notebook.read_text())["cells"]
    return "\n".join("".join(output["text"]) for cell in cells for output in cell.get("outputs", [])
                     if output.get("output_type") == "stream" and output.get("name") == "stdout")


def ladder_runs(notebook: Path = NOTEBOOK_06) -> list[dict]:
    """One dictionary per run printed by notebook 06's ``score``."""
    return [{"rung": match["rung"], "seed": int(match["seed"]),
             "parameters": int(match["parameters"].replace(",", "")),
             "seconds": int(match["seconds"]), "test": float(match["test"])}
            for match in RUN_LINE.finditer(stdout_of(notebook))]


def _accuracy_cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}%"
    return f"{statistics.mean(values):.2f}% ± {statistics.stdev(values):.2f}"


def results_table(notebook: Path = NOTEBOOK_06, benchmark: Path = BENCHMARK_JSON) -> str:
    """The README's results table: every rung of notebook 06 (mean ± sd over its seeds),
    notebook 06's live ensemble, and the benchmark's ensemble."""
    runs = ladder_runs(notebook)
    lines = ["| notebook | model | runs | parameters | training time | test accuracy (mean ± sd) "
             "| test errors (mean) |", "|---|---|---:|---:|---:|---:|---:|"]
    for rung in dict.fromkeys(run["rung"] for run in runs):
        group = [run for run in runs if run["rung"] == rung]
        tests = [run["test"] for run in group]
        errors = round(TEST_DIGITS * (1 - statistics.mean(tests) / 100))
        lines.append(f"| 06 | {rung} | {len(group)} | {group[0]['parameters']:,} | "
                     f"{statistics.mean(run['seconds'] for run in group):.0f} s | "
                     f"{_accuracy_cell(tests)} | {errors} |")
    ensembles = list(ENSEMBLE_LINE.finditer(stdout_of(notebook)))
    if ensembles:
        last = ensembles[-1]
        errors = round(TEST_DIGITS * (1 - float(last["test"]) / 100))
        counts = Counter(re.findall(r"rung (\w+)", last["members"]))
        members = " + ".join(f"{count} × rung {rung}" if count > 1 else f"rung {rung}"
                             for rung, count in counts.items())
        lines.append(f"| 06 | 9 ensemble: average of {members} | 1 | | | {last['test']}% | "
                     f"{errors} |")
    if benchmark.exists():
        ensemble = json.loads(benchmark.read_text())["ensemble"]
        accuracy = 100 * ensemble["test_accuracy"]
        lines.append(f"| benchmark | ensemble of {ensemble['members']} {ensemble['description']} "
                     f"| 1 | {sum(r['parameters'] for r in ensemble['member_records']):,} | "
                     f"{ensemble['train_seconds']:.0f} s | {accuracy:.2f}% | "
                     f"{round(TEST_DIGITS * (1 - ensemble['test_accuracy']))} |")
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
    """The README with its generated blocks rewritten from the committed outputs."""
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
