#!/usr/bin/env python3
"""Activation dump and ranking on a large generated test set: throughput and peak memory.

Each measured step runs in its own child process, so its peak resident memory is its
own (from the kernel's rusage). Compares ranking with a plain h5py read of the same file,
and sweeps the HDF5 chunk size and compression on a smaller set to choose the defaults.

usage: .venv/bin/python bench/activations.py [--images 200000] [--sweep-images 50000]
       [--workdir bench/out/activations] [--layer conv1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))


def step(action: str, workdir: Path, **options) -> None:
    """Run in the child: one action, timed; print a JSON line."""
    started = time.perf_counter()
    if action == "data":
        import numpy as np

        from mnist_filters.idx import write_idx
        from mnist_filters.network.build import build_model
        from mnist_filters.synthetic import make_digits

        images, labels = make_digits(options["images"], seed=1)
        write_idx(workdir / "t10k-images-idx3-ubyte.gz", images)
        write_idx(workdir / "t10k-labels-idx1-ubyte.gz", labels.astype(np.uint8))
        from mnist_filters.schema import load_yaml
        from mnist_filters.settings import resolve_runs

        schema = load_yaml(REPO / "schemas" / "run.schema.yaml")
        settings = resolve_runs({"runs": {"notebook": {}}}, schema)["notebook"]["model"]
        build_model(settings, seed=0, portable=True).save(workdir / "model.keras")
    elif action == "dump":
        from mnist_filters.stages.activations import dump_activations

        dump_activations(
            str(workdir / "model.keras"),
            str(workdir / "t10k-images-idx3-ubyte.gz"),
            str(workdir / "t10k-labels-idx1-ubyte.gz"),
            options["h5"],
            layers=[options["layer"]],
            batch_size=500,
            compression=options["compression"],
            chunk_bytes=options["chunk_bytes"],
            threads=2,
        )
    elif action == "read":
        import h5py

        from mnist_filters.stages.rank import blocks

        total = 0.0
        with h5py.File(options["h5"], "r") as h5:
            for block in blocks(h5[options["layer"]]):
                total += float(block[0, 0, 0, 0])  # touch the data
    elif action == "rank":
        from mnist_filters.stages.rank import rank_patches

        rank_patches(
            options["h5"],
            str(workdir / "rankings.csv"),
            layers=[options["layer"]],
            filters=None,
            top_k=12,
            one_per_image=False,
        )
    print(json.dumps({"seconds": time.perf_counter() - started}))


def measure(action: str, workdir: Path, **options) -> dict:
    """Run `action` in a child process; its time and peak memory."""
    command = [
        sys.executable,
        __file__,
        "--child",
        action,
        "--workdir",
        str(workdir),
        "--options",
        json.dumps(options),
    ]
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise RuntimeError(f"{action} failed ({status}): {' '.join(command)}")
    result = json.loads(output.decode().strip().splitlines()[-1])
    result["peak_mib"] = usage.ru_maxrss / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=200_000)
    parser.add_argument("--sweep-images", type=int, default=50_000)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / "out" / "activations")
    parser.add_argument("--layer", default="conv1")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        step(args.child, args.workdir, **json.loads(args.options))
        return

    layer = args.layer
    if args.sweep_images:
        sweep = args.workdir / "sweep"
        sweep.mkdir(parents=True, exist_ok=True)
        measure("data", sweep, images=args.sweep_images)
        print(f"Chunk size and compression, {args.sweep_images:,} images, {layer}:\n")
        print("| compression | chunk | file MiB | dump s | plain read s | rank s | read/rank |")
        print("|---|---|---|---|---|---|---|")
        for compression in ("none", "lzf", "gzip"):
            for chunk_bytes in (256 << 10, 1 << 20, 4 << 20):
                h5 = str(sweep / f"{compression}-{chunk_bytes}.h5")
                dump = measure(
                    "dump",
                    sweep,
                    h5=h5,
                    layer=layer,
                    compression=compression,
                    chunk_bytes=chunk_bytes,
                )
                read = min(measure("read", sweep, h5=h5, layer=layer)["seconds"] for _ in range(2))
                rank = min(measure("rank", sweep, h5=h5, layer=layer)["seconds"] for _ in range(2))
                print(
                    f"| {compression} | {chunk_bytes >> 10} KiB | "
                    f"{Path(h5).stat().st_size / 2**20:,.0f} "
                    f"| {dump['seconds']:.1f} | {read:.2f} | {rank:.2f} | {read / rank:.2f} |",
                    flush=True,
                )
                Path(h5).unlink()

    full = args.workdir / "full"
    full.mkdir(parents=True, exist_ok=True)
    made = measure("data", full, images=args.images)
    h5 = str(full / "activations.h5")
    dump = measure("dump", full, h5=h5, layer=layer, compression="lzf", chunk_bytes=1 << 20)
    read = measure("read", full, h5=h5, layer=layer)
    rank = measure("rank", full, h5=h5, layer=layer)
    print(
        f"\nDefaults (lzf, 1 MiB chunks), {args.images:,} generated test images, {layer} "
        f"({Path(h5).stat().st_size / 2**20:,.0f} MiB file; data made in {made['seconds']:.0f} "
        f"s):\n"
    )
    print("| step | seconds | images/s | peak memory MiB |")
    print("|---|---|---|---|")
    for name, result in [
        ("dump activations", dump),
        ("plain h5py read", read),
        ("rank (top 12 of all 25)", rank),
    ]:
        print(
            f"| {name} | {result['seconds']:.1f} | {args.images / result['seconds']:,.0f} | "
            f"{result['peak_mib']:,.0f} |"
        )
    print(f"\nranking speed / plain read speed: {read['seconds'] / rank['seconds']:.2f}")


if __name__ == "__main__":
    main()
