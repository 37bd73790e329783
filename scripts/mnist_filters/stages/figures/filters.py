"""A layer's filters as grey images, on one shared symmetric scale."""

from __future__ import annotations

import math

import h5py
import numpy as np

from mnist_filters.stages.figures.style import GREY, bare, grid, plt, save


def filters(activations: str, output: str, *, dpi: int, layer: str) -> None:
    """Every filter of `layer` on one shared, symmetric grey scale: the first convolution's,
    the one layer whose filters (one input channel) draw as images."""
    with h5py.File(activations, "r") as h5:
        kernel = h5[f"weights/{layer}/kernel"][:]  # (kh, kw, in, out)
    if kernel.shape[2] != 1:
        raise ValueError(
            f"{layer} has {kernel.shape[2]} input channels; only single-channel filters draw as "
            f"images"
        )
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
