"""Invariance figures (Zeiler & Fergus, Fig. 5), one per transformation: an example image at
each value, each layer's feature distance against the value, and the true label's probability.
Lines are means over the sampled images; bands span their 25th to 75th percentiles."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import h5py
import numpy as np

from mnist_filters.atomic import atomic_directory
from mnist_filters.stages.figures.style import GREY, bare, plt, save

UNITS = {
    "vertical_shift": "pixels (down +)",
    "horizontal_shift": "pixels (right +)",
    "rotation": "degrees (anticlockwise +)",
    "scale": "factor",
}
EXAMPLES = 7  # transformed copies of the example image shown


def read_invariance(path: str) -> tuple[list[str], dict[str, dict[float, list[dict]]]]:
    """The layers measured, and the rows by transformation and value (in the file's order)."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        layers = [
            name[: -len("_distance")]
            for name in reader.fieldnames or []
            if name.endswith("_distance")
        ]
        rows: dict[str, dict[float, list[dict]]] = defaultdict(lambda: defaultdict(list))
        for row in reader:
            rows[row["transformation"]][float(row["value"])].append(row)
    return layers, rows


def invariance_figures(invariance_csv: str, examples_h5: str, output: str, *, dpi: int) -> None:
    layers, rows = read_invariance(invariance_csv)
    with h5py.File(examples_h5, "r") as h5:
        example = int(h5.attrs["test_index"])
        examples = {name: (h5[name].attrs["values"][:], h5[name][:]) for name in h5}
    with atomic_directory(output) as folder:
        for transformation, by_value in rows.items():
            values = np.array(sorted(by_value))
            all_values, all_copies = examples[transformation]
            picked = np.unique(
                np.linspace(0, len(all_values) - 1, min(EXAMPLES, len(all_values)))
                .round()
                .astype(int)
            )
            shown, copies = all_values[picked], all_copies[picked]
            half = (len(shown) + 1) // 2  # the examples in two rows
            figure = plt.figure(figsize=(15, 4.4))
            grid = figure.add_gridspec(2, half + 9, width_ratios=[1.8] * half + [0.3] + [1] * 8)
            for i, (copy, value) in enumerate(zip(copies, shown)):
                axes = figure.add_subplot(grid[i // half, i % half])
                bare(axes)
                axes.imshow(copy, cmap=GREY, vmin=0, vmax=1)
                axes.set_title(f"{value:.3g}", fontsize=8)
            distance_axes = figure.add_subplot(grid[:, half + 1 : half + 5])
            probability_axes = figure.add_subplot(grid[:, half + 5 :])
            for layer, colour in zip(layers, plt.get_cmap("tab10").colors):
                band(
                    distance_axes,
                    values,
                    [[float(r[f"{layer}_distance"]) for r in by_value[v]] for v in values],
                    colour,
                    layer,
                )
            band(
                probability_axes,
                values,
                [[float(r["probability_label"]) for r in by_value[v]] for v in values],
                "black",
                "p(true label)",
            )
            count = len(by_value[values[0]])
            distance_axes.set_title(
                f"feature distance ||f(x') - f(x)|| / ||f(x)||\nmean of {count} test images, "
                "band 25-75 %",
                fontsize=9,
            )
            distance_axes.set_ylabel("relative Euclidean distance")
            distance_axes.legend(fontsize=8)
            probability_axes.set_title(
                "probability of the true label\n(mean, band 25-75 %)", fontsize=9
            )
            probability_axes.set_ylim(-0.02, 1.02)
            for axes in (distance_axes, probability_axes):
                axes.set_xlabel(
                    f"{transformation.replace('_', ' ')}, {UNITS.get(transformation, '')}"
                )
                axes.grid(alpha=0.3)
            figure.suptitle(
                f"{transformation.replace('_', ' ')}: test image {example} as transformed (left), "
                "and what it does to the features and the output",
                fontsize=10,
            )
            figure.tight_layout()
            save(figure, Path(folder) / f"{transformation}.png", dpi)


def band(axes, values, samples, colour, label):
    samples = [np.asarray(s) for s in samples]
    axes.plot(values, [s.mean() for s in samples], "o-", ms=3, color=colour, label=label)
    axes.fill_between(
        values,
        [np.percentile(s, 25) for s in samples],
        [np.percentile(s, 75) for s in samples],
        color=colour,
        alpha=0.2,
        lw=0,
    )
