"""Shared helpers of the digits course (MNIST with convolutional networks, Keras 3).

Modules: ``config`` (paths, seed, quick/full mode), ``data`` (loading and checking
MNIST), ``models`` (functional-API builders), ``training``, ``artifacts`` (saving
and loading models), ``plots``, ``analysis``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's C++ info lines

from helpers.config import SEED, mode_name, output_dir, set_seed  # noqa: E402

__all__ = ["setup"]


def setup(seed: int = SEED) -> None:
    """Start a notebook: seed everything, set the plot style, say which mode runs."""
    from helpers.plots import use_course_style

    set_seed(seed)
    use_course_style()
    print(f"digits course, {mode_name()} mode: outputs go to {output_dir()}")
