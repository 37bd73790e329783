"""Features through training (Zeiler & Fergus, Fig. 4): per layer, filters down and training
steps across, each cell that step's strongest test-set patch with its activation; and
the first convolution's filters at each kept step."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from mnist_filters.atomic import atomic_directory
from mnist_filters.formats.snapshots import read_evolution, read_snapshots
from mnist_filters.idx import read_idx
from mnist_filters.stages.figures.style import GREY, bare, filter_mosaic, plt, save, show_filters

FILTERS_PER_COLUMN = 16
GAP = 9  # pixels under each patch, where its activation is written


def evolution_figures(
    evolution_csv: str, snapshots: str, test_images: str, output: str, *, dpi: int, first: str
) -> None:
    """`first`: the name of the network's first convolution, whose filters draw as images."""
    images = read_idx(test_images)
    by_layer: dict[str, dict[int, dict[int, dict]]] = defaultdict(lambda: defaultdict(dict))
    for row in read_evolution(evolution_csv):
        by_layer[row["layer"]][row["filter"]][row["step"]] = row
    steps, weights = read_snapshots(snapshots)
    with atomic_directory(output) as folder:
        for layer, by_filter in by_layer.items():
            draw_layer(
                Path(folder) / f"{layer}_through_training.png", layer, by_filter, images, steps, dpi
            )
        if first in weights:
            draw_filters(
                Path(folder) / f"{first}_filters_through_training.png",
                first,
                steps,
                [kernel for kernel, _bias in weights[first]],
                dpi,
            )


def draw_layer(path, layer, by_filter, images, steps, dpi):
    filters = sorted(by_filter)
    groups = [
        filters[i : i + FILTERS_PER_COLUMN] for i in range(0, len(filters), FILTERS_PER_COLUMN)
    ]
    size = max(row["y1"] - row["y0"] for rows in by_filter.values() for row in rows.values())
    cell = size + GAP
    # about 5 figure pixels per image pixel at 100 dpi, and room for the ticks and the title
    width, height = len(steps) * (size + 2) / 20 + 0.7, len(groups[0]) * cell / 20 + 1.4
    figure, panels = plt.subplots(
        1, len(groups), figsize=(len(groups) * width, height), squeeze=False
    )
    for axes, group in zip(panels[0], groups):
        # every column as tall as the first, so that the panels line up
        canvas = np.full(
            (len(groups[0]) * cell, len(steps) * (size + 2), *images.shape[3:]), 128, np.uint8
        )
        for r, f in enumerate(group):
            for c, step in enumerate(steps):
                row = by_filter[f][step]
                patch = images[row["image_index"]][row["y0"] : row["y1"], row["x0"] : row["x1"]]
                y, x = r * cell, c * (size + 2)
                canvas[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
        axes.imshow(canvas, cmap=GREY, vmin=0, vmax=255, interpolation="nearest")
        for r, f in enumerate(group):
            for c, step in enumerate(steps):
                axes.text(
                    c * (size + 2) + size / 2 - 0.5,
                    r * cell + size + GAP / 2 - 0.5,
                    f"{by_filter[f][step]['activation']:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white",
                )
        axes.set_yticks(
            [r * cell + size / 2 for r in range(len(group))], [str(f) for f in group], fontsize=6
        )
        axes.set_xticks(
            [c * (size + 2) + size / 2 for c in range(len(steps))],
            [str(s) for s in steps],
            fontsize=6,
            rotation=90,
        )
        axes.set_xlabel("training step", fontsize=8)
        axes.set_ylabel("filter", fontsize=8)
        axes.tick_params(length=0)
    figure.suptitle(
        f"{layer}: each filter's strongest test-set patch at each kept step, its activation below",
        fontsize=9,
    )
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.35 / height))
    save(figure, path, dpi)


def draw_filters(path, layer, steps, kernels, dpi):
    """Per step, `layer`'s filters in a grid on that step's own symmetric scale (stated), grey
    or, for an RGB input, colour."""
    figure, panels = plt.subplots(1, len(steps), figsize=(len(steps) * 2.4, 2.9), squeeze=False)
    for axes, step, kernel in zip(panels[0], steps, kernels):
        limit = float(np.abs(kernel).max()) or 1.0
        show_filters(axes, filter_mosaic(kernel / limit), 1.0)
        bare(axes)
        axes.set_title(f"step {step}\n±{limit:.3f}", fontsize=8)
    figure.suptitle(
        f"{layer}'s filters at each kept step (each panel on its own symmetric scale: "
        + ("black -, white +)" if kernels[0].shape[2] == 1 else "mid-grey 0)"),
        fontsize=9,
    )
    figure.tight_layout()
    save(figure, path, dpi)
