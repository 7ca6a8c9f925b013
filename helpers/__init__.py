"""Shared helpers of the digits course (MNIST with convolutional networks, Keras 3).

Modules: ``config`` (paths, seed, quick/full mode), ``data`` (loading and checking
MNIST), ``models`` (functional-API builders), ``training``, ``artifacts`` (saving
and loading models), ``plots``, ``analysis``.

Importing this package makes the later import of TensorFlow quiet: TensorFlow's C++
start-up lines (an absl warning, oneDNN, CPU-feature and CUDA-stub notices, "failed call
to cuInit" on a machine without a GPU) are written to the process's stderr before any
Python setting can filter them, so TensorFlow's import and its first device query run
with stderr pointed at the null device. Notebooks therefore ``import helpers`` before
``keras``; ``import helpers`` itself does not import TensorFlow.
Set the environment variable ``DIGITS_TF_LOGS=1`` before starting Python (or the
Jupyter kernel) to see those lines again; then ``TF_CPP_MIN_LOG_LEVEL`` (0 shows all)
chooses how much TensorFlow logs afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
from collections.abc import Iterator
from importlib.machinery import ModuleSpec
from types import ModuleType

TF_LOGS_ENV = "DIGITS_TF_LOGS"
"""Set to 1 to keep TensorFlow's start-up log lines (hidden by default)."""


def _show_tf_logs() -> bool:
    return os.environ.get(TF_LOGS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@contextlib.contextmanager
def _stderr_to_null() -> Iterator[None]:
    """Point file descriptor 2 (the process's stderr, where C++ logs go) at the null device."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


class _QuietLoader(importlib.abc.Loader):
    """Runs TensorFlow's own loader with stderr silenced, then lists the devices (the CUDA
    probe that logs "failed call to cuInit" on a machine without a GPU)."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with _stderr_to_null():
            self.loader.exec_module(module)
            module.config.list_physical_devices()


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, through the other finders, and gives it a quiet loader."""

    def find_spec(self, fullname: str, path=None, target=None) -> ModuleSpec | None:
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # one import only, and no recursion
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def _import_tensorflow_quietly() -> None:
    """Make the first import of TensorFlow (by Keras or directly) quiet, without importing it.

    TensorFlow is imported only when a notebook or module asks for it, so ``import helpers``
    stays fast (the command ``python -m helpers.predict --help`` needs no TensorFlow).
    Only the start-up is silenced: once absl's logging is initialised,
    ``TF_CPP_MIN_LOG_LEVEL`` (2 here: warnings and info hidden, errors shown) applies to
    everything TensorFlow logs later. Python errors raised by the import still propagate.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if _show_tf_logs() or "tensorflow" in sys.modules:
        return
    if not any(isinstance(finder, _QuietTensorFlowFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())


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
    if where == ".":
        print(f"digits course, {mode_name()} mode (the course's own run): outputs go to "
              "figures/, models/ and results/")
    else:
        print(f"digits course, {mode_name()} mode: outputs go to {where}/ (the course's "
              "committed files are written only by make course)")
