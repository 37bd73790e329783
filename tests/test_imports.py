"""Stages after training never import TensorFlow (it costs seconds and half a gigabyte)."""

import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.parametrize("module", ["mnist_filters.stages.data", "mnist_filters.stages.rank",
                                    "mnist_filters.stages.figures.samples",
                                    "mnist_filters.stages.figures.filters", "mnist_filters.stages.figures.top_patches",
                                    "mnist_filters.stages.figures.training_curve", "mnist_filters.runlog"])
def test_stage_does_not_import_tensorflow(module):
    code = f"import sys; import {module}; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO / "scripts", check=True)
    assert result.stdout.strip() == "False"
