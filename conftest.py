"""pytest configuration shared by the unit tests and the notebook tests (nbval).

Notebook kernels inherit this process's environment, so everything they must see is set
here, at import, before any notebook is collected:

- quick mode (``DIGITS_QUICK=1``) and quiet TensorFlow logging;
- ``DIGITS_OUTPUT_DIR``: a fresh, empty folder for this run, so that no test and no
  notebook loads a model, figure or result left by an earlier run (or by older code).
  Within the run, notebooks execute in order (00, 01, ... then the solutions), so 04-07
  find the model that 03 trained. The folder is removed when the run passes and kept,
  with its path printed, when something fails.

Before any test runs, a session that will execute notebooks checks that MNIST can be
loaded and otherwise stops with the loader's message, rather than failing every notebook.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ["DIGITS_QUICK"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYTHONHASHSEED", "0")

OUTPUT_DIR = Path(tempfile.mkdtemp(prefix="digits-test-"))
os.environ["DIGITS_OUTPUT_DIR"] = str(OUTPUT_DIR)


def pytest_report_header(config):
    return f"digits: quick mode; outputs go to a fresh folder, {OUTPUT_DIR}"


def pytest_collectstart(collector):
    """Compare only stdout and rich outputs of checked cells: TensorFlow writes
    start-up lines to stderr that vary between machines."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)


def needs_mnist(items) -> bool:
    """Whether the collected tests execute a notebook (every notebook loads MNIST)."""
    return any(Path(str(item.fspath)).suffix == ".ipynb" for item in items)


def pytest_collection_finish(session):
    """Stop the whole run, before any test, when notebooks would run and MNIST cannot be
    loaded: one clear message (the loader's) instead of one failure per notebook."""
    if session.config.option.collectonly or not needs_mnist(session.items):
        return
    from helpers.data import MnistDataError, load_mnist

    try:
        load_mnist()
    except MnistDataError as error:
        pytest.exit(f"MNIST is needed by the notebooks and could not be loaded.\n{error}",
                    returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_sessionfinish(session, exitstatus):
    """Remove this run's output folder if the run passed (or wrote nothing)."""
    if exitstatus == pytest.ExitCode.OK or not any(OUTPUT_DIR.iterdir()):
        shutil.rmtree(OUTPUT_DIR, ignore_errors=True)


def pytest_terminal_summary(terminalreporter, exitstatus):
    if exitstatus != pytest.ExitCode.OK and OUTPUT_DIR.exists():
        terminalreporter.write_line(f"digits: this run's outputs are kept in {OUTPUT_DIR}")
