"""What every figure shares: the grey scale, colour images, the grid layout, and atomic PNG
writing."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import matplotlib.colors
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mnist_filters.atomic import atomic_output  # noqa: E402

GREY = "Greys_r"  # the notebook's colour map: low = black, high = white
OUTSIDE_IMAGE = "#9fc5e8"  # where a receptive field or a filter sheet has no pixel


def save(figure, path: str | Path, dpi: int, close: bool = True) -> None:
    with atomic_output(path) as temporary:
        figure.savefig(temporary, dpi=dpi, format="png")
    if close:
        plt.close(figure)


def grid(count: int, max_columns: int) -> tuple[int, int]:
    columns = min(count, max_columns)
    return math.ceil(count / columns), columns


def bare(axes) -> None:
    axes.set_xticks(())
    axes.set_yticks(())


def show_pixels(axes, pixels: np.ndarray, **options):
    """An image in the data's pixel units (0-255): greyscale on the notebook's grey scale,
    colour (H, W, 3) as it is."""
    if pixels.ndim == 2:
        return axes.imshow(pixels, cmap=GREY, vmin=0, vmax=255, **options)
    if pixels.dtype != np.uint8:
        pixels = np.clip(pixels / 255.0, 0.0, 1.0)
    return axes.imshow(pixels, **options)


def colour(values: np.ndarray, background) -> np.ndarray:
    """Colour values on a 0-1 scale as RGB in [0, 1], NaN (nothing there) as `background`."""
    rgb = np.clip(values, 0.0, 1.0)
    missing = np.isnan(values).any(axis=-1)
    rgb[missing] = matplotlib.colors.to_rgb(background)
    return rgb


def signed_colour(values: np.ndarray, limit: float, background="white") -> np.ndarray:
    """Signed colour values (filters, projections) on a symmetric scale: mid-grey at zero,
    each channel at full intensity at +limit, at none at -limit."""
    return colour(0.5 + values / (2 * limit), background)


def filter_mosaic(kernel: np.ndarray) -> np.ndarray:
    """A (kh, kw, C, F) kernel as one sheet: filters in a near-square grid, NaN between them;
    (rows, cols) for one input channel, (rows, cols, C) for colour."""
    height, width, channels, count = kernel.shape
    rows, columns = grid(count, math.ceil(math.sqrt(count)))
    depth = () if channels == 1 else (channels,)
    tiles = np.full(
        (rows * (height + 1) - 1, columns * (width + 1) - 1, *depth), np.nan, np.float32
    )
    for f in range(count):
        r, c = divmod(f, columns)
        tiles[
            r * (height + 1) : r * (height + 1) + height, c * (width + 1) : c * (width + 1) + width
        ] = kernel[:, :, :, f].reshape(height, width, *depth)
    return tiles


def show_filters(axes, mosaic: np.ndarray, limit: float) -> None:
    """A filter_mosaic on the symmetric scale ±limit: grey (black -, white +), or colour
    (signed_colour), blue between the filters."""
    if mosaic.ndim == 2:
        axes.imshow(
            mosaic,
            cmap=plt.get_cmap(GREY).with_extremes(bad=OUTSIDE_IMAGE),
            vmin=-limit,
            vmax=limit,
            interpolation="nearest",
        )
    else:
        axes.imshow(signed_colour(mosaic, limit, OUTSIDE_IMAGE), interpolation="nearest")
