"""The first training images after the validation hold-out (the notebook's first figure)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mnist_filters.dataset import label_text
from mnist_filters.idx import read_idx
from mnist_filters.stages.figures.style import GREY, bare, grid, plt, save


def samples(
    train_images: str,
    train_labels: str,
    output: str,
    *,
    first: int,
    count: int,
    classes: Sequence[str],
    dpi: int,
) -> None:
    """The first `count` images of the training split (after the validation hold-out), each
    titled with its label (`classes`: the class name of each label)."""
    images = read_idx(train_images)[first : first + count]
    labels = read_idx(train_labels)[first : first + count]
    rows, columns = grid(len(images), math.ceil(math.sqrt(count)))
    figure = plt.figure(figsize=(columns * 1.6, rows * 1.6 + 0.3))
    for i, (image, label) in enumerate(zip(images, labels)):
        axes = figure.add_subplot(rows, columns, i + 1)
        bare(axes)
        axes.imshow(image, cmap=GREY, vmin=0, vmax=255)
        axes.set_title(label_text(int(label), classes), fontsize=9)
    figure.suptitle(f"Training images {first}-{first + len(images) - 1} of the training file")
    save(figure, output, dpi)
