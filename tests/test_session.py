"""The test session itself (conftest.py): a fresh output folder, and one clear stop when the
notebooks would run without MNIST."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import config
from helpers.config import DATA_ENV, OUTPUT_ENV, REPO_ROOT


def test_run_writes_to_a_fresh_folder_outside_the_repository():
    """Models and figures of an earlier run (or of older code) in scratch/quick/ are never
    seen: this run's quick-mode outputs go to a new temporary folder."""
    folder = config.output_dir()
    assert folder == Path(os.environ[OUTPUT_ENV]).resolve()
    assert folder.name.startswith("digits-test-")
    assert REPO_ROOT not in folder.parents


def test_missing_mnist_stops_the_run_before_any_notebook(tmp_path):
    missing = tmp_path / "mnist.npz"
    env = dict(os.environ, **{DATA_ENV: str(missing)})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "notebooks/00_setup.ipynb", "notebooks/01_data.ipynb"],
        capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 4, output[-3000:]
    assert f"MNIST file not found: {missing}" in output and f"export {DATA_ENV}=" in output
    assert "passed" not in output and "failed" not in output  # no notebook ran
