"""The README and notebooks stay honest: links resolve, figures exist, numbers match runs.

The README repeats results that notebooks and the benchmark produce; these tests compare
them with the committed notebook outputs and results files, so a rerun that changes a
number fails here until the README is updated.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from helpers import report, test_record
from helpers.config import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").rglob("*.ipynb"))
NOTEBOOKS = [path for path in NOTEBOOKS if ".ipynb_checkpoints" not in path.parts]


def notebook_text_outputs(path: Path) -> str:
    """All stdout and text/plain outputs of a committed notebook, joined."""
    chunks = []
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                chunks.append("".join(output["text"]))
            elif "data" in output:
                chunks.append("".join(output["data"].get("text/plain", "")))
    return "\n".join(chunks)


def local_links(markdown: str) -> list[str]:
    """Relative link and image targets of a Markdown text (web links excluded)."""
    targets = re.findall(r"\]\(([^)\s]+)\)", markdown) + re.findall(r'src="([^"]+)"', markdown)
    return [t.split("#")[0] for t in targets if not re.match(r"^(https?:|mailto:|#)", t)]


def test_readme_links_and_images_resolve():
    missing = [t for t in local_links(README) if t and not (REPO_ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_links_resolve_and_outputs_are_committed(path):
    notebook = json.loads(path.read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"
    markdown = "\n".join("".join(c["source"]) for c in notebook["cells"]
                         if c["cell_type"] == "markdown")
    missing = [t for t in local_links(markdown) if t and not (path.parent / t).exists()]
    assert not missing, f"{path.name} links to missing files: {missing}"
    code = [c for c in notebook["cells"]
            if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert all(c["execution_count"] for c in code), f"{path.name} has cells without outputs"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{path.name} was committed with an error output"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if "solutions" not in p.parts],
                         ids=lambda p: p.name)
def test_notebooks_follow_the_course_skeleton(path):
    cells = json.loads(path.read_text())["cells"]
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    first = "".join(cells[0]["source"])
    assert first.startswith("# ") and "**You will learn**" in first and "**Time:**" in first
    for heading in ("## Setup", "## Summary", "## Exercises"):
        assert heading in markdown, f"{path.name} lacks {heading}"
    solutions = re.search(r"\(solutions/([^)]+\.ipynb)\)", markdown)
    assert solutions and (path.parent / "solutions" / solutions.group(1)).exists()


def test_readme_reports_the_committed_test_accuracy_of_notebook_04():
    output = notebook_text_outputs(REPO_ROOT / "notebooks" / "04_evaluation.ipynb")
    accuracy = re.search(r"test accuracy\s+(\d+\.\d+)%", output).group(1)
    errors = re.search(r"test errors\s+(\d+) of 10000", output).group(1)
    assert float(accuracy) >= 98.62, "the original CNN must beat the original 98.62%"
    assert re.search(rf"original CNN[^\n]*\| {accuracy}% \| {errors} \|", README), (
        f"README's results table should show {accuracy}% and {errors} errors for notebook 04"
    )


def test_readme_generated_tables_match_the_committed_outputs():
    """The results table (from notebook 06's outputs and the benchmark) and the benchmark
    section (results/benchmark.md) are what ``python -m helpers.report --write`` writes."""
    assert report.generated_readme(README) == README, (
        "README's generated tables differ from the committed outputs: "
        "run `python -m helpers.report --write`")


def test_notebook_06_reports_every_rung_with_its_seeds():
    """Every rung of the ladder but the linear model (deterministic) ran from three seeds or
    more, and each notebook 07 run has a seed of its own."""
    ladder = pd.read_csv(report.LADDER_RUNS)
    seeds = ladder.groupby("rung")["seed"].nunique()
    assert len(seeds) >= 8, f"notebook 06 reports {len(seeds)} rungs"
    trained = seeds[[not rung.startswith("1 ") for rung in seeds.index]]
    assert (trained >= 3).all(), seeds.to_dict()
    best = pd.read_csv(report.BEST_CNN_RUNS)
    assert best["seed"].nunique() == len(best) >= 3


def test_committed_benchmark_is_a_full_run_with_five_seeds_per_speed_recipe():
    results = json.loads((REPO_ROOT / "results" / "benchmark.json").read_text())
    assert not results["quick"], "the committed benchmark must come from a full run"
    assert [entry["target"] for entry in results["speed_summary"]] == [0.99, 0.995]
    assert all(len(entry["seeds"]) == 5 for entry in results["speed_summary"])
    assert len(results["speed_rungs"]) == 10 and results["ensemble"]["members"] >= 3


def test_every_benchmark_reading_of_the_test_set_is_recorded():
    results = json.loads((REPO_ROOT / "results" / "benchmark.json").read_text())
    rows = test_record.read_record(REPO_ROOT / "results" / test_record.FILE_NAME)
    recorded = {(row["source"], int(row["seed"]), row["test_accuracy"]) for row in rows}
    runs = results["speed_rungs"] + results["models"] + results["ensemble"]["member_records"]
    for run in runs:
        assert ("benchmark", run["seed"], f"{run['test_accuracy']:.4f}") in recorded, run
