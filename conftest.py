"""pytest configuration shared by the unit tests and the notebook tests (nbval).

Notebook kernels inherit this process's environment, so quick mode and quiet
TensorFlow logging are switched on here, before any notebook is collected.
"""

import os

os.environ["DIGITS_QUICK"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYTHONHASHSEED", "0")


def pytest_collectstart(collector):
    """Compare only stdout and rich outputs of checked cells: TensorFlow writes
    start-up lines to stderr that vary between machines."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
