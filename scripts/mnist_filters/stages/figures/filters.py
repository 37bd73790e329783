"""A layer's filters as images on one shared symmetric scale: grey for a greyscale input,
colour (Zeiler & Fergus, Fig. 2) for an RGB one."""

from __future__ import annotations

import math

import h5py
import numpy as np

from mnist_filters.stages.figures.style import GREY, bare, grid, plt, save


def filters(activations: str, output: str, *, dpi: int, layer: str) -> None:
    """Every filter of `layer` on one shared, symmetric scale: the first convolution's, the
    one layer whose filters (one input channel, or an image's three) draw as images. A colour
    filter shows each channel's weight as that colour's intensity, mid-grey at zero."""
    with h5py.File(activations, "r") as h5:
        kernel = h5[f"weights/{layer}/kernel"][:]  # (kh, kw, in, out)
    if kernel.shape[2] not in (1, 3):
        raise ValueError(
            f"{layer} has {kernel.shape[2]} input channels; only filters of a greyscale or an "
            "RGB input draw as images"
        )
    count = kernel.shape[3]
    limit = float(np.abs(kernel).max()) or 1.0
    rows, columns = grid(count, math.ceil(math.sqrt(count)))
    figure = plt.figure(figsize=(columns * 1.7 + 1.2, rows * 1.7 + 0.6))
    image = None
    for f in range(count):
        axes = figure.add_subplot(rows, columns, f + 1)
        bare(axes)
        if kernel.shape[2] == 1:
            image = axes.imshow(kernel[:, :, 0, f], cmap=GREY, vmin=-limit, vmax=limit)
        else:
            axes.imshow(0.5 + kernel[:, :, :, f] / (2 * limit), interpolation="nearest")
        axes.set_title(f"{f}", fontsize=8)
    if image is not None:
        bar = figure.colorbar(image, ax=figure.axes, shrink=0.8)
        bar.set_label(
            f"weight (one scale for all filters: black = -{limit:.3f}, white = +{limit:.3f})"
        )
    else:
        figure.text(
            0.5,
            0.01,
            f"each channel's weight as its colour's intensity, one scale for all filters:\n"
            f"mid-grey = 0, full = +{limit:.3f}, none = -{limit:.3f}",
            ha="center",
            fontsize=8,
        )
    figure.suptitle(f"{layer}: {count} filters of {kernel.shape[0]}x{kernel.shape[1]} pixels")
    save(figure, output, dpi)
