"""Occlusion sensitivity figures (Zeiler & Fergus, Fig. 7), one per occluded test image.

Panels: (a) the image, the occluder drawn where it changes the true label's probability most; (b)
the strongest feature
map's total activation against the occluder's position; (c) that map's strongest unit
projected back to pixels (deconvnet); (d) the probability of the true label against the
occluder's position; (e) the most probable label there. Every map is drawn at the
occluder's centres, on the image's own pixel grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
from matplotlib.patches import Rectangle

from mnist_filters.atomic import atomic_directory
from mnist_filters.dataset import label_text
from mnist_filters.idx import read_idx
from mnist_filters.stages.figures.style import bare, plt, save, show_pixels, signed_colour

SIGNED = "RdBu_r"


def occlusion_figures(
    occlusion_h5: str, test_images: str, output: str, *, classes: Sequence[str], dpi: int
) -> None:
    images = read_idx(test_images)
    with h5py.File(occlusion_h5, "r") as h5:
        data = {
            key: h5[key][:]
            for key in (
                "test_index",
                "label",
                "occluder_rows",
                "occluder_cols",
                "probability_label",
                "predicted",
                "map_total",
                "strongest_filter",
                "projection",
            )
        }
        unoccluded = {
            key: h5[f"unoccluded/{key}"][:]
            for key in ("probability_label", "predicted", "map_total")
        }
        layer, size, stride, fill = (h5.attrs[key] for key in ("layer", "size", "stride", "fill"))
    with atomic_directory(output) as folder:
        for i, index in enumerate(data["test_index"]):
            figure = draw(
                images[index],
                i,
                data,
                unoccluded,
                str(layer),
                int(size),
                int(stride),
                float(fill),
                classes,
            )
            save(figure, Path(folder) / f"image_{int(index):05d}.png", dpi)


def draw(image, i, data, unoccluded, layer, size, stride, fill, classes):
    rows, cols = data["occluder_rows"], data["occluder_cols"]
    centre = (size - 1) / 2
    # each occluder position's cell, centred on the occluder's centre, in image pixels
    extent = (
        cols[0] + centre - stride / 2,
        cols[-1] + centre + stride / 2,
        rows[-1] + centre + stride / 2,
        rows[0] + centre - stride / 2,
    )
    height, width = image.shape[:2]
    label = int(data["label"][i])
    figure, panels = plt.subplots(1, 5, figsize=(16.5, 4.1))
    for axes in panels:
        bare(axes)
        axes.set_xlim(-0.5, width - 0.5)
        axes.set_ylim(height - 0.5, -0.5)

    show_pixels(panels[0], image)
    # the occluder where it moves the true label's probability most
    change = np.abs(data["probability_label"][i] - unoccluded["probability_label"][i])
    r, c = np.unravel_index(int(change.argmax()), change.shape)
    panels[0].add_patch(
        Rectangle(
            (cols[c] - 0.5, rows[r] - 0.5), size, size, fill=False, ec="#e33", lw=1.5, ls="--"
        )
    )
    said = int(unoccluded["predicted"][i])
    panels[0].set_title(
        f"(a) test image {int(data['test_index'][i])}, {label_text(label, classes)}: "
        f"model says {said}\n(p true {unoccluded['probability_label'][i]:.3f}); dashed: the "
        f"{size}x{size} occluder (fill {fill:g})\nwhere it moves p true most "
        f"(to {data['probability_label'][i][r, c]:.3f})",
        fontsize=8,
    )

    f = int(data["strongest_filter"][i])
    shown = panels[1].imshow(
        data["map_total"][i], cmap="viridis", extent=extent, interpolation="nearest"
    )
    bar(figure, panels[1], shown, f"sum of {layer} map {f}")
    panels[1].set_title(
        f"(b) {layer} map {f}'s total activation\nagainst occluder centre "
        f"(unoccluded {unoccluded['map_total'][i]:.3g})",
        fontsize=8,
    )

    projection = data["projection"][i]
    limit = float(np.abs(projection).max()) or 1.0
    if projection.ndim == 2:
        shown = panels[2].imshow(projection, cmap=SIGNED, vmin=-limit, vmax=limit)
        bar(figure, panels[2], shown, "d unit / d pixel")
    else:  # each colour channel's d unit / d pixel: mid-grey 0
        panels[2].imshow(signed_colour(projection, limit))
    panels[2].set_title(
        f"(c) deconvnet projection of map {f}'s\nstrongest unit (scale ±{limit:.3g})", fontsize=8
    )

    shown = panels[3].imshow(
        data["probability_label"][i],
        cmap="magma",
        vmin=0,
        vmax=1,
        extent=extent,
        interpolation="nearest",
    )
    bar(figure, panels[3], shown, f"p({label})")
    panels[3].set_title(
        f"(d) probability of the true label {label}\nagainst occluder centre", fontsize=8
    )

    predicted = data["predicted"][i]
    palette = plt.get_cmap("tab10", len(classes))
    panels[4].imshow(
        predicted,
        cmap=palette,
        vmin=-0.5,
        vmax=len(classes) - 0.5,
        extent=extent,
        interpolation="nearest",
    )
    for (r, c), value in np.ndenumerate(predicted):
        panels[4].text(
            cols[c] + centre,
            rows[r] + centre,
            str(value),
            ha="center",
            va="center",
            fontsize=6,
            color="white" if value != label else "black",
            fontweight="normal" if value == label else "bold",
        )
    panels[4].set_title(
        "(e) most probable label\nagainst occluder centre (bold: wrong)", fontsize=8
    )
    figure.tight_layout()
    return figure


def bar(figure, axes, image, text):
    colour_bar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.03)
    colour_bar.set_label(text, fontsize=7)
    colour_bar.ax.tick_params(labelsize=7)
