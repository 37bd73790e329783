"""The environments: each rule's conda environment lists every third-party module that
rule's code imports, and a local run's environment leaves the SLURM plugin out.

Conda cannot run here, so the first reads instead: the rule's `conda:` file, and its script
with every library module that script runs (the closure its code digest covers).
"""

import ast
import os
import re
import shutil
import sys

import pytest
import yaml

from conftest import REPO, SLURM_PYTHON
from helpers import make_run, rules
from mnist_filters.code_digest import closure

# Import name -> the conda-forge (or pip) package that provides it.
PACKAGES = {"yaml": "pyyaml", "matplotlib": "matplotlib-base", "PIL": "pillow"}
# Rules whose code needs Python's standard library only (they read JSON and CSV).
STANDARD_LIBRARY_ONLY = {"compare_runs", "tabulate_transfer", "tabulate_few_shot"}


def third_party_imports(script):
    modules = set()
    for path in closure(REPO / "scripts" / script, REPO / "scripts"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else []
            )
            modules |= {name.split(".")[0] for name in names}
    return {
        m
        for m in modules
        if m not in sys.stdlib_module_names and m not in ("mnist_filters", "__future__")
    }


def listed(env_file):
    packages = set()
    for entry in yaml.safe_load((REPO / env_file).read_text())["dependencies"]:
        for spec in entry["pip"] if isinstance(entry, dict) else [entry]:
            packages.add(re.split(r"[=<>!\s]", spec, maxsplit=1)[0].lower())
    return packages


def test_every_rule_has_an_environment_and_a_script():
    found = rules()
    assert set(found) >= {
        "get_mnist",
        "train",
        "dump_activations",
        "rank_patches",
        "plot_samples",
        "plot_filters",
        "plot_top_patches",
        "plot_training_curve",
    }
    for name, (conda, script) in found.items():
        if name != "all":
            assert conda and script, name


@pytest.mark.parametrize("rule", sorted(set(rules()) - {"all"}))
def test_environment_lists_what_the_rule_imports(rule):
    conda, script = rules()[rule]
    needed = {PACKAGES.get(module, module).lower() for module in third_party_imports(script)}
    if rule in STANDARD_LIBRARY_ONLY:
        assert not needed, f"{rule} now imports {', '.join(sorted(needed))}"
        return
    assert needed, f"{rule}: found no third-party imports, which cannot be right"
    missing = needed - listed(conda)
    assert not missing, f"rule {rule}: {conda} lacks {', '.join(sorted(missing))}"


def imported_modules(make_arguments, tmp_path):
    """The modules a `make run` dry run imports (Python's -X importtime, through the Makefile)."""
    environment = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    shutil.copy(REPO / "config.yaml", tmp_path)  # the Snakefile's configfile, found in --directory
    result = make_run(*make_arguments, f"ARGS=--dry-run --directory {tmp_path}", env=environment)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "This was a dry-run" in result.stdout, result.stdout[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }


def test_a_local_run_never_imports_the_slurm_plugin(tmp_path):
    """Snakemake imports every installed executor plugin on every start; the SLURM one costs
    about 0.8 s (it imports pandas), 9 s where SLURM's client finds no controller."""
    modules = imported_modules([], tmp_path)
    assert "snakemake" in modules
    assert not {m for m in modules if m.startswith(("snakemake_executor_plugin_slurm", "pandas"))}


@pytest.mark.skipif(
    not SLURM_PYTHON.exists(),
    reason=f"no cluster environment at {SLURM_PYTHON} (make test builds it)",
)
def test_the_cluster_environment_has_the_plugin_and_the_workflow(tmp_path):
    modules = imported_modules(["PROFILE=slurm"], tmp_path)
    assert {m for m in modules if m.startswith("snakemake_executor_plugin_slurm.")}
