"""The pinned linters find nothing to say: ruff on the Python (lint and format), Snakemake's
linter and snakefmt on the rules."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SNAKEMAKE, tiny_config, write_config


def test_snakemake_lint_is_clean(tiny_mnist, tmp_path):
    config = write_config(tmp_path, tiny_config(tiny_mnist))
    result = subprocess.run(
        [
            *SNAKEMAKE,
            "--lint",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(REPO),
            "--configfile",
            str(config),
            "--replace-workflow-config",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert (
        result.returncode == 0
        and "Congratulations, your workflow is in a good condition!" in output
    ), output


def test_snakefmt_is_clean():
    snakefmt = Path(sys.executable).with_name("snakefmt")
    if not snakefmt.exists():
        pytest.fail("snakefmt is not installed next to this Python; run `make test`")
    files = [str(REPO / "Snakefile"), *map(str, sorted((REPO / "rules").glob("*.smk")))]
    result = subprocess.run(
        [str(snakefmt), "--check", "--diff", *files], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stdout + result.stderr


def tool(name: str) -> Path:
    found = Path(sys.executable).with_name(name)
    if not found.exists():
        pytest.fail(f"{name} is not installed next to this Python; run `make test`")
    return found


@pytest.mark.parametrize(
    "command", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"]
)
def test_ruff_is_clean(command):
    result = subprocess.run([str(tool("ruff")), *command], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_what_it_should(tmp_path):
    """The configuration is read and checks something: an unused import and a long line fail."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n" + "x = " + repr("a" * 120) + "\n")
    result = subprocess.run(
        [str(tool("ruff")), "check", "--config", str(REPO / "pyproject.toml"), str(bad)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1 and "F401" in result.stdout and "E501" in result.stdout, (
        result.stdout
    )
