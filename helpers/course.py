"""The course's two commands in Python, for Windows, macOS and Linux (no make, no bash).

    python -m helpers.course                 run the course: every notebook in full mode, in
                                             order (00, 01, ...), then every solutions notebook
    python -m helpers.course 06 07           only notebooks 06 and 07 and their solutions
    python -m helpers.course --no-solutions  the notebooks without the solutions
    python -m helpers.course --test          the test suite in quick mode (``python -m pytest``);
                                             arguments after --test go to pytest
    python -m helpers.course --benchmark     ``python -m helpers.benchmark`` as the course's run
    python -m helpers.course --python ARGS   the course environment's Python with ARGS
                                             (``make site`` and ``make lint`` use it)

``make course``, ``make test`` and ``make benchmark`` call these commands. A course run
executes each notebook with ``jupyter nbconvert --execute --inplace`` and no time limit,
prints each one's wall time, and stops at the first notebook that fails. It runs as the
course's own run: ``DIGITS_QUICK`` and ``DIGITS_OUTPUT_DIR`` removed, ``DIGITS_COURSE_RUN=1``
(outputs go to the committed figures/, models/ and results/); so does the benchmark. The
tests run with ``DIGITS_QUICK=1`` and without ``DIGITS_COURSE_RUN``.

Which Python runs them: the active virtual or conda environment's (``VIRTUAL_ENV`` or
``CONDA_PREFIX`` set, or this Python is a venv's), after installing ``requirements.txt``
and this package into it when they changed since the last install; with no environment
active, ``.venv/`` in the repository, created and installed the same way, and the command
re-runs itself with ``.venv``'s Python. A stamp file in the environment
(:data:`STAMP_NAME`) holds the SHA-256 of ``requirements.txt`` and ``pyproject.toml`` at the
last install. ``--no-install`` skips the install (an offline machine whose environment is
already complete).

This module imports only the standard library (and :mod:`helpers.config`, which does too):
it must start on a bare Python that has none of the course's packages yet.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from helpers.config import COURSE_RUN_ENV, OUTPUT_ENV, QUICK_ENV, REPO_ROOT

SUPPORTED_PYTHONS = ((3, 11), (3, 12), (3, 13))
"""The Python versions the pins install on (TensorFlow 2.21 has no wheel for 3.14); the same
range as ``requires-python`` in pyproject.toml."""

VENV_DIR = ".venv"
"""The environment created in the repository when none is active."""

STAMP_NAME = "digits-course-install.json"
"""The file, inside the environment, recording what was installed into it."""

INSTALL_INPUTS = ("requirements.txt", "pyproject.toml")
"""The files whose change makes the next command install again."""

MODES = ("--test", "--benchmark", "--python")

NBCONVERT = ["-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
             "--ExecutePreprocessor.timeout=-1", "--log-level=WARN"]
"""nbconvert's arguments for one notebook of a course run (no time limit per cell)."""


class CourseError(Exception):
    """A problem the learner can fix (an unknown notebook, an unsupported Python, a failed
    install): its message is printed without a traceback."""


# Which notebooks -----------------------------------------------------------------------------


def course_notebooks(root: Path = REPO_ROOT) -> list[Path]:
    """The notebooks of a course run, in the order they run: ``notebooks/NN_*.ipynb`` by
    name, then ``notebooks/solutions/*.ipynb`` by name."""
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    solutions = sorted((root / "notebooks" / "solutions").glob("*.ipynb"))
    return notebooks + solutions


def _number(name: str) -> str | None:
    head = name.split("_", 1)[0]
    return head if len(head) == 2 and head.isdigit() else None


def select_notebooks(notebooks: Sequence[Path], selectors: Sequence[str],
                     solutions: bool = True) -> list[Path]:
    """The notebooks that ``selectors`` name, in the course's order (whatever the order of
    the selectors: a later notebook may need an earlier one's model).

    A selector is a notebook's number (``06`` or ``6``: that notebook and its solutions) or
    a notebook file of the course (its path or its name: that notebook only). No selector
    means every notebook. ``solutions=False`` leaves out notebooks/solutions/.
    Raises :class:`CourseError` for a selector that names no notebook.
    """
    chosen: set[Path] = set()
    for selector in selectors:
        if selector.isdigit() and len(selector) <= 2:
            number = selector.zfill(2)
            matches = [nb for nb in notebooks if _number(nb.name) == number]
        else:
            wanted = Path(selector)
            matches = [nb for nb in notebooks
                       if nb.name == wanted.name and (len(wanted.parts) == 1
                                                      or _same_file(nb, wanted))]
        if not matches:
            numbers = sorted({n for nb in notebooks if (n := _number(nb.name))})
            raise CourseError(f"no course notebook matches {selector!r}: give a number "
                              f"({', '.join(numbers)}) or a notebook file")
        chosen.update(matches)
    selected = [nb for nb in notebooks if not selectors or nb in chosen]
    if not solutions:
        selected = [nb for nb in selected if nb.parent.name != "solutions"]
    return selected


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


# Which environment variables -----------------------------------------------------------------


def command_environment(mode: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of the command that ``mode`` runs ("course", "benchmark", "test" or
    "python"), from ``environ`` (not changed)."""
    env = dict(environ)
    if mode in ("course", "benchmark"):
        env.pop(QUICK_ENV, None)
        env.pop(OUTPUT_ENV, None)
        env[COURSE_RUN_ENV] = "1"
    elif mode == "test":
        env[QUICK_ENV] = "1"
        env.pop(COURSE_RUN_ENV, None)
    return env


# Which Python ---------------------------------------------------------------------------------


def environment_is_active(environ: Mapping[str, str], prefix: str, base_prefix: str) -> bool:
    """Whether a virtual or conda environment is active: ``VIRTUAL_ENV`` or ``CONDA_PREFIX``
    is set, or this Python runs inside a venv (``sys.prefix != sys.base_prefix``)."""
    return bool(environ.get("VIRTUAL_ENV") or environ.get("CONDA_PREFIX")) or (
        os.path.normcase(os.path.abspath(prefix)) != os.path.normcase(os.path.abspath(base_prefix)))


def venv_python(venv: Path, windows: bool = os.name == "nt") -> Path:
    """The Python of a venv: ``Scripts\\python.exe`` on Windows, ``bin/python`` elsewhere."""
    return venv / "Scripts" / "python.exe" if windows else venv / "bin" / "python"


def activated_environment(environ: Mapping[str, str], venv: Path,
                          windows: bool = os.name == "nt") -> dict[str, str]:
    """``environ`` as the venv's activation script leaves it: ``VIRTUAL_ENV`` set and the
    venv's scripts folder first on ``PATH`` (for programs the tests and notebooks start)."""
    env = dict(environ)
    scripts = venv_python(venv, windows).parent
    env["VIRTUAL_ENV"] = str(venv)
    env.pop("PYTHONHOME", None)
    env["PATH"] = str(scripts) + (";" if windows else ":") + env.get("PATH", "")
    return env


def check_python(version: Sequence[int] = tuple(sys.version_info)) -> None:
    """Raise :class:`CourseError`, saying what to do, on a Python the pins do not support."""
    if tuple(version[:2]) in SUPPORTED_PYTHONS:
        return
    low, high = SUPPORTED_PYTHONS[0], SUPPORTED_PYTHONS[-1]
    raise CourseError(
        f"this is Python {version[0]}.{version[1]}; the course needs Python "
        f"{low[0]}.{low[1]}-{high[0]}.{high[1]} (TensorFlow 2.21 has no wheel for newer ones). "
        f"Install Python {high[0]}.{high[1]} and run the command with it: "
        f"`python{high[0]}.{high[1]} -m helpers.course ...` (Windows: "
        f"`py -{high[0]}.{high[1]} -m helpers.course ...`), or use conda (environment.yml).")


# Installing -----------------------------------------------------------------------------------


def install_fingerprint(root: Path = REPO_ROOT) -> dict[str, str]:
    """SHA-256 of each file whose change calls for a new install."""
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest()
            for name in INSTALL_INPUTS}


def needs_install(stamp: Path, root: Path = REPO_ROOT) -> bool:
    """Whether the environment whose stamp is ``stamp`` lacks the current pins."""
    try:
        return json.loads(stamp.read_text()) != install_fingerprint(root)
    except (OSError, ValueError):
        return True


def run_command(command: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> int:
    """Run one program (a list of arguments, no shell) and return its exit code. Every
    program this module starts goes through here (the tests replace it)."""
    return subprocess.run(list(command), cwd=cwd, env=None if env is None else dict(env)).returncode


def install(python: Path, environment: Path, root: Path = REPO_ROOT,
            upgrade_pip: bool = False) -> bool:
    """Install requirements.txt and this package (editable) with ``python`` when the stamp in
    ``environment`` is out of date; write the stamp. Returns whether it installed."""
    stamp = environment / STAMP_NAME
    if not needs_install(stamp, root):
        return False
    print(f"Installing requirements.txt and the helpers package into {environment} "
          "(a few minutes the first time)", flush=True)
    pip = [str(python), "-m", "pip"]
    if upgrade_pip and run_command([*pip, "install", "--quiet", "--upgrade", "pip"], root):
        raise CourseError(f"could not upgrade pip in {environment}")
    if run_command([*pip, "install", "--quiet", "-r", "requirements.txt", "-e", "."], root):
        raise CourseError(f"installing requirements.txt into {environment} failed (see pip's "
                          "message above)")
    try:
        stamp.write_text(json.dumps(install_fingerprint(root), indent=1) + "\n")
    except OSError as error:  # a read-only conda base, say: install again next time
        print(f"note: could not write {stamp} ({error}); the next command installs again",
              flush=True)
    return True


def ensure_venv(root: Path = REPO_ROOT, base_python: str = sys.executable,
                do_install: bool = True) -> Path:
    """Create ``.venv`` in ``root`` with ``base_python`` if it has no Python, install the pins
    into it when they changed, and return its Python."""
    venv = root / VENV_DIR
    python = venv_python(venv)
    if not python.is_file():
        print(f"No virtual or conda environment is active: creating {venv}", flush=True)
        if run_command([base_python, "-m", "venv", str(venv)], root) or not python.is_file():
            raise CourseError(f"could not create {venv} with {base_python} -m venv (on "
                              "Debian/Ubuntu: sudo apt-get install python3-venv)")
    if do_install:
        install(python, venv, root, upgrade_pip=True)
    return python


# The commands ---------------------------------------------------------------------------------


def format_seconds(seconds: float) -> str:
    """``42 s`` or ``12 min 05 s``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    return f"{whole // 60} min {whole % 60:02d} s"


def run_course(python: str, notebooks: Sequence[Path], environ: Mapping[str, str],
               root: Path = REPO_ROOT) -> int:
    """Execute ``notebooks`` in place one after the other in the course's run; print each
    one's wall time. Stops at the first that fails and returns its exit code (0 when all ran)."""
    env = command_environment("course", environ)
    times: list[tuple[str, float]] = []
    for notebook in notebooks:
        shown = _shown(notebook, root)
        print(f"== {shown}", flush=True)
        start = time.perf_counter()
        code = run_command([python, *NBCONVERT, str(notebook)], root, env)
        seconds = time.perf_counter() - start
        if code:
            print(f"   FAILED after {format_seconds(seconds)} (exit code {code}); the course "
                  "run stops here", flush=True)
            return code
        print(f"   done in {format_seconds(seconds)}", flush=True)
        times.append((shown, seconds))
    total = sum(seconds for _, seconds in times)
    print(f"== {len(times)} notebooks in {format_seconds(total)}", flush=True)
    width = max((len(name) for name, _ in times), default=0)
    for name, seconds in times:
        print(f"   {name:<{width}}  {format_seconds(seconds):>11}", flush=True)
    return 0


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


@dataclass
class Command:
    mode: str = "course"  # course, test, benchmark or python
    arguments: list[str] = field(default_factory=list)
    solutions: bool = True
    install: bool = True


def parse_arguments(argv: Sequence[str]) -> Command:
    """Read the command line: options of this command, then --test, --benchmark or --python
    followed by the arguments that go on to pytest, the benchmark or Python."""
    argv = list(argv)
    split = next((i for i, arg in enumerate(argv) if arg in MODES), len(argv))
    parser = argparse.ArgumentParser(
        prog="python -m helpers.course", description=__doc__.split("\n\n")[0],
        usage="python -m helpers.course [options] [NN ...]\n"
              "       python -m helpers.course [options] --test|--benchmark|--python [ARGS ...]",
        epilog="--test ARGS, --benchmark ARGS and --python ARGS pass ARGS on to pytest, "
               "helpers.benchmark or Python.")
    parser.add_argument("notebooks", nargs="*", metavar="NN",
                        help="notebook numbers (06: notebook 06 and its solutions) or notebook "
                             "files; none: the whole course")
    parser.add_argument("--no-solutions", action="store_true",
                        help="leave out notebooks/solutions/")
    parser.add_argument("--no-install", action="store_true",
                        help="use the environment as it is (no pip install)")
    for mode in MODES:
        parser.add_argument(mode, action="store_true",
                            help={"--test": "run the test suite in quick mode",
                                  "--benchmark": "run python -m helpers.benchmark",
                                  "--python": "run the environment's Python"}[mode])
    options = parser.parse_args(argv[:split])
    command = Command(solutions=not options.no_solutions, install=not options.no_install)
    if split < len(argv):
        if options.notebooks or options.no_solutions:
            parser.error(f"notebook choices do not go with {argv[split]}")
        command.mode = argv[split][2:]
        command.arguments = argv[split + 1:]
    else:
        command.arguments = options.notebooks
    return command


def dispatch(command: Command, python: str, environ: Mapping[str, str],
             root: Path = REPO_ROOT) -> int:
    """Run ``command`` with ``python`` (the chosen environment's) and return its exit code."""
    if command.mode == "course":
        notebooks = select_notebooks(course_notebooks(root), command.arguments,
                                     command.solutions)
        return run_course(python, notebooks, environ, root)
    module = {"test": ["-m", "pytest"], "benchmark": ["-m", "helpers.benchmark"],
              "python": []}[command.mode]
    return run_command([python, *module, *command.arguments], root,
                       command_environment(command.mode, environ))


def main(argv: Sequence[str] | None = None, *, root: Path = REPO_ROOT,
         environ: Mapping[str, str] | None = None, prefix: str = sys.prefix,
         base_prefix: str = sys.base_prefix, python: str = sys.executable,
         version: Sequence[int] = tuple(sys.version_info)) -> int:
    """Choose the environment (installing into it when needed), then run the command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    environ = os.environ if environ is None else environ
    command = parse_arguments(argv)
    try:
        if command.mode == "course":  # an unknown notebook stops before anything installs
            select_notebooks(course_notebooks(root), command.arguments, command.solutions)
        check_python(version)
        if environment_is_active(environ, prefix, base_prefix):
            if command.install:
                install(Path(python), Path(prefix), root)
            return dispatch(command, python, environ, root)
        chosen = ensure_venv(root, python, command.install)
        return run_command([str(chosen), "-m", "helpers.course", *argv], root,
                           activated_environment(environ, root / VENV_DIR))
    except CourseError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
