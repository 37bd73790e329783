#!/usr/bin/env python3
"""The projection stage on a finished run: seconds and peak memory, every layer and method.

Point it at a workdir whose run dumped and ranked conv1, conv2 and pool2 (for example
`activations: {layers: [conv1, conv2, pool2]}` on the real subset). Each repeat runs in a
fresh process, so its peak resident memory is its own; prints the median and range.

usage: .venv/bin/python bench/projections.py WORKDIR [--run seed] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {scripts!r})
from mnist_filters.stages.projections import project_patches
started = time.perf_counter()
project_patches({model!r}, {images!r}, {rankings!r}, {output!r}, layers={layers!r},
                 methods=["deconvnet", "guided", "gradient"], batch_size=256, threads={threads})
print(json.dumps({{"seconds": time.perf_counter() - started,
                   "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--run", default="seed")
    parser.add_argument("--data-set", default="mnist")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from mnist_filters.cpu import cpu_info, describe

    run = args.workdir / "results" / args.data_set / args.run
    with open(run / "rankings.csv") as handle:
        layers = list(dict.fromkeys(line.split(",", 1)[0] for line in list(handle)[1:]))
    units = sum(1 for _ in open(run / "rankings.csv")) - 1
    print(
        f"CPU: {describe(*cpu_info())}; run {args.run}: {units} ranked units of "
        f"{', '.join(layers)}; "
        f"3 methods; {args.threads} threads"
    )
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            code = CHILD.format(
                scripts=str(REPO / "scripts"),
                model=str(run / "model.keras"),
                images=str(
                    args.workdir / "resources" / args.data_set / "t10k-images-idx3-ubyte.gz"
                ),
                rankings=str(run / "rankings.csv"),
                output=f"{scratch}/p{repeat}.h5",
                layers=layers,
                threads=args.threads,
            )
            started = time.perf_counter()
            out = subprocess.run(
                [sys.executable, "-c", code],
                capture_output=True,
                text=True,
                check=True,
                env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
            )
            measured = json.loads(out.stdout.strip().splitlines()[-1])
            measured["process_seconds"] = time.perf_counter() - started
            results.append(measured)
            print(
                f"  repeat {repeat + 1}: stage {measured['seconds']:.1f} s (process with imports "
                f"{measured['process_seconds']:.1f} s), peak {measured['peak_mb']:.0f} MB"
            )
    for key, unit in (("seconds", "s"), ("process_seconds", "s"), ("peak_mb", "MB")):
        values = [r[key] for r in results]
        print(
            f"{key}: median {statistics.median(values):.1f} {unit} (range {min(values):.1f} to "
            f"{max(values):.1f})"
        )


if __name__ == "__main__":
    main()
