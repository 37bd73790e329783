"""The documentation stays true: generated pages up to date, every setting described, every
output named, every relative link resolving, the README short."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

README_MAX_LINES = 200
# What Snakemake or the tests leave in a working directory beside the outputs.
NOT_OUTPUTS = {".snakemake_timestamp"}
OUTPUT_ROOTS = ("resources", "results", "logs", "benchmarks")


def generator():
    spec = importlib.util.spec_from_file_location("docs_generate", REPO / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_pages_are_up_to_date():
    for path, text in generator().pages().items():
        assert path.read_text() == text, f"{path.relative_to(REPO)} is out of date: run `make docs`"


def test_every_setting_has_its_own_description():
    docs = generator()
    for name in ("run.schema.yaml", "config.schema.yaml"):
        schema = yaml.safe_load((REPO / "schemas" / name).read_text())
        missing = [
            row.key
            for row in docs.settings_of(schema)
            if not str(row.node.get("description", "")).strip()
        ]
        assert not missing, f"{name}: settings without a description: {missing}"


def test_schemas_have_no_stray_keys():
    """A comma inside an unquoted flow-style description splits it into a second key with
    no value, which JSON Schema ignores: the description is silently cut."""

    def stray(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if value is None and key != "default":
                    yield f"{where}.{key}"
                yield from stray(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                yield from stray(value, f"{where}[{i}]")

    for path in sorted((REPO / "schemas").glob("*.yaml")):
        found = list(stray(yaml.safe_load(path.read_text()), path.name))
        assert not found, found


def test_a_docstring_block_names_a_real_module(tmp_path):
    page = "<!-- docstring: scripts/mnist_filters/no_such_module.py -->\n<!-- end docstring -->\n"
    with pytest.raises(FileNotFoundError):
        generator().fill_docstrings(page)


def documented_patterns(page: str) -> list[re.Pattern]:
    """Each path that `page` names in backticks, as a pattern: <name> stands for one path
    segment's part, NN... for a number, * for anything within a segment."""
    patterns = []
    for span in re.findall(r"`([^`\s]+)`", page):
        if not span.startswith(tuple(f"{root}/" for root in OUTPUT_ROOTS)):
            continue
        regex = ""
        for token in re.split(r"(<[a-z_. ]+>|N{2,}|\*)", span):
            if token.startswith("<"):
                regex += r"[^/]+"
            elif token.startswith("NN"):
                regex += rf"\d{{{len(token)}}}"
            elif token == "*":
                regex += r"[^/]*"
            else:
                regex += re.escape(token)
        patterns.append(re.compile(regex + ("" if span.endswith("/") else "$")))
    return patterns


def made_outputs(workdir: Path) -> list[str]:
    return sorted(
        str(path.relative_to(workdir))
        for root in OUTPUT_ROOTS
        for path in (workdir / root).rglob("*")
        if path.is_file() and path.name not in NOT_OUTPUTS
    )


def test_the_output_patterns_are_strict():
    patterns = documented_patterns("`results/<set>/<run>/figures/top_patches/<layer>_filterNN.png`")
    assert any(
        p.match("results/mnist/tiny/figures/top_patches/conv1_filter07.png") for p in patterns
    )
    assert not any(
        p.match("results/mnist/tiny/figures/top_patches/conv1_filter7.png") for p in patterns
    )
    assert not any(
        p.match("results/mnist/tiny/figures/top_patches/sub/conv1_filter07.png") for p in patterns
    )


@pytest.mark.slow
def test_every_output_of_a_run_and_a_sweep_is_in_the_output_page(tiny_run, tiny_sweep):
    patterns = documented_patterns((REPO / "docs" / "output.md").read_text())
    outputs = made_outputs(tiny_run) + made_outputs(tiny_sweep)
    assert any(path.startswith("results/mnist/sweeps/") for path in outputs)
    assert any("/occlusion/" in path for path in outputs)  # every analysis ran
    undocumented = [path for path in outputs if not any(p.match(path) for p in patterns)]
    assert not undocumented, f"outputs not named in docs/output.md: {undocumented}"


def test_relative_links_and_images_resolve():
    lychee = Path(sys.executable).with_name("lychee")
    if not lychee.exists():
        pytest.fail("lychee is not installed next to this Python; run `make test`")
    result = subprocess.run(
        [str(lychee), "--offline", "--include-fragments", "--no-progress", "README.md", "docs/"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_link_check_fails_on_a_broken_anchor(tmp_path):
    lychee = Path(sys.executable).with_name("lychee")
    (tmp_path / "a.md").write_text("# A\n\n## Here\n\n[ok](#here) [bad](b.md#nowhere)\n")
    (tmp_path / "b.md").write_text("# B\n")
    result = subprocess.run(
        [str(lychee), "--offline", "--include-fragments", "--no-progress", "a.md"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode != 0 and "b.md#nowhere" in result.stdout + result.stderr


def test_the_readme_is_short_and_starts_with_a_picture():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, len(lines)
    first_heading = next(i for i, line in enumerate(lines) if line.startswith("## "))
    assert any(line.startswith("![") for line in lines[:first_heading])


def test_make_help_lists_every_target():
    makefile = (REPO / "Makefile").read_text()
    targets = re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split()
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    listed = [line.split()[1] for line in result.stdout.splitlines()]
    assert sorted(listed) == sorted(targets)
