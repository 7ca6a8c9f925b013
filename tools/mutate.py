"""Mutation check of the test suite: break the code on purpose and see which tests go red.

For each breakage in :data:`MUTATIONS` this script

1. copies the repository's files (``git ls-files``, tracked and untracked but not ignored,
   as they are in the working tree, uncommitted edits included) into a temporary folder,
   with symbolic links to ``.venv`` and ``node_modules`` when they exist;
2. applies the breakage to that copy only: an exact text replacement in one file, which must
   occur exactly once (otherwise the script stops with an error rather than test an
   unbroken copy). In a notebook the text is replaced in one code cell's source;
3. runs the breakage's chosen tests there in quick mode (``DIGITS_QUICK=1``, ``pytest -x -q
   -p no:cacheprovider``; the project's pyproject adds the nbval options, so a notebook is
   run by naming it), with ``PYTHONPATH`` pointing at the copy so that the copy's
   ``helpers`` is imported, also by notebook kernels;
4. reports the test that went red, or NOT CAUGHT (pytest's output goes to
   ``scratch/mutation_logs/NAME.log``).

The report is a markdown table printed to stdout and written to ``scratch/mutation_report.md``.
It is a tool for maintainers, not part of CI: ``python tools/mutate.py`` (all breakages,
about 2 minutes on two cores, 4 with ``--baseline``), ``--list``, ``--only NAME``
(repeatable), ``--timeout`` (seconds per breakage), ``--dry-run`` (only apply each
breakage), ``--baseline`` (first run every chosen test on an unbroken copy: a red there
would make a "caught" meaningless).
MNIST comes from ``$DIGITS_MNIST_PATH`` or Keras' cache, as for the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
REPORT_PATH = REPO_ROOT / "scratch" / "mutation_report.md"
LOG_DIR = REPO_ROOT / "scratch" / "mutation_logs"
"""Each run's full pytest output, as NAME.log."""
LINKED = (".venv", "node_modules")
"""Ignored folders the copy needs, linked rather than copied."""
PYTEST_OPTIONS = ("-x", "-q", "-p", "no:cacheprovider")


@dataclass(frozen=True)
class Mutation:
    """One deliberate breakage: replace ``old`` by ``new`` in ``path``, then run ``tests``."""

    name: str
    description: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MODELS_TESTS = "tests/test_models_and_training.py"
NOTEBOOK_MODEL_TESTS = "tests/test_notebook_models.py"

MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        "recipe-learning-rate-0",
        "learning rate 0 in the original recipe (helpers.training.original_recipe)",
        "helpers/training.py",
        "batch_size=128, learning_rate=0.02, momentum=0.9",
        "batch_size=128, learning_rate=0.0, momentum=0.9",
        (f"{MODELS_TESTS}::test_train_original_cnn_learns_with_the_original_recipe",),
    ),
    Mutation(
        "notebook03-learning-rate-0",
        "learning rate 0 in notebook 03's compile cell",
        "notebooks/03_training.ipynb",
        "SGD(learning_rate=recipe.learning_rate,",
        "SGD(learning_rate=0.0,",
        (f"{NOTEBOOK_MODEL_TESTS}::test_notebook_03_builds_and_compiles_like_train_original_cnn",),
    ),
    Mutation(
        "checkpoint-not-restored",
        "fit_with_checkpoint (train_original_cnn) keeps the last epoch, not the checkpoint",
        "helpers/training.py",
        "    model.set_weights(keras.models.load_model(model_path(name)).get_weights())\n",
        "",
        (f"{MODELS_TESTS}::test_fit_with_checkpoint_saves_model_and_history",
         f"{MODELS_TESTS}::test_checkpoint_restores_the_best_epochs_weights_not_the_last"),
    ),
    Mutation(
        "no-centring-python",
        "helpers.preprocess.centre_by_mass does not shift to the centre of mass",
        "helpers/preprocess.py",
        'return ndimage.shift(field, shift, order=0, mode="constant", cval=0.0)',
        "return field",
        ("tests/test_preprocess.py::test_output_is_28x28_in_range_and_centred_by_mass",),
    ),
    Mutation(
        "no-centring-javascript",
        "site/demo/preprocess.js centreByMass does not shift to the centre of mass",
        "site/demo/preprocess.js",
        "const sy = y - shiftY;\n        const sx = x - shiftX;",
        "const sy = y;\n        const sx = x;",
        ("tests/test_preprocess_js.py",),
    ),
    Mutation(
        "augmentation-off",
        "BestRecipe.augment defaults to False",
        "helpers/training.py",
        "    augment: bool = True\n",
        "    augment: bool = False\n",
        (f"{MODELS_TESTS}::test_best_recipe_augments",
         f"{MODELS_TESTS}::test_train_best_cnn_feeds_augmented_images"),
    ),
    Mutation(
        "ledger-check-always-passes",
        "helpers.test_record.check never finds a reused seed",
        "helpers/test_record.py",
        "    mark = fingerprint(settings)\n    for path in _records_to_check():",
        "    mark = fingerprint(settings)\n    return\n    for path in _records_to_check():",
        ("tests/test_test_record.py",),
    ),
    Mutation(
        "ink-polarity-not-inverted",
        "helpers.preprocess keeps dark ink dark (no inversion)",
        "helpers/preprocess.py",
        "return 1.0 - gray if dark_ink else gray.astype(np.float32)",
        "return gray.astype(np.float32)",
        ("tests/test_preprocess.py::test_contrast_gives_white_ink_on_black_in_both_polarities",),
    ),
    Mutation(
        "no-sha256-check",
        "helpers.data.validate_arrays skips the SHA-256 comparison",
        "helpers/data.py",
        "        if hashlib.sha256(arrays[key].tobytes()).hexdigest() != expected_digest:",
        "        if False:",
        ("tests/test_data.py", "-k", "wrong_arrays or bad_keras_cache"),
    ),
    Mutation(
        "deploy-exports-untrained-model",
        "notebook 11 exports a freshly built (untrained) best CNN instead of loading it",
        "notebooks/11_deploy.ipynb",
        "model = artifacts.load_model(predict.default_model())",
        "from helpers import models\nmodel = models.build_cnn(kernel=5, hidden=256)",
        ("notebooks/11_deploy.ipynb",),
    ),
    Mutation(
        "deploy-exports-scrambled-model",
        "notebook 11 exports the best CNN with its trained weights shuffled (non-zero biases, "
        "so the ONNX graph keeps its shape)",
        "notebooks/11_deploy.ipynb",
        "model = artifacts.load_model(predict.default_model())",
        "model = artifacts.load_model(predict.default_model())\n"
        "model.set_weights([np.random.default_rng(0).permutation(w.ravel()).reshape(w.shape)\n"
        "                   for w in model.get_weights()])",
        ("notebooks/11_deploy.ipynb",),
    ),
    Mutation(
        "ladder-label-smoothing-0",
        "notebook 06's rung 10 trains with label smoothing 0 instead of 0.1",
        "notebooks/06_improving_the_model.ipynb",
        "return compile_schedule(model, label_smoothing=0.1)",
        "return compile_schedule(model, label_smoothing=0.0)",
        ("tests/test_notebook06_cells.py",),
    ),
    Mutation(
        "notebook03-checkpoint-on-loss",
        "notebook 03's checkpoint monitors the training loss, not validation accuracy",
        "notebooks/03_training.ipynb",
        'monitor="val_accuracy", mode="max", save_best_only=True,',
        'monitor="loss", mode="min", save_best_only=True,',
        (f"{NOTEBOOK_MODEL_TESTS}::test_notebook_03_fits_like_fit_with_checkpoint",),
    ),
)


class MutationError(RuntimeError):
    """A breakage that cannot be applied (its text is missing or not unique)."""


@dataclass(frozen=True)
class Outcome:
    """What the tests said about one breakage (or about the unbroken copy)."""

    name: str
    verdict: str  # "caught", "NOT CAUGHT", "TIMEOUT" or "ERROR"
    detail: str
    seconds: float


# Copying and breaking ----------------------------------------------------------------------


def tracked_files(root: Path) -> list[str]:
    """The repository's paths (relative) that git tracks or would track: ``git ls-files``
    with the untracked files that are not ignored (a new test not committed yet)."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=root, capture_output=True,
                             check=True).stdout.decode()
    return [path for path in listing.split("\0") if path]


def copy_repository(root: Path, target: Path) -> None:
    """Copy the tracked files of ``root`` (working-tree state) into ``target``; link .venv
    and node_modules."""
    for relative in tracked_files(root):
        source = root / relative
        if not source.is_file():  # deleted in the working tree, or a submodule
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    for name in LINKED:
        if (root / name).exists():
            (target / name).symlink_to(root / name, target_is_directory=True)


def replace_once(text: str, old: str, new: str, where: str) -> str:
    """``text`` with its one occurrence of ``old`` replaced; MutationError if not exactly one."""
    count = text.count(old)
    if count != 1:
        found = "not found" if count == 0 else f"found {count} times"
        raise MutationError(f"{where}: the text to replace is {found}:\n{old}")
    return text.replace(old, new)


def mutate_notebook(path: Path, old: str, new: str) -> None:
    """Replace ``old`` by ``new`` in the one code cell of the notebook that contains it."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"
             and old in "".join(cell["source"])]
    if len(cells) != 1:
        raise MutationError(f"{path.name}: {len(cells)} code cells contain the text:\n{old}")
    source = replace_once("".join(cells[0]["source"]), old, new, path.name)
    cells[0]["source"] = source.splitlines(keepends=True)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def apply(mutation: Mutation, copy: Path) -> None:
    """Apply ``mutation`` to the copy of the repository in ``copy``."""
    path = copy / mutation.path
    if not path.is_file():
        raise MutationError(f"{mutation.name}: no file {mutation.path}")
    if path.suffix == ".ipynb":
        mutate_notebook(path, mutation.old, mutation.new)
    else:
        text = path.read_text(encoding="utf-8")
        path.write_text(replace_once(text, mutation.old, mutation.new, mutation.path),
                        encoding="utf-8")


# Running the tests -------------------------------------------------------------------------


def test_environment(copy: Path) -> dict[str, str]:
    """Quick mode, the copy's helpers first on the path, temporary files inside the copy."""
    scratch = copy / ".tmp"
    scratch.mkdir(exist_ok=True)
    env = dict(os.environ, DIGITS_QUICK="1", PYTHONPATH=str(copy), TMPDIR=str(scratch),
               TF_CPP_MIN_LOG_LEVEL="2", MPLBACKEND="Agg")
    env.pop("DIGITS_OUTPUT_DIR", None)  # conftest.py makes a fresh one
    env.pop("DIGITS_COURSE_RUN", None)
    return env


def python_of(copy: Path) -> str:
    """The copy's (linked) virtual environment's Python, else this one."""
    candidate = copy / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def check_imports_from_copy(copy: Path, env: dict[str, str]) -> None:
    """Fail unless ``helpers`` imports from the copy, also from notebooks/ (where kernels
    start): the venv's editable install points at the original repository."""
    result = subprocess.run([python_of(copy), "-c", "import helpers; print(helpers.__file__)"],
                            cwd=copy / "notebooks", env=env, capture_output=True, text=True)
    location = result.stdout.strip()
    if result.returncode != 0 or not Path(location).resolve().is_relative_to(copy.resolve()):
        raise MutationError(f"helpers imports from {location or result.stderr}, not the copy")


def failed_tests(output: str) -> list[str]:
    """Test ids from pytest's short summary lines (FAILED / ERROR)."""
    found = []
    for line in output.splitlines():
        for prefix in ("FAILED ", "ERROR "):
            if line.startswith(prefix):
                found.append(line[len(prefix):].split(" - ")[0].strip())
    return found


def run_pytest(copy: Path, tests: Sequence[str], timeout: float) -> tuple[int | None, str]:
    """Run pytest on ``tests`` in ``copy``; (exit code or None on timeout, output)."""
    env = test_environment(copy)
    check_imports_from_copy(copy, env)
    command = [python_of(copy), "-m", "pytest", *PYTEST_OPTIONS, *tests]
    process = subprocess.Popen(command, cwd=copy, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the whole group: notebook kernels too
        output, _ = process.communicate()
        return None, output


def verdict(name: str, code: int | None, output: str, seconds: float) -> Outcome:
    """Read pytest's exit code and output as an Outcome."""
    if code is None:
        return Outcome(name, "TIMEOUT", "ran past the time limit", seconds)
    if code == 0:
        return Outcome(name, "NOT CAUGHT", "all chosen tests passed", seconds)
    failed = failed_tests(output)
    if code == 1 and failed:
        return Outcome(name, "caught", ", ".join(failed), seconds)
    tail = " / ".join(line for line in output.strip().splitlines()[-3:])
    return Outcome(name, "ERROR", f"pytest exit code {code}: {tail}", seconds)


def run_one(name: str, tests: Sequence[str], timeout: float,
            mutation: Mutation | None = None) -> Outcome:
    """Copy the repository, apply ``mutation`` (none: the baseline), run ``tests``."""
    with tempfile.TemporaryDirectory(prefix=f"digits-mutant-{name}-") as folder:
        copy = Path(folder)
        copy_repository(REPO_ROOT, copy)
        if mutation is not None:
            apply(mutation, copy)
        start = time.perf_counter()
        code, output = run_pytest(copy, tests, timeout)
        outcome = verdict(name, code, output, time.perf_counter() - start)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    (LOG_DIR / f"{name}.log").write_text(output, encoding="utf-8")
    if outcome.verdict == "ERROR" or (mutation is None and outcome.verdict != "NOT CAUGHT"):
        print(output[-3000:], file=sys.stderr)
    return outcome


def dry_run(mutation: Mutation) -> None:
    """Apply ``mutation`` to a fresh copy and check that helpers imports from it."""
    with tempfile.TemporaryDirectory(prefix=f"digits-mutant-{mutation.name}-") as folder:
        copy = Path(folder)
        copy_repository(REPO_ROOT, copy)
        apply(mutation, copy)
        check_imports_from_copy(copy, test_environment(copy))


# Reporting ---------------------------------------------------------------------------------


def escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def report(outcomes: Sequence[Outcome], mutations: dict[str, Mutation]) -> str:
    """The markdown table of the outcomes."""
    lines = ["| breakage | file | verdict | red test(s) | seconds |", "|---|---|---|---|---|"]
    for outcome in outcomes:
        mutation = mutations.get(outcome.name)
        where = f"`{mutation.path}`" if mutation else "(unbroken copy)"
        label = f"**{outcome.name}**: {mutation.description}" if mutation else outcome.name
        detail = outcome.detail if outcome.verdict != "caught" else f"`{outcome.detail}`"
        lines.append(f"| {escape(label)} | {where} | {outcome.verdict} | {escape(detail)} "
                     f"| {outcome.seconds:.0f} |")
    caught = sum(o.verdict == "caught" for o in outcomes if o.name in mutations)
    total = sum(o.name in mutations for o in outcomes)
    lines += ["", f"{caught} of {total} breakages caught."]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the breakages and exit")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help="run only this breakage (repeatable)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds allowed for the tests of one breakage (default 600)")
    parser.add_argument("--dry-run", action="store_true",
                        help="only check that every breakage applies to a copy")
    parser.add_argument("--baseline", action="store_true",
                        help="first run the chosen tests on an unbroken copy")
    return parser.parse_args(argv)


def chosen(names: Sequence[str]) -> list[Mutation]:
    """The breakages named (all when none); SystemExit for an unknown name."""
    known = {mutation.name: mutation for mutation in MUTATIONS}
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise SystemExit(f"unknown breakage(s) {unknown}; --list shows them")
    return [known[name] for name in names] if names else list(MUTATIONS)


def baseline_tests(mutations: Sequence[Mutation]) -> list[list[str]]:
    """Each breakage's test selection, duplicates removed (a ``-k`` keeps its own run)."""
    selections: list[list[str]] = []
    for mutation in mutations:
        if list(mutation.tests) not in selections:
            selections.append(list(mutation.tests))
    return selections


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    mutations = chosen(args.only)
    if args.list:
        for mutation in mutations:
            print(f"{mutation.name:32} {mutation.path:30} {mutation.description}")
        return 0
    if args.dry_run:
        for mutation in mutations:
            dry_run(mutation)
            print(f"{mutation.name}: applies")
        return 0
    outcomes: list[Outcome] = []
    if args.baseline:
        for index, tests in enumerate(baseline_tests(mutations)):
            outcome = run_one(f"baseline-{index + 1}", tests, args.timeout)
            outcomes.append(Outcome(f"baseline: {' '.join(tests)}", outcome.verdict.replace(
                "NOT CAUGHT", "passed"), outcome.detail, outcome.seconds))
            print(f"{outcomes[-1].name}: {outcomes[-1].verdict}", file=sys.stderr)
    for mutation in mutations:
        outcome = run_one(mutation.name, mutation.tests, args.timeout, mutation)
        outcomes.append(outcome)
        print(f"{mutation.name}: {outcome.verdict} ({outcome.seconds:.0f} s) {outcome.detail}",
              file=sys.stderr)
    table = report(outcomes, {mutation.name: mutation for mutation in mutations})
    print(table)
    REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    REPORT_PATH.write_text(table, encoding="utf-8")
    broken = [o for o in outcomes if o.name in {m.name for m in mutations}
              and o.verdict != "caught"]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
