"""No rule whose environment has no TensorFlow imports it: the stages after training that need
no network (ranking, the mistakes, every figure, the gallery, the comparisons, the data)."""

import subprocess
import sys

import pytest

from conftest import REPO
from helpers import rules
from mnist_filters.code_digest import closure

TENSORFLOW_ENVIRONMENT = "envs/tensorflow.yaml"
WITHOUT_TENSORFLOW = sorted(
    name
    for name, (conda, script) in rules().items()
    if conda and script and conda != TENSORFLOW_ENVIRONMENT
)


def library_modules(script: str) -> list[str]:
    """The dotted names of the library modules a rule script runs (its code digest's closure)."""
    scripts = REPO / "scripts"
    modules = []
    for path in closure(scripts / script, scripts):
        if path.parent == scripts:
            continue  # the rule script itself, which needs Snakemake's `snakemake` object
        parts = path.relative_to(scripts).with_suffix("").parts
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(modules)


def test_the_rules_without_tensorflow_are_found():
    assert {
        "rank_patches",
        "tally_mistakes",
        "gallery",
        "plot_filters",
        "plot_mistakes",
        "plot_evolution",
        "compare_runs",
        "get_mnist",
    } <= set(WITHOUT_TENSORFLOW)
    assert "train" not in WITHOUT_TENSORFLOW


@pytest.mark.parametrize("rule", WITHOUT_TENSORFLOW)
def test_the_rule_never_imports_tensorflow(rule):
    modules = library_modules(rules()[rule][1])
    assert any(module.startswith("mnist_filters.stages") for module in modules), modules
    imports = ", ".join(modules)
    loaded = "'tensorflow' in sys.modules or 'keras' in sys.modules"
    code = f"import sys; import {imports}; print({loaded})"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO / "scripts",
        check=True,
    )
    assert result.stdout.strip() == "False", f"{rule} imports TensorFlow through {modules}"
