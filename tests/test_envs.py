"""Each rule's conda environment lists every third-party module that rule's code imports.

Conda cannot run here, so this reads instead: the rule's `conda:` file, and its script
with every library module that script runs (the closure its code digest covers).
"""

import ast
import re
import sys

import pytest
import yaml

from conftest import REPO
from mnist_filters.code_digest import closure

# Import name -> the conda-forge (or pip) package that provides it.
PACKAGES = {"yaml": "pyyaml", "matplotlib": "matplotlib-base", "PIL": "pillow"}
# Rules whose code needs Python's standard library only (compare_runs reads JSON and CSV).
STANDARD_LIBRARY_ONLY = {"compare_runs"}
RULE = re.compile(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", re.S | re.M)


def rules():
    found = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            conda = re.search(r"conda:\s*\n\s*\"\.\./(envs/[\w.]+)\"", body)
            script = re.search(r"script:\s*\n\s*\"\.\./scripts/([\w.]+)\"", body)
            found[name] = (conda and conda.group(1), script and script.group(1))
    return found


def third_party_imports(script):
    modules = set()
    for path in closure(REPO / "scripts" / script, REPO / "scripts"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            modules |= {name.split(".")[0] for name in names}
    return {m for m in modules if m not in sys.stdlib_module_names and m not in ("mnist_filters", "__future__")}


def listed(env_file):
    packages = set()
    for entry in yaml.safe_load((REPO / env_file).read_text())["dependencies"]:
        for spec in entry["pip"] if isinstance(entry, dict) else [entry]:
            packages.add(re.split(r"[=<>!\s]", spec, maxsplit=1)[0].lower())
    return packages


def test_every_rule_has_an_environment_and_a_script():
    found = rules()
    assert set(found) >= {"get_mnist", "train", "dump_activations", "rank_patches", "plot_samples", "plot_filters",
                          "plot_top_patches", "plot_training_curve"}
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
