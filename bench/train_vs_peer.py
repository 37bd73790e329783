#!/usr/bin/env python3
"""Training speed and accuracy, side by side with the notebook's own code.

Runs ../shared/peers/seed_tf1.py (the notebook ported to tf.compat.v1) and this
workflow's training stage alternately, each in a fresh process, on the same data, steps
and batch size, and prints the CPU it ran on (model, cores, the vector and matrix
features that decide which kernels run), which kernels `training.kernels: auto` takes on
it, and the medians with ranges as a Markdown table. By default both kernel paths run in
float32, and mixed_bfloat16 too where the CPU has native bfloat16.

usage: .venv/bin/python bench/train_vs_peer.py [--data DIR] [--repeats 3] [--steps 2000]
                                               [--runs float32:xla float32:onednn ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
SHARED = REPO.parent / "shared"

from mnist_filters.cpu import choose_kernels, cpu_info, describe, has_native_bfloat16  # noqa: E402


def ours(data: Path, steps: int, precision: str, kernels: str, workdir: Path) -> dict:
    """One training run of the `seed` settings in this process (called in a child process)."""
    import yaml

    from mnist_filters.dataset import local_files
    from mnist_filters.stages.train import train_run

    settings = yaml.safe_load((REPO / "config.yaml").read_text())["defaults"]
    training = {**settings["training"], "steps": steps, "precision": precision, "kernels": kernels}
    outputs = {
        k: str(workdir / f)
        for k, f in [
            ("model", "model.keras"),
            ("metrics", "metrics.json"),
            ("training_log", "log.csv"),
            ("tensorboard", "tensorboard"),
            ("snapshots", "snapshots.h5"),
        ]
    }
    inputs = {k: str(v) for k, v in local_files(data).items()}
    m = train_run(
        inputs,
        outputs,
        run="seed",
        seed=settings["seed"],
        model_settings=settings["model"],
        training=training,
        checkpoint_dir=str(workdir / "checkpoints"),
        checkpoint_every=500,
        threads=2,
    )
    return {
        "examples_per_second": m["train_examples_per_second"],
        "test_accuracy": m["test_accuracy"],
        "train_seconds": m["train_seconds"],
        "validation_seconds": m["validation_seconds"],
    }


def child(command: list[str]) -> dict:
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=SHARED / "data" / "mnist-subset")
    parser.add_argument("--peer", type=Path, default=SHARED / "peers" / "seed_tf1.py")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument(
        "--runs",
        nargs="+",
        metavar="PRECISION:KERNELS",
        help="our trainings to time (default: float32:xla float32:onednn, and "
        "mixed_bfloat16:onednn on a CPU with native bfloat16)",
    )
    parser.add_argument("--json", type=Path, help="also write all samples here")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: a single run of ours
    args = parser.parse_args()

    if args.one:
        with tempfile.TemporaryDirectory() as workdir:
            print(json.dumps(ours(args.data, args.steps, *args.one.split(":"), Path(workdir))))
        return

    model, flags = cpu_info()
    runs = args.runs or ["float32:xla", "float32:onednn"] + (
        ["mixed_bfloat16:onednn"] if has_native_bfloat16(flags) else []
    )
    samples: dict[str, list[dict]] = {"peer (tf.compat.v1)": []}
    for run in runs:
        samples[f"ours, {run.replace(':', ', ')}"] = []
    for repeat in range(args.repeats):
        peer = child([sys.executable, str(args.peer), str(args.data), "--steps", str(args.steps)])
        samples["peer (tf.compat.v1)"].append(peer)
        for run in runs:
            samples[f"ours, {run.replace(':', ', ')}"].append(
                child(
                    [
                        sys.executable,
                        __file__,
                        "--data",
                        str(args.data),
                        "--steps",
                        str(args.steps),
                        "--one",
                        run,
                    ]
                )
            )
        print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)

    peer_speed = statistics.median(s["examples_per_second"] for s in samples["peer (tf.compat.v1)"])
    print(f"CPU: {describe(model, flags)}")
    print(f"training.kernels: auto takes {choose_kernels('auto')} on this CPU")
    print(
        f"{args.steps} steps of batch 50 on {args.data.name}, median of {args.repeats} alternating "
        f"runs\n"
    )
    print("| trainer | examples/s (median) | range | all runs | vs peer | test accuracy |")
    print("|---|---|---|---|---|---|")
    auto = f"ours, float32, {choose_kernels('auto')}"
    for name, runs in samples.items():
        speeds = [s["examples_per_second"] for s in runs]
        accuracy = statistics.median(s["test_accuracy"] for s in runs)
        label = f"{name} (`auto` here)" if name == auto else name
        print(
            f"| {label} | {statistics.median(speeds):,.0f} | {min(speeds):,.0f} to "
            f"{max(speeds):,.0f} "
            f"| {', '.join(f'{v:,.0f}' for v in speeds)} | "
            f"{statistics.median(speeds) / peer_speed:.2f}x "
            f"| {accuracy:.4f} |"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(samples, indent=1))


if __name__ == "__main__":
    main()
