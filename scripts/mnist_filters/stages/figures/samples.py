"""The first training images after the validation hold-out (the notebook's first figure), of
the run's classes."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mnist_filters.dataset import label_text, of_classes
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
    run_classes: Sequence[int] | None = None,
) -> None:
    """The first `count` images of the training split (after the validation hold-out) of
    `run_classes` (training.classes; None: all), each titled with its label (`classes`: the
    class name of each label)."""
    labels = read_idx(train_labels)
    index = first + of_classes(labels[first:], run_classes)[:count]
    images, labels = read_idx(train_images)[index], labels[index]
    rows, columns = grid(len(images), math.ceil(math.sqrt(count)))
    # a subset's two-line title takes more room, which constrained layout leaves it
    figure = plt.figure(
        figsize=(columns * 1.6, rows * 1.6 + (0.3 if run_classes is None else 0.6)),
        layout=None if run_classes is None else "constrained",
    )
    for i, (image, label) in enumerate(zip(images, labels)):
        axes = figure.add_subplot(rows, columns, i + 1)
        bare(axes)
        axes.imshow(image, cmap=GREY, vmin=0, vmax=255)
        axes.set_title(label_text(int(label), classes), fontsize=9)
    if run_classes is None:
        title = f"Training images {first}-{first + len(images) - 1} of the training file"
    else:
        title = (
            f"Training images of labels {', '.join(map(str, run_classes))}\nfrom image {first} "
            "of the training file"
        )
    figure.suptitle(title)
    save(figure, output, dpi)
