#!/usr/bin/env python3
"""What feature visualisation costs, and whether it may be on by default.

1. The stage's seconds per layer (its best test values and its optimisation), at one thread
   as the rule runs it, on a trained model.keras and its test images: median and range of
   `--repeats`.
2. What it adds to the default `make run` (the `seed` run, data already copied in): in a
   scratch copy of this workflow, alternately the whole default run with
   feature_visualisation off and on, each from training on. The goal (issue 28): on by
   default only if it adds at most 10 s.

usage: .venv/bin/python bench/feature_visualisation.py [--data DIR] [--model PATH]
       [--repeats 3] [--skip-workflow]
"""

from __future__ import annotations

import argparse
import copy
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "scripts"), str(REPO / "bench")]
SHARED = REPO.parent / "shared"

from workflow_vs_peer import scratch_workflow, summary, timed  # noqa: E402

from mnist_filters.cpu import cpu_info, describe  # noqa: E402


def stage_seconds(model_path: Path, test_images: Path, repeats: int) -> dict[str, list[float]]:
    """layer -> seconds of each repeat (a fresh Visualisation each time: tracing included)."""
    from mnist_filters.dataset import background_value, to_model_input
    from mnist_filters.idx import read_idx
    from mnist_filters.network.model_file import load_trained_model
    from mnist_filters.network.optimised_inputs import visualise_layer
    from mnist_filters.schema import load_yaml
    from mnist_filters.settings import resolve_runs
    from mnist_filters.tensorflow_setup import configure_tensorflow

    schema = load_yaml(REPO / "schemas" / "run.schema.yaml")
    settings = resolve_runs({"runs": {"seed": {}}}, schema)["seed"]["feature_visualisation"]
    configure_tensorflow(1, "float32")
    model = load_trained_model(str(model_path))
    test = read_idx(test_images)
    inputs = to_model_input(test)
    times: dict[str, list[float]] = {}
    for _ in range(repeats):
        for layer in settings["layers"]:
            started = time.perf_counter()
            visualise_layer(
                model, layer, copy.deepcopy(settings), background_value(test) / 255.0, inputs
            )
            times.setdefault(layer, []).append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "mnist-subset")
    parser.add_argument(
        "--model", type=Path, default=REPO / "results" / "mnist" / "seed" / "model.keras"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-workflow", action="store_true")
    args = parser.parse_args()
    data = args.data.resolve()
    print(f"CPU: {describe(*cpu_info())}")

    workflow: dict[str, list[float]] = {"off": [], "on": []}
    if not args.skip_workflow:
        with scratch_workflow(data) as (work, snakemake):
            for repeat in range(args.repeats):
                for name in ("off", "on") if repeat % 2 == 0 else ("on", "off"):
                    for folder in ("results", "logs", "benchmarks", "checkpoints"):
                        shutil.rmtree(work / folder, ignore_errors=True)
                    enabled = "true" if name == "on" else "false"
                    workflow[name].append(
                        timed(
                            [
                                *snakemake,
                                f"defaults={{feature_visualisation: {{enabled: {enabled}}}}}",
                            ],
                            work,
                        )
                    )
                print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)

    times = stage_seconds(args.model, data / "t10k-images-idx3-ubyte.gz", args.repeats)
    print(f"\nthe stage at 1 thread, median of {args.repeats} (range), default settings:\n")
    print("| layer | seconds |")
    print("|---|---|")
    for layer, values in times.items():
        print(f"| {layer} | {summary(values)} |")
    if workflow["on"]:
        added = [on - off for on, off in zip(workflow["on"], workflow["off"])]
        print(f"\ndefault `make run` from training on, median of {args.repeats} (range):\n")
        print(f"| off | {summary(workflow['off'])} |")
        print(f"| on | {summary(workflow['on'])} |")
        print(f"| added (pairwise) | {summary(added)} |")
        print(f"\non by default (adds at most 10 s): {statistics.median(added) <= 10}")


if __name__ == "__main__":
    main()
