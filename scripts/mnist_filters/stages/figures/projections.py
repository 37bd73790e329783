"""What in each top patch excites a filter: the patches above their projections, per method.

Per (layer, filter): the top patches in one row and, in one row per method below, each
patch's projection on a signed colour map centred at zero (blue negative, red positive),
one symmetric scale per row, stated beside it. Per layer and method: an overview of
filters x ranks, projections only, each filter's row on its own scale.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from mnist_filters.atomic import atomic_directory
from mnist_filters.dataset import label_text
from mnist_filters.idx import read_idx
from mnist_filters.stages.figures.sheets import Sheet, draw_sheets
from mnist_filters.stages.figures.style import (
    GREY,
    OUTSIDE_IMAGE,
    bare,
    colour,
    plt,
    save,
    signed_colour,
)
from mnist_filters.stages.figures.top_patches import crop
from mnist_filters.stages.rank import RankedUnit, read_rankings

SIGNED = "RdBu_r"  # blue < 0 < red, white at zero
GAP = 2
COLOUR_KEY = (
    "each colour channel: brighter raises the activation, darker lowers it, mid-grey: neither"
)


def tiles(maps: list[np.ndarray], fill: float) -> np.ndarray:
    """Equal-sized maps (greyscale, or colour: H, W, C) side by side with `fill` between them
    (NaN draws as the background)."""
    height, width = maps[0].shape[:2]
    row = np.full((height, len(maps) * (width + GAP) - GAP, *maps[0].shape[2:]), fill, np.float32)
    for i, tile in enumerate(maps):
        row[:, i * (width + GAP) : i * (width + GAP) + width] = tile
    return row


def field_patch(
    images: np.ndarray, unit: RankedUnit, origin: np.ndarray, size: tuple[int, int]
) -> np.ndarray:
    """The unit's whole receptive field from its test image (NaN where it leaves the image),
    aligned with its projection."""
    patch = np.full(size, np.nan, np.float32)
    inside = crop(images, unit).astype(np.float32)
    dy, dx = unit.box[0] - int(origin[0]), unit.box[1] - int(origin[1])
    patch[dy : dy + inside.shape[0], dx : dx + inside.shape[1]] = inside
    return patch


def projection_figures(
    rankings: str,
    test_images: str,
    projections: str,
    output: str,
    *,
    classes: Sequence[str],
    dpi: int,
    workers: int = 1,
) -> None:
    """Per projected filter one figure (drawn by `workers` processes; the same for any number),
    per layer and method one overview. `classes`: the class name of each label."""
    images = read_idx(test_images)
    by_filter = read_rankings(rankings)
    sheets, overviews = [], []
    with h5py.File(projections, "r") as h5:
        methods = [str(m) for m in h5.attrs["methods"]]
        for layer in h5:
            maps = {method: h5[f"{layer}/{method}"][:] for method in methods}
            origins = h5[f"{layer}/field_origin"][:]
            position = {
                int(number): i for i, number in enumerate(h5[f"{layer}/{methods[0]}"].attrs["rows"])
            }
            filters = sorted(f for ranked_layer, f in by_filter if ranked_layer == layer)
            for f in filters:
                sheets.append(
                    filter_sheet(
                        layer, f, by_filter[(layer, f)], images, maps, origins, position, classes
                    )
                )
            for method in methods:
                overviews.append(
                    (
                        layer,
                        method,
                        filters,
                        [
                            [maps[method][position[unit.number]] for unit in by_filter[(layer, f)]]
                            for f in filters
                        ],
                    )
                )
    with atomic_directory(output) as folder:

        def draw_overviews():
            for overview in overviews:
                draw_overview(Path(folder), dpi, *overview)

        draw_sheets(
            ProjectionSheet, Path(folder), dpi, sheets, workers=workers, meanwhile=draw_overviews
        )


def filter_sheet(layer, f, units, images, maps, origins, position, classes):
    """(file name, (title, patch row, [(row label, projection row, its scale)])) of one filter."""
    indices = [position[unit.number] for unit in units]
    size = next(iter(maps.values())).shape[1:]
    patches = tiles(
        [field_patch(images, unit, origins[i], size) for unit, i in zip(units, indices)], np.nan
    )
    rows = []
    for method, values in maps.items():
        chosen = [values[i] for i in indices]
        limit = float(max(np.abs(m).max() for m in chosen)) or 1.0
        rows.append((f"{method}\n±{limit:.3g}", tiles(chosen, np.nan), limit))
    counts = Counter(unit.label for unit in units).most_common()
    labels = ", ".join(f"{label_text(label, classes)} ×{count}" for label, count in counts)
    title = (
        f"{layer} filter {f}: top {len(units)} patches and their projections\n"
        f"{textwrap.shorten(labels, width=110, placeholder=', ...')}\n"
        + ("red: raises the activation, blue: lowers it" if patches.ndim == 2 else COLOUR_KEY)
        + "; each row on its own scale (beside it)"
    )
    return f"{layer}_filter{f:02d}.png", (title, patches, rows)


class ProjectionSheet(Sheet):
    """One patch row above one row per method."""

    @staticmethod
    def layout_of(title, patches, rows) -> tuple[tuple[int, ...], int]:
        return patches.shape, len(rows)

    def __init__(self, layout: tuple[tuple[int, ...], int]):
        patch_shape, methods = layout
        height, width = patch_shape[:2]
        # about 4 pixels per input pixel at 100 dpi, and room for the row labels and the title
        self.figure, panels = plt.subplots(
            1 + methods,
            1,
            figsize=(max(6.0, width / 25 + 1.5), (1 + methods) * max(0.9, height / 25 + 0.2) + 0.8),
        )
        grey = plt.get_cmap(GREY).with_extremes(bad=OUTSIDE_IMAGE)
        signed = plt.get_cmap(SIGNED).with_extremes(bad="white")
        blank = np.zeros(patch_shape, np.float32)
        self.patches = panels[0].imshow(blank, cmap=grey, vmin=0, vmax=255, interpolation="nearest")
        panels[0].set_ylabel("patch", rotation=0, ha="right", va="center", fontsize=9)
        self.rows = [
            axes.imshow(blank, cmap=signed, vmin=-1, vmax=1, interpolation="nearest")
            for axes in panels[1:]
        ]
        for axes in panels:
            bare(axes)
        self.title = self.figure.suptitle("", fontsize=9)
        # fixed margins: the row labels change from filter to filter and must fit
        inches = self.figure.get_size_inches()
        self.figure.subplots_adjust(
            left=1.1 / inches[0], right=0.99, top=1 - 0.75 / inches[1], bottom=0.02, hspace=0.12
        )

    def draw(self, title, patches, rows):
        self.title.set_text(title)
        grey = patches.ndim == 2
        self.patches.set_data(patches if grey else colour(patches / 255.0, OUTSIDE_IMAGE))
        for image, (label, values, limit) in zip(self.rows, rows):
            image.set_data(values if grey else signed_colour(values, limit))
            image.set_clim(-limit, limit)
            image.axes.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)


def draw_overview(
    folder: Path,
    dpi: int,
    layer: str,
    method: str,
    filters: list[int],
    maps: list[list[np.ndarray]],
):
    """Filters x ranks of one method's projections, each filter's row scaled to its own largest
    |value|."""
    rows = [
        tiles([m / (float(max(np.abs(x).max() for x in row)) or 1.0) for m in row], np.nan)
        for row in maps
    ]
    width = max(r.shape[1] for r in rows)
    height = rows[0].shape[0]
    sheet = np.full(
        (len(rows) * (height + GAP) - GAP, width, *rows[0].shape[2:]), np.nan, np.float32
    )
    for i, row in enumerate(rows):
        sheet[i * (height + GAP) : i * (height + GAP) + height, : row.shape[1]] = row
    grey = sheet.ndim == 2
    if not grey:
        sheet = signed_colour(sheet, 1.0)
    figure = plt.figure(figsize=(max(4.0, width / 25 + 1.0), max(3.0, sheet.shape[0] / 25) + 0.8))
    axes = figure.add_subplot(1, 1, 1)
    axes.imshow(
        sheet,
        cmap=plt.get_cmap(SIGNED).with_extremes(bad="white"),
        vmin=-1,
        vmax=1,
        interpolation="nearest",
    )
    axes.set_yticks(
        [(height + GAP) * (i + 0.5) for i in range(len(filters))],
        [str(f) for f in filters],
        fontsize=6,
    )
    axes.set_xticks(())
    axes.set_ylabel("filter")
    axes.set_xlabel("rank (strongest first)")
    axes.set_title(
        f"{layer}: {method} projections of each filter's top patches\n"
        "each filter's row scaled to its own largest |value|: "
        + ("blue -1, white 0, red +1" if grey else "each channel none -1, mid-grey 0, full +1"),
        fontsize=9,
    )
    save(figure, folder / f"{layer}_{method}_overview.png", dpi)
