#!/usr/bin/env python3
"""The whole workflow against the notebook's whole process, and how fast reruns return.

In a scratch copy of this workflow (data already present, as the copy stage leaves it):
- alternately, the peer's whole process (`../shared/peers/seed_tf1.py`: import, train,
  test) and a whole Snakemake run from data to every default output (train, dump, rank,
  projections, every figure and the gallery; HDF5 and provenance written), each timed as
  a whole process;
  the workflow twice: as configured, and with `validation_size: 0` (no held-out images
  and no validation passes: the peer's use of the data);
- then, on the finished run: a complete rerun (plans nothing), a dry run, and a dpi
  change of each figure (redraws that figure only), with Snakemake's own floor beside
  them (a 3-rule workflow of shell commands: a no-op run, and a run of its last rule).
Prints the CPU, medians with ranges, the ratios docs/speed.md reports, and each rule's seconds
in the whole-workflow runs (from Snakemake's benchmark files), with its start and end on
the run's clock: where the time beyond the peer's goes.

usage: .venv/bin/python bench/workflow_vs_peer.py [--data DIR] [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
SHARED = REPO.parent / "shared"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
FIGURES = ("samples", "filters", "training_curve", "top_patches", "projections")

from mnist_filters.cpu import cpu_info, describe  # noqa: E402


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return seconds


def scratch_copy(target: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listed:
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)


@contextlib.contextmanager
def scratch_workflow(data: Path):
    """(folder, Snakemake command) of a scratch copy of this workflow with `data`'s files already
    copied in (its data stage done), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="mnist-filters-bench-") as scratch:
        work = Path(scratch)
        scratch_copy(work)
        snakemake = [
            str(SNAKEMAKE),
            "--profile",
            "profiles/default",
            "--config",
            f"data={{local_dir: {data}}}",
        ]
        timed([*snakemake, "--until", "get_mnist"], work)
        yield work, snakemake


FLOOR_SNAKEFILE = """
rule all:
    input: "c"
rule a:
    output: "a"
    shell: "touch {output}"
rule b:
    input: "a"
    output: "b"
    shell: "touch {output}"
rule c:
    input: "b"
    output: "c"
    shell: "touch {output}"
"""


def rule_times(work: Path, started: float) -> dict[str, tuple[float, float, float]]:
    """{rule: (seconds, start, end)} of a finished run: the benchmark file's wall clock, and
    its start and end in seconds after `started` (the file is written as the job ends)."""
    times = {}
    for path in sorted((work / "benchmarks").rglob("*.tsv")):
        header, values = (line.split("\t") for line in path.read_text().splitlines()[:2])
        seconds = float(values[header.index("s")])
        end = path.stat().st_mtime - started
        times[path.stem] = (seconds, end - seconds, end)
    return times


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} s ({min(values):.1f} to {max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "mnist-subset")
    parser.add_argument("--peer", type=Path, default=SHARED / "peers" / "seed_tf1.py")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write all samples here")
    args = parser.parse_args()
    data = args.data.resolve()

    with scratch_workflow(data) as (work, snakemake):
        floor = work / "floor"
        floor.mkdir()
        (floor / "Snakefile").write_text(FLOOR_SNAKEFILE)
        timed([str(SNAKEMAKE), "--cores", "1"], floor)

        samples: dict[str, list[float]] = {
            "peer process": [],
            "workflow": [],
            "workflow, validation_size 0": [],
        }
        per_rule: dict[str, list[tuple[float, float, float]]] = {}
        for repeat in range(args.repeats):
            samples["peer process"].append(timed([sys.executable, str(args.peer), str(data)], work))
            for name, extra in (
                ("workflow, validation_size 0", ["defaults={training: {validation_size: 0}}"]),
                ("workflow", []),
            ):
                for folder in ("results", "logs", "benchmarks", "checkpoints"):
                    shutil.rmtree(work / folder, ignore_errors=True)
                started = time.time()
                samples[name].append(timed([*snakemake, *extra], work))
                if name == "workflow":
                    for rule, measured in rule_times(work, started).items():
                        per_rule.setdefault(rule, []).append(measured)
            print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
        reruns = {
            "Snakemake's floor: no-op, 3 rules": [],
            "Snakemake's floor: 1 of 3 shell rules reruns": [],
            "no-op rerun": [],
            "dry run": [],
        }
        reruns.update({f"dpi change: {figure}": [] for figure in FIGURES})
        dpi = {figure: 100 for figure in FIGURES}  # config.yaml's

        def with_dpi():
            figures = ", ".join(f"{name}: {{dpi: {value}}}" for name, value in dpi.items())
            return [*snakemake, f"defaults={{figures: {{{figures}}}}}"]

        for _repeat in range(args.repeats):
            reruns["Snakemake's floor: no-op, 3 rules"].append(
                timed([str(SNAKEMAKE), "--cores", "1"], floor)
            )
            (floor / "c").unlink()
            reruns["Snakemake's floor: 1 of 3 shell rules reruns"].append(
                timed([str(SNAKEMAKE), "--cores", "1"], floor)
            )
            reruns["no-op rerun"].append(timed(with_dpi(), work))
            reruns["dry run"].append(timed([*with_dpi(), "--dry-run"], work))
            for figure in FIGURES:
                dpi[figure] = (
                    201 - dpi[figure]
                )  # 100 <-> 101: one figure's setting changes each time
                reruns[f"dpi change: {figure}"].append(timed(with_dpi(), work))
        samples.update(reruns)

    peer, workflow = (
        statistics.median(samples["peer process"]),
        statistics.median(samples["workflow"]),
    )
    print(f"CPU: {describe(*cpu_info())}")
    print(
        f"data: {data.name}; median of {args.repeats} (range), the first three rows alternating\n"
    )
    print("| measured | seconds | vs peer process |")
    print("|---|---|---|")
    for name, values in samples.items():
        ratio = (
            f"{statistics.median(values) / peer:.2f}x"
            if name.startswith(("peer", "workflow"))
            else ""
        )
        print(f"| {name} | {summary(values)} | {ratio} |")
    print(f"\nworkflow / peer process: {workflow / peer:.2f}x")
    print(
        "\nEach rule in the whole-workflow runs (median seconds; start and end after Snakemake "
        "started):\n"
    )
    print("| rule | seconds | range | starts at | ends at |")
    print("|---|---|---|---|---|")
    for rule, measured in sorted(
        per_rule.items(), key=lambda item: statistics.median(m[1] for m in item[1])
    ):
        seconds = [m[0] for m in measured]
        print(
            f"| {rule} | {statistics.median(seconds):.1f} | {min(seconds):.1f} to "
            f"{max(seconds):.1f} | "
            f"{statistics.median(m[1] for m in measured):.1f} | "
            f"{statistics.median(m[2] for m in measured):.1f} |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({**samples, "per rule (seconds, start, end)": per_rule}, indent=1)
        )


if __name__ == "__main__":
    main()
