"""What every figure shares: the grey scale, the grid layout, and atomic PNG writing."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mnist_filters.atomic import atomic_output  # noqa: E402

GREY = "Greys_r"  # the notebook's colour map: low = black, high = white


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
