"""Feature visualisation figures: one grid per visualised layer (laid out as filters.png), each
cell a unit's optimised image (with diversity, its images side by side) with the objective it
reaches beside the best test image's. The logits' grid is the class models, labelled by class
name."""

from __future__ import annotations

import math

import numpy as np

from mnist_filters.atomic import atomic_directory
from mnist_filters.formats.features import read_features
from mnist_filters.stages.figures.style import bare, grid, plt, save, show_pixels

OBJECTIVES = {
    "channel": "mean of the filter's map",
    "neuron": "the filter at the map's centre",
    "unit": "the unit",
}


def feature_figures(features: str, output: str, *, dpi: int) -> None:
    """`output`/<layer>.png for each layer of features.h5."""
    with atomic_directory(output) as folder:
        for layer, entry in read_features(features).items():
            figure = layer_figure(layer, entry)
            save(figure, f"{folder}/{layer}.png", dpi)


def strip(entry: dict, i: int):
    """Unit i's image, or with diversity its images side by side, a mid-grey column between."""
    if "diverse_images" not in entry:
        return entry["images"][i]
    images = entry["diverse_images"][i]
    gap = np.full((images.shape[1], 1, *images.shape[3:]), 128, images.dtype)
    return np.concatenate([part for image in images for part in (image, gap)][:-1], axis=1)


def layer_figure(layer: str, entry: dict):
    units = entry["units"]
    names = entry.get("unit_names")
    count = len(units)
    rows, columns = grid(count, 5 if names else math.ceil(math.sqrt(count)))
    # fc1's 1,024 units in smaller cells
    cell, fontsize = (1.7, 8) if count <= 100 else (1.1, 5)
    copies = entry["diverse_images"].shape[1] if "diverse_images" in entry else 1
    # at least the width of the three-line title
    width = max(columns * cell * copies + 0.4, 7.5)
    figure = plt.figure(figsize=(width, rows * (cell + 0.45) + 1.0), layout="constrained")
    for i, unit in enumerate(units):
        axes = figure.add_subplot(rows, columns, i + 1)
        bare(axes)
        # the data's own scale, as the test images and their patches are shown
        show_pixels(axes, strip(entry, i))
        title = f"class {names[i]}" if names else f"{unit}"
        axes.set_title(
            f"{title}\n{entry['objective'][i]:.3g} / test {entry['best_test_value'][i]:.3g}",
            fontsize=fontsize,
        )
    if names:
        what = "the class models (Simonyan et al. 2013): the input each class's score"
        objective = "the logit, before the softmax"
    else:
        kind = "filters" if entry["objective_kind"] in ("channel", "neuron") else "units"
        what = f"the input each of its {count} {kind}"
        objective = f"{OBJECTIVES[entry['objective_kind']]}, before the ReLU"
    figure.suptitle(
        f"{layer}: {what} responds to most\nobjective: {objective}\nunder each: the objective "
        "reached / the best test image's; pixels 0 (black) to 255 (white)",
        fontsize=9,
    )
    return figure
