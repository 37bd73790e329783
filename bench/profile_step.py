#!/usr/bin/env python3
"""Where a training step's time goes: each layer's forward and backward, per kernel path.

Times, at the notebook's batch of 50 and with op determinism on (as training runs):
each layer's forward pass, and its forward plus the gradients training needs (conv1:
its weights only; the others: weights and input), plus training's Adam update of all
weights and the whole training step. TensorFlow runs with oneDNN's operations on, as
every stage does (tensorflow_setup). Each piece runs as one tf.function, XLA-compiled (`xla`)
or on TensorFlow's own oneDNN kernels (`onednn`), in that order and then reversed,
`--repeats` times; medians in milliseconds per step with ranges, and the CPU.

usage: .venv/bin/python bench/profile_step.py [--repeats 3] [--calls 100]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from mnist_filters.cpu import cpu_info, describe  # noqa: E402
from mnist_filters.tensorflow_setup import configure_tensorflow  # noqa: E402

BATCH = 50


def pieces(tf, keras, np):
    """name -> (function of no arguments, that runs one piece once)."""

    from mnist_filters.network.build import build_model
    from mnist_filters.optimizers import make_optimizer

    rng = np.random.default_rng(0)

    def variable(*shape):
        return tf.Variable(rng.standard_normal(shape).astype(np.float32) * 0.05)

    def constant(*shape):
        return tf.constant(rng.random(shape, dtype=np.float32))

    x, h1, flat, hidden = (
        constant(BATCH, 28, 28, 1),
        constant(BATCH, 9, 9, 25),
        constant(BATCH, 1600),
        constant(BATCH, 1024),
    )
    w1, w2, w3, w4 = (
        variable(12, 12, 1, 25),
        variable(5, 5, 25, 64),
        variable(1600, 1024),
        variable(1024, 10),
    )

    def with_gradients(forward, wrt):
        def run():
            with tf.GradientTape() as tape:
                tape.watch(wrt)
                loss = tf.reduce_sum(forward() ** 2)
            return tape.gradient(loss, wrt)

        return run

    layers = {
        "conv1 12x12x25 stride 2": (lambda: tf.nn.relu(tf.nn.conv2d(x, w1, 2, "VALID")), [w1]),
        "conv2 5x5x64 SAME": (lambda: tf.nn.relu(tf.nn.conv2d(h1, w2, 1, "SAME")), [w2, h1]),
        "fc1 1600x1024": (lambda: tf.nn.relu(flat @ w3), [w3, flat]),
        "fc2 1024x10": (lambda: hidden @ w4, [w4, hidden]),
    }
    result = {}
    for name, (forward, wrt) in layers.items():
        result[f"{name}: forward"] = forward
        result[f"{name}: forward + backward"] = with_gradients(forward, wrt)

    from mnist_filters.schema import load_yaml
    from mnist_filters.settings import resolve_runs

    schema = load_yaml(REPO / "schemas" / "run.schema.yaml")
    defaults = resolve_runs({"runs": {"notebook": {}}}, schema)["notebook"]
    settings = defaults["model"]
    models = {}

    def step(kernels):
        if kernels not in models:
            model = build_model(settings, 0, portable=kernels != "xla")
            optimizer = make_optimizer(defaults["training"])  # training's own: the fused Adam
            optimizer.build(model.trainable_variables)
            models[kernels] = model, optimizer
        model, optimizer = models[kernels]
        labels = tf.constant(rng.integers(0, 10, BATCH).astype(np.int32))
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

        def run():
            with tf.GradientTape() as tape:
                loss = loss_fn(labels, model(x, training=True))
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return loss

        return run, model, optimizer

    return result, step


def time_calls(function, calls: int) -> float:
    function()
    function()  # compiled and warm
    started = time.perf_counter()
    for _ in range(calls):
        out = function()
    for value in out if isinstance(out, (list, tuple)) else [out]:
        value.numpy()
    return (time.perf_counter() - started) / calls * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    configure_tensorflow(args.threads, "float32")
    import keras
    import numpy as np
    import tensorflow as tf

    layer_pieces, step = pieces(tf, keras, np)
    compiled = {}
    for kernels in ("xla", "onednn"):
        for name, function in layer_pieces.items():
            compiled[name, kernels] = tf.function(function, jit_compile=kernels == "xla")
        run, model, optimizer = step(kernels)
        gradients = [tf.ones_like(v) * 1e-3 for v in model.trainable_variables]
        compiled["Adam update of all weights", kernels] = tf.function(
            lambda g=gradients, o=optimizer, m=model: o.apply_gradients(
                zip(g, m.trainable_variables)
            ),
            jit_compile=kernels == "xla",
        )
        compiled["whole training step", kernels] = tf.function(run, jit_compile=kernels == "xla")

    samples: dict[tuple[str, str], list[float]] = {key: [] for key in compiled}
    for repeat in range(args.repeats):
        order = ("xla", "onednn") if repeat % 2 == 0 else ("onednn", "xla")
        for name in dict.fromkeys(name for name, _ in compiled):
            for kernels in order:
                samples[name, kernels].append(time_calls(compiled[name, kernels], args.calls))
        print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)

    print(f"CPU: {describe(*cpu_info())}")
    print(
        f"batch {BATCH}, {args.threads} threads, op determinism on; ms per call, median of "
        f"{args.repeats} "
        f"(range), {args.calls} calls each\n"
    )
    print("| piece | xla | onednn |")
    print("|---|---|---|")
    for name in dict.fromkeys(name for name, _ in compiled):
        cells = [
            f"{statistics.median(v):.2f} ({min(v):.2f} to {max(v):.2f})"
            for v in (samples[name, "xla"], samples[name, "onednn"])
        ]
        print(f"| {name} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
