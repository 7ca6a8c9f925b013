"""Shared helpers of the digits course (MNIST with convolutional networks, Keras 3).

Modules: ``config`` (paths, seed, quick/full mode), ``data`` (loading and checking
MNIST), ``models`` (functional-API builders), ``training``, ``artifacts`` (saving
and loading models), ``plots``, ``analysis``.

Importing this package imports TensorFlow quietly: TensorFlow's C++ start-up lines
(an absl warning, oneDNN, CPU-feature and CUDA-stub notices, "failed call to cuInit"
on a machine without a GPU) are written to the process's stderr before any Python
setting can filter them, so the import and the first device query run with stderr
pointed at the null device. Notebooks therefore ``import helpers`` before ``keras``.
Set the environment variable ``DIGITS_TF_LOGS=1`` before starting Python (or the
Jupyter kernel) to see those lines again; then ``TF_CPP_MIN_LOG_LEVEL`` (0 shows all)
chooses how much TensorFlow logs afterwards.
"""

from __future__ import annotations

import os
import sys

TF_LOGS_ENV = "DIGITS_TF_LOGS"
"""Set to 1 to keep TensorFlow's start-up log lines (hidden by default)."""


def _show_tf_logs() -> bool:
    return os.environ.get(TF_LOGS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and list its devices with file descriptor 2 sent to the null device.

    Only the start-up is silenced: once absl's logging is initialised,
    ``TF_CPP_MIN_LOG_LEVEL`` (2 here: warnings and info hidden, errors shown) applies to
    everything TensorFlow logs later. Python errors raised by the import still propagate.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if _show_tf_logs() or "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # the CUDA probe ("cuInit") logs here
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


_import_tensorflow_quietly()

from pathlib import Path  # noqa: E402

from helpers.config import REPO_ROOT, SEED, mode_name, output_dir, set_seed  # noqa: E402

__all__ = ["relative_to_repo", "setup"]


def relative_to_repo(path: str | Path) -> str:
    """Return ``path`` relative to the repository root (``"."`` for the root itself).

    Notebooks print paths through this so their committed outputs never show the
    folders of the machine that ran them. A path outside the repository is shown by
    its last two parts only, after ``…/``.
    """
    resolved = Path(path).expanduser().resolve()
    try:
        return resolved.relative_to(REPO_ROOT).as_posix() or "."
    except ValueError:
        return "…/" + "/".join(resolved.parts[-2:])


def setup(seed: int = SEED) -> None:
    """Start a notebook: seed everything, set the plot style, say which mode runs.

    The output folder is printed relative to the repository root, so a committed
    notebook never shows the folder of the machine it ran on.
    """
    from helpers.plots import use_course_style

    set_seed(seed)
    use_course_style()
    where = relative_to_repo(output_dir())
    where = "figures/, models/ and results/" if where == "." else f"{where}/"
    print(f"digits course, {mode_name()} mode: outputs go to {where}")
