"""`make demo`, as a new user runs it from a clone: generated digits, no download and no data
folder, every default output of a run that docs/output.md lists, and the closing lines."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO, copy_of_the_workflow, planned

pytestmark = pytest.mark.slow

DEMO = yaml.safe_load((REPO / "examples" / "demo.yaml").read_text())
RUN = next(iter(DEMO["runs"]))
SET = DEMO["data"]["set"]
# Documented outputs that a default run makes only in some networks.
CONDITIONAL = {"results/<set>/<run>/figures/top_patches/progression.png"}
ROW = re.compile(r"^\| (?P<paths>`[^|]+`) \| (?P<rule>[^|]+) \|", re.M)


def documented_rows() -> list[tuple[list[str], str]]:
    """(paths, rule cell) of each row of docs/output.md's tables."""
    page = (REPO / "docs" / "output.md").read_text()
    return [
        (re.findall(r"`([^`]+)`", row["paths"]), row["rule"].strip()) for row in ROW.finditer(page)
    ]


def pattern(path: str, rule: str | None = None) -> str:
    """A documented path as a glob of the demo's folders (<rule>: `rule`)."""
    path = path.replace("<set>", SET).replace("<run>", RUN)
    if rule:
        path = path.replace("<rule>", rule)
    path = re.sub(r"<[a-z_]+>", "*", path)
    return re.sub(r"N{2,}", lambda m: "[0-9]" * len(m.group()), path)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """A copy of the workflow, as a clone, and what `make demo` printed there. The clone
    shares this repository's environment; `-o` keeps make from rebuilding it."""
    clone = copy_of_the_workflow(tmp_path_factory.mktemp("clone") / "mnist-filters")
    (clone / ".venv").symlink_to(REPO / ".venv")
    # as from a user's shell: no real data, and not a make inside `make test` (whose
    # MAKELEVEL would add make's "Leaving directory" after the demo's last line)
    inherited = {"MNIST_SUBSET_DIR", "MAKELEVEL", "MAKEFLAGS", "MFLAGS"}
    environment = {key: value for key, value in os.environ.items() if key not in inherited}
    result = subprocess.run(
        ["make", "-o", ".venv/bin/.installed", "demo"],
        cwd=clone,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return clone, result


@pytest.fixture(scope="module")
def default_rules(tmp_path_factory) -> set[str]:
    """The rules a run with every default makes, as Snakemake plans them for the demo's
    settings in an empty folder (not from what the demo made)."""
    jobs = planned(tmp_path_factory.mktemp("plan"), DEMO)
    return {rule for rule, run in jobs if run == RUN}


def test_the_demo_makes_every_documented_output_of_a_default_run(demo, default_rules):
    clone, _ = demo
    assert {"train", "dump_activations", "rank_patches", "gallery"} <= default_rules
    # nothing came from outside: the data stage generated its files
    assert "generating" in (clone / "logs" / SET / "get_mnist.log").read_text()
    missing, checked = [], set()
    for paths, rule_cell in documented_rows():
        rule = rule_cell.strip("`")
        per_rule = rule_cell.startswith("each rule of")
        if not per_rule and rule not in default_rules | {"get_mnist"}:
            continue
        for path in paths:
            if path in CONDITIONAL or "<comparison>" in path or "/transfer/" in path:
                continue
            if not path.startswith(("results/<set>/<run>/", "resources/", "logs/", "bench")):
                continue
            for each in sorted(default_rules) if "<rule>" in path else [None]:
                glob = pattern(path, each)
                checked.add(glob)
                if not list(clone.glob(glob)):
                    missing.append(glob)
    assert not missing, f"documented outputs the demo did not make: {missing}"
    assert f"results/{SET}/{RUN}/gallery/index.html" in checked
    assert (clone / "results" / SET / "report.html").stat().st_size > 100_000


def test_the_demo_ends_saying_where_its_gallery_and_report_are(demo):
    clone, result = demo
    gallery = f"results/{SET}/{RUN}/gallery/index.html"
    # the workflow's closing lines (its onsuccess hook), then make's own last line
    assert re.search(rf"^  {RUN}  {re.escape(gallery)}$", result.stderr, re.M), result.stderr
    assert f"The HTML report of every result: results/{SET}/report.html" in result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last == f"Done: open {gallery}, and results/{SET}/report.html.", last
    assert (clone / gallery).is_file()
    # the report's own log went to a file, not over the closing lines
    assert "Adding " not in result.stdout + result.stderr
