"""Each ranked filter's top patches, cut from the test images, one overview per layer, and
where two or more layers are ranked, the progression from the first to the last (Zeiler &
Fergus, Fig. 2): a few filters of each layer side by side, with their top patches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mnist_filters.atomic import atomic_directory
from mnist_filters.dataset import label_text
from mnist_filters.idx import read_idx
from mnist_filters.stages.figures.sheets import Sheet, draw_sheets
from mnist_filters.stages.figures.style import GREY, bare, grid, plt, save
from mnist_filters.stages.rank import RankedUnit, read_rankings


def crop(images: np.ndarray, unit: RankedUnit) -> np.ndarray:
    """The receptive field of a ranked unit, cut from the test image it came from."""
    y0, x0, y1, x1 = unit.box
    return images[unit.image_index][y0:y1, x0:x1]


def mosaic(patches: list[list[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Patches (greyscale or colour) in a grid on a mid-grey background (smaller, clipped
    patches top-left)."""
    first = patches[0][0]
    height = max(p.shape[0] for row in patches for p in row)
    width = max(p.shape[1] for row in patches for p in row)
    columns = max(len(row) for row in patches)
    canvas = np.full(
        ((height + gap) * len(patches) - gap, (width + gap) * columns - gap, *first.shape[2:]),
        128,
        np.uint8,
    )
    for r, row in enumerate(patches):
        for c, patch in enumerate(row):
            y, x = r * (height + gap), c * (width + gap)
            canvas[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return canvas


class PatchSheet(Sheet):
    """`count` patch panels, each captioned, under a title."""

    @staticmethod
    def layout_of(title: str, patches: list[np.ndarray], captions: list[str]) -> int:
        return len(patches)

    def __init__(self, count: int):
        nrows, ncols = grid(count, 4)
        self.figure = plt.figure(figsize=(ncols * 2.0, nrows * 2.2))
        self.panels = []
        for i in range(count):
            axes = self.figure.add_subplot(nrows, ncols, i + 1)
            bare(axes)
            self.panels.append(axes.imshow(np.zeros((1, 1), np.uint8), cmap=GREY, vmin=0, vmax=255))

    def draw(self, title: str, patches: list[np.ndarray], captions: list[str]) -> None:
        for image, patch, caption in zip(self.panels, patches, captions):
            height, width = patch.shape[:2]
            image.set_data(patch)
            image.set_extent((-0.5, width - 0.5, height - 0.5, -0.5))
            image.axes.set_xlim(-0.5, width - 0.5)
            image.axes.set_ylim(height - 0.5, -0.5)
            image.axes.set_title(caption, fontsize=8)
        self.figure.suptitle(title)


def top_patches(
    rankings: str,
    test_images: str,
    output_dir: str,
    *,
    classes: Sequence[str],
    dpi: int,
    workers: int = 1,
) -> None:
    """Per filter: its top patches from the *test* images, each captioned with its activation and
    label (`classes`: the class name of each label); per layer: an overview grid.

    The per-filter figures are drawn by `workers` processes (the figures are the same
    for any number).
    """
    images = read_idx(test_images)
    by_filter = read_rankings(rankings)
    sheets = [
        (
            f"{layer}_filter{f:02d}.png",
            (
                f"{layer} filter {f}: top {len(units)} test-set patches",
                [crop(images, unit) for unit in units],
                [
                    f"#{unit.rank}: {unit.activation:.2f}\n{label_text(unit.label, classes)}"
                    for unit in units
                ],
            ),
        )
        for (layer, f), units in by_filter.items()
    ]
    with atomic_directory(output_dir) as folder:
        draw_sheets(
            PatchSheet,
            folder,
            dpi,
            sheets,
            workers=workers,
            meanwhile=lambda: draw_overviews(folder, dpi, images, by_filter),
        )
        if len({layer for layer, _ in by_filter}) > 1:
            draw_progression(Path(folder) / "progression.png", dpi, images, by_filter)


def draw_overviews(
    folder: Path, dpi: int, images: np.ndarray, by_filter: dict[tuple[str, int], list[RankedUnit]]
) -> None:
    """Per layer: every ranked filter's patches in one grid, filters x ranks."""
    for layer in dict.fromkeys(layer for layer, _ in by_filter):
        keys = [key for key in by_filter if key[0] == layer]
        canvas = mosaic([[crop(images, unit) for unit in by_filter[key]] for key in keys])
        figure = plt.figure(
            figsize=(max(4.0, canvas.shape[1] / 25), max(3.0, canvas.shape[0] / 25) + 0.6)
        )
        axes = figure.add_subplot(1, 1, 1)
        axes.imshow(canvas, cmap=GREY, vmin=0, vmax=255, interpolation="nearest")
        step = canvas.shape[0] / len(keys)
        axes.set_yticks(
            [step * (i + 0.5) for i in range(len(keys))], [f"{f}" for _, f in keys], fontsize=6
        )
        axes.set_xticks(())
        axes.set_ylabel("filter")
        axes.set_xlabel("rank (strongest first)")
        axes.set_title(f"{layer}: top test-set patches per filter")
        save(figure, folder / f"{layer}_overview.png", dpi)


# How much of each layer the progression shows: filters evenly spread over those ranked, and
# each one's strongest patches.
PROGRESSION_FILTERS = 8
PROGRESSION_RANKS = 4


def draw_progression(
    path: Path, dpi: int, images: np.ndarray, by_filter: dict[tuple[str, int], list[RankedUnit]]
) -> None:
    """A row per ranked layer, in the table's order: PROGRESSION_FILTERS of its filters side by
    side (evenly spread over those ranked), each a column of its PROGRESSION_RANKS strongest
    test-set patches, each patch its unit's whole receptive field within the image."""
    layers = list(dict.fromkeys(layer for layer, _ in by_filter))
    figure, rows = plt.subplots(len(layers), 1, figsize=(8.0, 2.3 * len(layers)), squeeze=False)
    for axes, layer in zip(rows[:, 0], layers):
        keys = [key for key in by_filter if key[0] == layer]
        chosen = [keys[int(i)] for i in np.linspace(0, len(keys) - 1, PROGRESSION_FILTERS)]
        chosen = list(dict.fromkeys(chosen))
        ranks = min(PROGRESSION_RANKS, min(len(by_filter[key]) for key in chosen))
        patches = [[crop(images, by_filter[key][r]) for key in chosen] for r in range(ranks)]
        canvas = mosaic(patches, gap=3)
        axes.imshow(canvas, cmap=GREY, vmin=0, vmax=255, interpolation="nearest")
        step = canvas.shape[1] / len(chosen)
        axes.set_xticks(
            [step * (i + 0.5) for i in range(len(chosen))], [f"{f}" for _, f in chosen], fontsize=7
        )
        axes.set_yticks(())
        field = max(p.shape[0] for row in patches for p in row)
        axes.set_title(
            f"{layer}: filters (columns) and their top {ranks} test-set patches; "
            f"fields up to {field} pixels",
            fontsize=9,
        )
    figure.suptitle("From the first layer to the last: what each layer's filters respond to")
    figure.tight_layout()
    save(figure, path, dpi)
