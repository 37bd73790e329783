"""Each ranked filter's top patches, cut from the test images, and one overview per layer."""

from __future__ import annotations

import csv
from collections import defaultdict

import numpy as np

from mnist_filters.atomic import atomic_directory
from mnist_filters.idx import read_idx
from mnist_filters.stages.figures.style import GREY, bare, grid, plt, save


def read_rankings(path: str) -> dict[tuple[str, int], list[dict]]:
    by_filter = defaultdict(list)
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            by_filter[(row["layer"], int(row["filter"]))].append(row)
    for rows in by_filter.values():
        rows.sort(key=lambda r: int(r["rank"]))
    return dict(by_filter)


def crop(images: np.ndarray, row: dict) -> np.ndarray:
    """The receptive field of a ranked unit, cut from the test image it came from."""
    return images[int(row["image_index"])][int(row["y0"]) : int(row["y1"]), int(row["x0"]) : int(row["x1"])]


def mosaic(patches: list[list[np.ndarray]], gap: int = 2) -> np.ndarray:
    """Patches in a grid on a mid-grey background (smaller, clipped patches top-left)."""
    height = max(p.shape[0] for row in patches for p in row)
    width = max(p.shape[1] for row in patches for p in row)
    columns = max(len(row) for row in patches)
    canvas = np.full(((height + gap) * len(patches) - gap, (width + gap) * columns - gap), 128, np.uint8)
    for r, row in enumerate(patches):
        for c, patch in enumerate(row):
            y, x = r * (height + gap), c * (width + gap)
            canvas[y : y + patch.shape[0], x : x + patch.shape[1]] = patch
    return canvas


def top_patches(rankings: str, test_images: str, output_dir: str, *, dpi: int) -> None:
    """Per filter: its top patches from the *test* images; per layer: an overview grid."""
    images = read_idx(test_images)
    by_filter = read_rankings(rankings)
    with atomic_directory(output_dir) as folder:
        for (layer, f), rows in by_filter.items():
            nrows, ncols = grid(len(rows), 4)
            figure = plt.figure(figsize=(ncols * 2.0, nrows * 2.2))
            for i, row in enumerate(rows):
                axes = figure.add_subplot(nrows, ncols, i + 1)
                bare(axes)
                axes.imshow(crop(images, row), cmap=GREY, vmin=0, vmax=255)
                axes.set_title(f"#{row['rank']}: {float(row['activation']):.2f}, label {row['label']}", fontsize=8)
            figure.suptitle(f"{layer} filter {f}: top {len(rows)} test-set patches")
            save(figure, folder / f"{layer}_filter{f:02d}.png", dpi)
        for layer in dict.fromkeys(layer for layer, _ in by_filter):
            keys = [key for key in by_filter if key[0] == layer]
            canvas = mosaic([[crop(images, row) for row in by_filter[key]] for key in keys])
            figure = plt.figure(figsize=(max(4.0, canvas.shape[1] / 25), max(3.0, canvas.shape[0] / 25) + 0.6))
            axes = figure.add_subplot(1, 1, 1)
            axes.imshow(canvas, cmap=GREY, vmin=0, vmax=255, interpolation="nearest")
            step = canvas.shape[0] / len(keys)
            axes.set_yticks([step * (i + 0.5) for i in range(len(keys))], [f"{f}" for _, f in keys], fontsize=6)
            axes.set_xticks(())
            axes.set_ylabel("filter")
            axes.set_xlabel("rank (strongest first)")
            axes.set_title(f"{layer}: top test-set patches per filter")
            save(figure, folder / f"{layer}_overview.png", dpi)
