#!/usr/bin/env python3
"""What the analyses beyond the notebook cost: the whole workflow with and without them.

In a scratch copy of this workflow (data already present), alternately: a whole Snakemake
run from data to every default output (the mistakes included, which are on by default),
and the same with examples/zeiler-fergus.yaml (features through training, occlusion,
invariance), each from empty results and timed as a whole process. Prints the CPU, the
medians with ranges, the difference, and the seconds of each analysis's own jobs (from
Snakemake's benchmark files) in the runs with them.

usage: .venv/bin/python bench/analyses.py [--data DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from workflow_vs_peer import (
    SHARED,
    cpu_info,
    describe,
    rule_times,
    scratch_workflow,
    summary,
    timed,
)

ANALYSIS_RULES = (
    "tally_mistakes",
    "plot_confusion",
    "plot_mistakes",
    "trace_evolution",
    "plot_evolution",
    "occlude",
    "plot_occlusion",
    "measure_invariance",
    "plot_invariance",
    "gallery",
)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "mnist-subset")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = args.data.resolve()
    with scratch_workflow(data) as (work, snakemake):
        variants = {
            "default outputs": [],
            "with examples/zeiler-fergus.yaml": ["--configfile", "examples/zeiler-fergus.yaml"],
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        per_rule: dict[str, list[float]] = {}
        for repeat in range(args.repeats):
            for name, extra in variants.items():
                for folder in ("results", "logs", "benchmarks", "checkpoints"):
                    shutil.rmtree(work / folder, ignore_errors=True)
                started = time.time()
                samples[name].append(timed([*snakemake[:3], *extra, *snakemake[3:]], work))
                if extra:
                    for rule, (seconds, _start, _end) in rule_times(work, started).items():
                        per_rule.setdefault(rule, []).append(seconds)
            print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
    model, flags = cpu_info()
    print(f"CPU: {describe(model, flags)}; {args.repeats} alternating repeats, medians (ranges)")
    for name, values in samples.items():
        print(f"{name:>36}: {summary(values)}")
    added = [b - a for a, b in zip(*samples.values())]
    print(f"{'added by the three analyses':>36}: {summary(added)}")
    for rule in ANALYSIS_RULES:
        if rule in per_rule:
            print(f"{rule:>36}: {summary(per_rule[rule])} (the job's own wall clock)")


if __name__ == "__main__":
    main()
