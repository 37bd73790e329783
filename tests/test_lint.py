"""Snakemake's linter and the pinned snakefmt find nothing to say."""

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, SNAKEMAKE, write_config, tiny_config


def test_snakemake_lint_is_clean(tiny_mnist, tmp_path):
    config = write_config(tmp_path, tiny_config(tiny_mnist))
    result = subprocess.run(
        [*SNAKEMAKE, "--lint", "--snakefile", str(REPO / "Snakefile"), "--directory", str(REPO),
         "--configfile", str(config), "--replace-workflow-config"],
        capture_output=True, text=True, timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Congratulations, your workflow is in a good condition!" in output, output


def test_snakefmt_is_clean():
    snakefmt = Path(sys.executable).with_name("snakefmt")
    if not snakefmt.exists():
        pytest.fail("snakefmt is not installed next to this Python; run `make test`")
    files = [str(REPO / "Snakefile"), *map(str, sorted((REPO / "rules").glob("*.smk")))]
    result = subprocess.run([str(snakefmt), "--check", "--diff", *files], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
