"""The entry point ``python -m helpers.course`` (make course, make test, make benchmark): which
notebooks run, in which order, with which environment variables, and which Python runs them.
Every program it would start is replaced by a recorder, so nothing installs or executes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from helpers import course
from helpers.config import REPO_ROOT

NBCONVERT = ["-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
             "--ExecutePreprocessor.timeout=-1"]


def make_course(root: Path) -> Path:
    """A fake repository: notebooks, solutions, things that are not course notebooks, and the
    two files whose change calls for an install."""
    for name in ("notebooks/10_deploy.ipynb", "notebooks/00_setup.ipynb",
                 "notebooks/02_model.ipynb", "notebooks/solutions/10_deploy_solutions.ipynb",
                 "notebooks/solutions/00_setup_solutions.ipynb",
                 "notebooks/scratch.ipynb", "notebooks/1_draft.ipynb",
                 "notebooks/.ipynb_checkpoints/00_setup-checkpoint.ipynb",
                 "notebooks/00_setup.py"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("{}")
    (root / "requirements.txt").write_text("numpy==2.4.6\n")
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    return root


def names(paths) -> list[str]:
    return [path.relative_to(path.parents[1] if path.parent.name == "solutions"
                             else path.parent).as_posix() for path in paths]


class Recorder:
    """Stands in for course.run_command: records (command, cwd, env) and returns the exit
    code ``codes`` gives for the command (0 by default); ``-m venv`` creates the venv's Python."""

    def __init__(self, codes=None):
        self.calls: list[tuple[list[str], Path, dict | None]] = []
        self.codes = codes or (lambda command: 0)

    def __call__(self, command, cwd, env=None):
        command = [str(part) for part in command]
        self.calls.append((command, Path(cwd), None if env is None else dict(env)))
        if command[1:3] == ["-m", "venv"]:
            python = course.venv_python(Path(command[3]))
            python.parent.mkdir(parents=True)
            python.write_text("")
        return self.codes(command)

    def commands(self) -> list[list[str]]:
        return [command for command, _, _ in self.calls]


@pytest.fixture
def recorder(monkeypatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(course, "run_command", recorder)
    return recorder


# Which notebooks, in which order -------------------------------------------------------------


def test_course_order_is_notebooks_by_number_then_solutions(tmp_path):
    root = make_course(tmp_path)
    assert names(course.course_notebooks(root)) == [
        "00_setup.ipynb", "02_model.ipynb", "10_deploy.ipynb",
        "solutions/00_setup_solutions.ipynb", "solutions/10_deploy_solutions.ipynb"]


def test_course_order_of_this_repository():
    notebooks = course.course_notebooks()
    main = sorted(REPO_ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))
    solutions = sorted(REPO_ROOT.glob("notebooks/solutions/*.ipynb"))
    assert notebooks == main + solutions
    assert notebooks[0].name == "00_setup.ipynb" and len(main) >= 10 and solutions


def test_selection_keeps_course_order_and_includes_solutions(tmp_path):
    notebooks = course.course_notebooks(make_course(tmp_path))
    assert names(course.select_notebooks(notebooks, ["10", "0"])) == [
        "00_setup.ipynb", "10_deploy.ipynb",
        "solutions/00_setup_solutions.ipynb", "solutions/10_deploy_solutions.ipynb"]
    assert names(course.select_notebooks(notebooks, ["10", "00"], solutions=False)) == [
        "00_setup.ipynb", "10_deploy.ipynb"]
    assert course.select_notebooks(notebooks, []) == notebooks
    assert names(course.select_notebooks(notebooks, [], solutions=False)) == [
        "00_setup.ipynb", "02_model.ipynb", "10_deploy.ipynb"]


def test_a_notebook_file_selects_only_itself(tmp_path):
    notebooks = course.course_notebooks(make_course(tmp_path))
    path = tmp_path / "notebooks" / "solutions" / "10_deploy_solutions.ipynb"
    assert course.select_notebooks(notebooks, [str(path)]) == [path]
    assert course.select_notebooks(notebooks, ["02_model.ipynb"]) == [
        tmp_path / "notebooks" / "02_model.ipynb"]


@pytest.mark.parametrize("selector", ["07", "scratch.ipynb", "123", "notebooks/elsewhere.ipynb"])
def test_an_unknown_selector_names_the_numbers(tmp_path, selector):
    notebooks = course.course_notebooks(make_course(tmp_path))
    with pytest.raises(course.CourseError, match=r"00, 02, 10"):
        course.select_notebooks(notebooks, [selector])


# Which environment variables ------------------------------------------------------------------


def test_course_and_benchmark_run_as_the_course_run():
    environ = {"DIGITS_QUICK": "1", "DIGITS_OUTPUT_DIR": "/tmp/x", "PATH": "/bin",
               "DIGITS_MNIST_PATH": "/data/mnist.npz"}
    for mode in ("course", "benchmark"):
        assert course.command_environment(mode, environ) == {
            "DIGITS_COURSE_RUN": "1", "PATH": "/bin", "DIGITS_MNIST_PATH": "/data/mnist.npz"}
    assert environ["DIGITS_QUICK"] == "1"  # the caller's mapping is not changed


def test_tests_run_in_quick_mode_and_not_as_the_course_run():
    environ = {"DIGITS_COURSE_RUN": "1", "DIGITS_QUICK": "0", "PATH": "/bin"}
    assert course.command_environment("test", environ) == {"DIGITS_QUICK": "1", "PATH": "/bin"}
    assert course.command_environment("python", environ) == environ


# Which Python -----------------------------------------------------------------------------------


@pytest.mark.parametrize("environ, prefix, base, active", [
    ({}, "/usr", "/usr", False),
    ({"VIRTUAL_ENV": "/v"}, "/usr", "/usr", True),
    ({"CONDA_PREFIX": "/c"}, "/usr", "/usr", True),
    ({}, "/repo/.venv", "/usr", True),  # a venv's Python run without activating it
    ({"VIRTUAL_ENV": ""}, "/usr", "/usr", False),
])
def test_environment_is_active(environ, prefix, base, active):
    assert course.environment_is_active(environ, prefix, base) is active


def test_venv_python_on_each_system():
    venv = Path("repo") / ".venv"
    assert course.venv_python(venv, windows=True) == venv / "Scripts" / "python.exe"
    assert course.venv_python(venv, windows=False) == venv / "bin" / "python"


def test_activated_environment_puts_the_venv_first():
    venv = Path("/repo/.venv")
    env = course.activated_environment({"PATH": "/usr/bin", "PYTHONHOME": "/x"}, venv, False)
    assert env == {"PATH": f"{venv / 'bin'}:/usr/bin", "VIRTUAL_ENV": str(venv)}
    env = course.activated_environment({"PATH": r"C:\Windows"}, venv, True)
    assert env["PATH"] == str(venv / "Scripts") + r";C:\Windows"


def test_supported_pythons_agree_with_pyproject():
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "requires-python"]
    low, high = re.fullmatch(r">=3\.(\d+),<3\.(\d+)", requires.replace(" ", "")).groups()
    assert course.SUPPORTED_PYTHONS == tuple((3, minor) for minor in range(int(low), int(high)))


@pytest.mark.parametrize("version", [(3, 10, 4), (3, 14, 0)])
def test_an_unsupported_python_is_refused_before_anything_runs(version, tmp_path, recorder,
                                                              capsys):
    root = make_course(tmp_path)
    code = course.main(["--test"], root=root, environ={}, prefix="/usr", base_prefix="/usr",
                       python="/usr/bin/python3", version=version)
    assert code == 1 and recorder.calls == []
    assert "3.11-3.13" in capsys.readouterr().err
    assert not (root / ".venv").exists()
    course.check_python((3, 13, 1))  # no error


def test_no_environment_creates_venv_installs_and_reruns_itself(tmp_path, recorder):
    root = make_course(tmp_path)
    venv = root / ".venv"
    argv = ["06", "--no-solutions"]
    (root / "notebooks" / "06_x.ipynb").write_text("{}")
    code = course.main(argv, root=root, environ={"PATH": "/usr/bin"}, prefix="/usr",
                       base_prefix="/usr", python="/usr/bin/python3", version=(3, 11, 7))
    assert code == 0
    python = str(course.venv_python(venv))
    assert recorder.commands() == [
        ["/usr/bin/python3", "-m", "venv", str(venv)],
        [python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [python, "-m", "pip", "install", "--quiet", "-r", "requirements.txt", "-e", "."],
        [python, "-m", "helpers.course", *argv],
    ]
    assert all(cwd == root for _, cwd, _ in recorder.calls)
    rerun_env = recorder.calls[-1][2]
    assert rerun_env["VIRTUAL_ENV"] == str(venv)
    assert rerun_env["PATH"].startswith(str(course.venv_python(venv).parent))
    stamp = json.loads((venv / course.STAMP_NAME).read_text())
    assert set(stamp) == {"requirements.txt", "pyproject.toml"}


def test_venv_installs_again_only_when_the_pins_change(tmp_path, recorder):
    root = make_course(tmp_path)

    def run():
        recorder.calls.clear()
        assert course.main(["--test"], root=root, environ={}, prefix="/usr", base_prefix="/usr",
                           python="/usr/bin/python3", version=(3, 12, 0)) == 0
        return [command[1:4] for command in recorder.commands()]

    assert ["-m", "venv", str(root / ".venv")] in run()
    assert run() == [["-m", "helpers.course", "--test"]]  # venv there, pins unchanged
    (root / "requirements.txt").write_text("numpy==2.4.7\n")
    assert ["-m", "pip", "install"] in run()
    assert run() == [["-m", "helpers.course", "--test"]]
    (root / "pyproject.toml").write_text("[project]\nname = 'y'\n")
    assert ["-m", "pip", "install"] in run()
    assert course.main(["--no-install", "--test"], root=root, environ={}, prefix="/usr",
                       base_prefix="/usr", python="/usr/bin/python3", version=(3, 12, 0)) == 0


def test_active_environment_is_used_and_installed_into(tmp_path, recorder):
    root = make_course(tmp_path)
    env_dir = tmp_path / "conda-env"
    env_dir.mkdir()
    environ = {"CONDA_PREFIX": str(env_dir), "DIGITS_COURSE_RUN": "1"}
    code = course.main(["--test", "-k", "data"], root=root, environ=environ,
                       prefix=str(env_dir), base_prefix=str(env_dir),
                       python="/conda/bin/python", version=(3, 13, 0))
    assert code == 0
    assert recorder.commands() == [
        ["/conda/bin/python", "-m", "pip", "install", "--quiet", "-r", "requirements.txt",
         "-e", "."],
        ["/conda/bin/python", "-m", "pytest", "-k", "data"],
    ]
    assert recorder.calls[-1][2] == {"CONDA_PREFIX": str(env_dir), "DIGITS_QUICK": "1"}
    assert not (root / ".venv").exists()
    assert (env_dir / course.STAMP_NAME).is_file()
    recorder.calls.clear()
    course.main(["--test"], root=root, environ=environ, prefix=str(env_dir),
                base_prefix=str(env_dir), python="/conda/bin/python", version=(3, 13, 0))
    assert recorder.commands() == [["/conda/bin/python", "-m", "pytest"]]


def test_a_failed_install_stops_with_its_message(tmp_path, monkeypatch, capsys):
    root = make_course(tmp_path)
    recorder = Recorder(codes=lambda command: 1 if "-r" in command else 0)
    monkeypatch.setattr(course, "run_command", recorder)
    code = course.main(["--test"], root=root, environ={"VIRTUAL_ENV": "/v"}, prefix=str(tmp_path),
                       base_prefix="/usr", python="/v/bin/python", version=(3, 11, 0))
    assert code == 1 and "pip" in capsys.readouterr().err
    assert not any("pytest" in command for command in recorder.commands())
    assert not (tmp_path / course.STAMP_NAME).exists()


# The commands -----------------------------------------------------------------------------------


def active(argv, root, recorder, environ=None):
    """Run main() as from an active venv whose pins are installed (no install)."""
    recorder.calls.clear()
    return course.main(["--no-install", *argv], root=root,
                       environ={"VIRTUAL_ENV": "/v", **(environ or {})}, prefix="/v",
                       base_prefix="/usr", python="/v/bin/python", version=(3, 11, 0))


def test_course_runs_every_notebook_in_place_in_order(tmp_path, recorder, capsys):
    root = make_course(tmp_path)
    environ = {"DIGITS_QUICK": "1", "DIGITS_OUTPUT_DIR": "/tmp/o"}
    assert active([], root, recorder, environ) == 0
    notebooks = course.course_notebooks(root)
    assert [command[:len(NBCONVERT) + 1] for command in recorder.commands()] == [
        ["/v/bin/python", *NBCONVERT]] * len(notebooks)
    assert [Path(command[-1]) for command in recorder.commands()] == notebooks
    for _, cwd, env in recorder.calls:
        assert cwd == root
        assert env == {"VIRTUAL_ENV": "/v", "DIGITS_COURSE_RUN": "1"}
    out = capsys.readouterr().out
    assert out.count("done in") == len(notebooks)
    assert "== notebooks/00_setup.ipynb" in out and "== 5 notebooks in" in out


def test_course_subset(tmp_path, recorder):
    root = make_course(tmp_path)
    assert active(["10", "02"], root, recorder) == 0
    assert names(Path(command[-1]) for command in recorder.commands()) == [
        "02_model.ipynb", "10_deploy.ipynb", "solutions/10_deploy_solutions.ipynb"]


def test_course_stops_at_the_first_failing_notebook(tmp_path, monkeypatch, capsys):
    root = make_course(tmp_path)
    recorder = Recorder(codes=lambda command: 3 if command[-1].endswith("02_model.ipynb") else 0)
    monkeypatch.setattr(course, "run_command", recorder)
    assert active([], root, recorder) == 3
    assert names(Path(command[-1]) for command in recorder.commands()) == [
        "00_setup.ipynb", "02_model.ipynb"]
    assert "FAILED" in capsys.readouterr().out


def test_an_unknown_notebook_stops_before_any_install(tmp_path, recorder, capsys):
    root = make_course(tmp_path)
    code = course.main(["07"], root=root, environ={}, prefix="/usr", base_prefix="/usr",
                       python="/usr/bin/python3", version=(3, 11, 0))
    assert code == 1 and recorder.calls == [] and "07" in capsys.readouterr().err


def test_test_benchmark_and_python_commands(tmp_path, recorder):
    root = make_course(tmp_path)
    environ = {"DIGITS_QUICK": "1", "DIGITS_OUTPUT_DIR": "/tmp/o"}
    assert active(["--test", "tests", "-x"], root, recorder, environ) == 0
    assert recorder.calls == [(["/v/bin/python", "-m", "pytest", "tests", "-x"], root,
                               {"VIRTUAL_ENV": "/v", "DIGITS_QUICK": "1",
                                "DIGITS_OUTPUT_DIR": "/tmp/o"})]
    assert active(["--benchmark", "--quick"], root, recorder, environ) == 0
    assert recorder.calls == [(["/v/bin/python", "-m", "helpers.benchmark", "--quick"], root,
                               {"VIRTUAL_ENV": "/v", "DIGITS_COURSE_RUN": "1"})]
    assert active(["--python", "site/build.py"], root, recorder) == 0
    assert recorder.commands() == [["/v/bin/python", "site/build.py"]]


def test_exit_code_of_the_command_is_returned(tmp_path, monkeypatch):
    root = make_course(tmp_path)
    recorder = Recorder(codes=lambda command: 5)
    monkeypatch.setattr(course, "run_command", recorder)
    assert active(["--test"], root, recorder) == 5


def test_parse_arguments():
    assert course.parse_arguments([]) == course.Command()
    assert course.parse_arguments(["06", "07", "--no-solutions"]) == course.Command(
        arguments=["06", "07"], solutions=False)
    assert course.parse_arguments(["--no-install", "--test", "--no-solutions", "-x"]) == (
        course.Command(mode="test", arguments=["--no-solutions", "-x"], install=False))
    with pytest.raises(SystemExit):
        course.parse_arguments(["06", "--test"])


def test_format_seconds():
    assert [course.format_seconds(s) for s in (0.4, 42, 59.6, 725)] == [
        "0 s", "42 s", "1 min 00 s", "12 min 05 s"]


# Starting on a bare Python, and the commands that call it -----------------------------------


def test_the_entry_point_imports_nothing_heavy():
    """It must start on a Python without the course's packages: no TensorFlow, Keras, NumPy."""
    script = ("import sys, helpers.course; "
              "print(sorted(m for m in ('tensorflow', 'keras', 'numpy', 'pandas', 'matplotlib') "
              "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_makefile_and_ci_call_the_entry_point():
    makefile = (REPO_ROOT / "Makefile").read_text()

    def recipe(target: str) -> str:
        match = re.search(rf"^{target}:[^\n]*\n((?:\t[^\n]*\n)+)", makefile, re.M)
        assert match, f"no target {target} in the Makefile"
        return match.group(1).replace("$(COURSE)", "$(PYTHON) -m helpers.course")

    assert recipe("course").split() == ["$(PYTHON)", "-m", "helpers.course", "$(NB)"]
    assert recipe("test").split() == ["$(PYTHON)", "-m", "helpers.course", "--test"]
    assert recipe("benchmark").split() == ["$(PYTHON)", "-m", "helpers.course", "--benchmark"]
    assert "env -u" not in makefile and ".venv/bin" not in makefile
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test \|\|", ci, re.M) and "python3.13" in ci
    assert re.search(r"-m helpers\.course (?:--no-install )?--test tests", ci)


def test_readme_and_environment_yml_agree():
    readme = (REPO_ROOT / "README.md").read_text()
    for command in ("make course", "make test", "python -m helpers.course ",
                    "python -m helpers.course --test"):
        assert command in readme, command
    assert "Python 3.11, 3.12 or 3.13" in readme
    environment = (REPO_ROOT / "environment.yml").read_text()
    python = re.search(r"^\s*- python=3\.(\d+)\s*$", environment, re.M)
    assert python and (3, int(python.group(1))) in course.SUPPORTED_PYTHONS
    for line in ("- nodejs", "- graphviz", "- -r requirements.txt", "- -e ."):
        assert line in environment, line
