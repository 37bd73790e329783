#!/usr/bin/env python3
"""The notebook's job, both sides cold: the peer with its figures against `make notebook`.

In a scratch copy of this workflow (data already present, as the copy stage leaves it),
alternately, each a whole process from nothing trained:
- the peer (`../shared/peers/seed_tf1.py DATA --figures DIR`): train, test, draw the first 16
  training images, conv1's 25 filters and each filter's 12 strongest test patches;
- the workflow's `notebook` target: metrics.json, samples.png, filters.png, top_patches/ and
  the stages they need (train, dump_activations, rank_patches);
- the whole default run (every default output: the analyses, the gallery).
Prints the CPU, medians with ranges, both ratios docs/speed.md reports (the notebook target
and the whole run against the peer's job), and each rule's seconds in the notebook target's
runs and in the whole runs (Snakemake's benchmark files), with its start and end on the run's
clock.

usage: .venv/bin/python bench/notebook_vs_peer.py [--data DIR] [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workflow_vs_peer import SHARED, rule_times, scratch_workflow, summary, timed  # noqa: E402

from mnist_filters.cpu import cpu_info, describe  # noqa: E402

OUTPUT_FOLDERS = ("results", "logs", "benchmarks", "checkpoints")


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

    samples: dict[str, list[float]] = {
        "peer, the notebook's job": [],
        "workflow, notebook target": [],
        "workflow, whole default run": [],
    }
    # {workflow sample: {rule: [(seconds, start, end) of each repeat]}}
    per_rule: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    with scratch_workflow(data) as (work, snakemake):
        for repeat in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="peer-figures-") as figures:
                samples["peer, the notebook's job"].append(
                    timed([sys.executable, str(args.peer), str(data), "--figures", figures], work)
                )
            for name, targets in (
                ("workflow, notebook target", ["notebook"]),
                ("workflow, whole default run", []),
            ):
                for folder in OUTPUT_FOLDERS:
                    shutil.rmtree(work / folder, ignore_errors=True)
                started = time.time()
                # targets before the options: `--config` takes every word after it
                samples[name].append(timed([snakemake[0], *targets, *snakemake[1:]], work))
                for rule, measured in rule_times(work, started).items():
                    per_rule.setdefault(name, {}).setdefault(rule, []).append(measured)
            print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)

    peer = statistics.median(samples["peer, the notebook's job"])
    print(f"CPU: {describe(*cpu_info())}")
    print(f"data: {data.name}; median of {args.repeats} (range), alternating, each cold\n")
    print("| measured | seconds | vs the peer's notebook job |")
    print("|---|---|---|")
    for name, values in samples.items():
        print(f"| {name} | {summary(values)} | {statistics.median(values) / peer:.2f}x |")
    for name, rules in per_rule.items():
        print(f"\n{name}: its jobs (benchmark seconds; start and end on the run's clock):\n")
        print("| job | seconds | starts | ends |")
        print("|---|---|---|---|")
        for rule, measured in sorted(
            rules.items(), key=lambda item: statistics.median(m[1] for m in item[1])
        ):
            seconds, starts, ends = ([m[i] for m in measured] for i in range(3))
            print(
                f"| {rule} | {summary(seconds)} | {statistics.median(starts):.1f} s "
                f"| {statistics.median(ends):.1f} s |"
            )
    if args.json:
        args.json.write_text(json.dumps({"samples": samples, "per_rule": per_rule}, indent=1))


if __name__ == "__main__":
    main()
