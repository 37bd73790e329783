"""The transfer experiment's figures: Yosinski et al.'s Fig. 2 (accuracy on B against the
layers copied), and the few-shot curve (accuracy on B against examples per class)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from mnist_filters.stages.figures.style import plt, save
from mnist_filters.stages.transfer import read_table

# Yosinski et al.'s colours and markers: B's own features blue, A's red; '+' fine-tuned, lighter.
STYLE = {
    "BnB": ("#1f4e9c", "o"),
    "BnB+": ("#7fa6e0", "o"),
    "AnB": ("#b2182b", "D"),
    "AnB+": ("#f09494", "D"),
}
KIND_STYLE = {"transferred": ("#b2182b", "D"), "scratch": ("#1f4e9c", "o")}


def _means(points: dict) -> tuple[list, list]:
    xs = sorted(points)
    return xs, [float(np.mean(points[x])) for x in xs]


def transfer_figure(transfer_csv: str, output: str, *, dpi: int, layers: list[str]) -> None:
    """`layers`: the layers with weights that depth n copies the first n of."""
    """Test accuracy on B against n for each treatment: a marker per seed, a line through the
    means, baseB as the reference (a marker at n = 0 and a dashed line)."""
    rows = read_table(transfer_csv)
    figure, axes = plt.subplots(figsize=(8.5, 4.8), layout="constrained")
    base_b = [row for row in rows if row["treatment"] == "baseB"]
    for row in base_b:
        axes.plot(0, row["test_accuracy"], "o", mfc="white", mec="black", ms=8, label="baseB")
        axes.axhline(row["test_accuracy"], color="black", ls="--", lw=0.8)
    offsets = dict(zip(STYLE, np.linspace(-0.12, 0.12, len(STYLE))))
    for treatment, (colour, marker) in STYLE.items():
        points = defaultdict(list)
        for row in rows:
            if row["treatment"] == treatment:
                points[row["n"]].append(row["test_accuracy"])
        if not points:
            continue
        for n, values in points.items():
            axes.plot(
                [n + offsets[treatment]] * len(values),
                values,
                marker,
                color=colour,
                ms=5,
                alpha=0.75,
                ls="none",
            )
        xs, means = _means(points)
        axes.plot(
            np.array(xs) + offsets[treatment], means, "-", color=colour, lw=1.6, label=treatment
        )
    depths = sorted({row["n"] for row in rows if row["treatment"] in STYLE} | {0})
    axes.set_xticks(depths)
    copied = ", ".join(f"{n} {'+ ' if n > 1 else ''}{name}" for n, name in enumerate(layers, 1))
    axes.set_xlabel(f"layers n copied from the base network ({copied})")
    axes.set_ylabel("test accuracy on B")
    classes = {row["treatment"]: row["classes"] for row in rows}
    axes.set_title(
        f"Transfer between halves A = {{{classes.get('baseA', '?')}}} and "
        f"B = {{{classes.get('baseB', '?')}}}\na marker per seed, lines through the means",
        fontsize=9,
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    save(figure, output, dpi)


def few_shot_figure(few_shot_csv: str, output: str, *, dpi: int) -> None:
    """Test accuracy on B against examples per class, a new top over A's features against the
    network trained from scratch: a marker per seed, a line through the means."""
    rows = read_table(few_shot_csv)
    figure, axes = plt.subplots(figsize=(7.5, 4.8), layout="constrained")
    for kind, (colour, marker) in KIND_STYLE.items():
        points = defaultdict(list)
        for row in rows:
            if row["kind"] == kind:
                points[row["examples_per_class"]].append(row["test_accuracy"])
        for k, values in points.items():
            axes.plot([k] * len(values), values, marker, color=colour, ms=5, alpha=0.75)
        xs, means = _means(points)
        first = next(row for row in rows if row["kind"] == kind)
        label = (
            f"{first['source'].removeprefix('transfer/')}'s first {first['depth']} layers "
            "frozen, new layers above"
            if kind == "transferred"
            else "from scratch"
        )
        axes.plot(xs, means, "-", color=colour, lw=1.6, label=label)
    axes.set_xscale("log")
    ks = sorted({row["examples_per_class"] for row in rows})
    axes.set_xticks(ks, [str(k) for k in ks])
    axes.minorticks_off()
    target = f"{rows[0]['data_set']} {{{rows[0]['classes']}}}"
    axes.set_xlabel(f"training images per class of the target, {target}")
    axes.set_ylabel("test accuracy on the target")
    axes.set_title(
        f"A new top over kept features, and the network from scratch, on few images of "
        f"{target}\na marker per seed, lines through the means",
        fontsize=9,
    )
    axes.grid(alpha=0.3)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncols=2, fontsize=8)
    save(figure, output, dpi)
