"""The figures, one function per kind (matplotlib only; no TensorFlow)."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mnist_filters.atomic import atomic_directory, atomic_output  # noqa: E402
from mnist_filters.idx import read_idx  # noqa: E402

GREY = "Greys_r"  # the notebook's colour map: low = black, high = white


def save(figure, path: str | Path, dpi: int) -> None:
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=dpi, format="png")
    plt.close(figure)


def grid(count: int, max_columns: int) -> tuple[int, int]:
    columns = min(count, max_columns)
    return math.ceil(count / columns), columns


def bare(axes) -> None:
    axes.set_xticks(())
    axes.set_yticks(())


def samples(train_images: str, output: str, *, first: int, count: int, dpi: int) -> None:
    """The first `count` images of the training split (after the validation hold-out)."""
    images = read_idx(train_images)[first : first + count]
    rows, columns = grid(len(images), math.ceil(math.sqrt(count)))
    figure = plt.figure(figsize=(columns * 1.6, rows * 1.6))
    for i, image in enumerate(images):
        axes = figure.add_subplot(rows, columns, i + 1)
        bare(axes)
        axes.imshow(image, cmap=GREY, vmin=0, vmax=255)
    figure.suptitle(f"Training images {first}-{first + len(images) - 1} of the training file")
    save(figure, output, dpi)


def filters(activations: str, output: str, *, layer: str, dpi: int) -> None:
    """Every filter of `layer` (single input channel) on one shared, symmetric grey scale."""
    with h5py.File(activations, "r") as h5:
        kernel = h5[f"weights/{layer}/kernel"][:]  # (kh, kw, in, out)
    if kernel.shape[2] != 1:
        raise ValueError(f"{layer} has {kernel.shape[2]} input channels; only single-channel filters draw as images")
    count = kernel.shape[3]
    limit = float(np.abs(kernel).max()) or 1.0
    rows, columns = grid(count, math.ceil(math.sqrt(count)))
    figure = plt.figure(figsize=(columns * 1.7 + 1.2, rows * 1.7 + 0.6))
    image = None
    for f in range(count):
        axes = figure.add_subplot(rows, columns, f + 1)
        bare(axes)
        image = axes.imshow(kernel[:, :, 0, f], cmap=GREY, vmin=-limit, vmax=limit)
        axes.set_title(f"{f}", fontsize=8)
    bar = figure.colorbar(image, ax=figure.axes, shrink=0.8)
    bar.set_label(f"weight (one scale for all filters: black = -{limit:.3f}, white = +{limit:.3f})")
    figure.suptitle(f"{layer}: {count} filters of {kernel.shape[0]}x{kernel.shape[1]} pixels")
    save(figure, output, dpi)


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


def training_curve(training_log: str, metrics: str, output: str, *, dpi: int) -> None:
    with open(training_log, newline="") as handle:
        rows = list(csv.DictReader(handle))
    test_accuracy = json.loads(Path(metrics).read_text())["test_accuracy"]
    steps = [int(r["step"]) for r in rows]
    figure = plt.figure(figsize=(7, 4.5))
    axes = figure.add_subplot(1, 1, 1)
    axes.plot(steps, [float(r["train_batch_accuracy"]) for r in rows], "o-", ms=3, label="training batch")
    validation = [float(r["validation_accuracy"]) for r in rows]
    if not all(math.isnan(v) for v in validation):
        axes.plot(steps, validation, "s-", ms=3, label="validation")
    axes.axhline(test_accuracy, color="black", ls="--", lw=1)
    axes.annotate(f"test accuracy {test_accuracy:.4f}", (steps[-1], test_accuracy), xytext=(-5, -14),
                  textcoords="offset points", ha="right")
    axes.set_xlabel("step")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    save(figure, output, dpi)
