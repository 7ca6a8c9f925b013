"""Importing the helpers must not start TensorFlow's runtime: ``python -m helpers.speed
--threads N`` (notebook 10) sets the thread pools after its imports, which TensorFlow allows
only before its first operation."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import helpers.augmentation, helpers.models, helpers.speed, helpers.training
from tensorflow.python.eager import context
print(context.context()._initialized)
"""


def test_importing_the_helpers_leaves_the_runtime_unstarted():
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stdout
