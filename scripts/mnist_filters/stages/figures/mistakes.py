"""What the classifier gets wrong: the confusion matrix with counts, and the most confident
mistakes."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import LogNorm

from mnist_filters.idx import read_idx
from mnist_filters.stages.figures.style import GREY, bare, grid, plt, save
from mnist_filters.stages.mistakes import read_confusion, read_mistakes


def confusion_figure(confusion_csv: str, output: str, *, dpi: int) -> None:
    """Counts of test images by true label (rows) and predicted label (columns), every cell
    written out, coloured on a log scale so that single mistakes show beside the diagonal."""
    matrix, labels, classes = read_confusion(confusion_csv)
    count = len(classes)
    # at least the room of six classes: a class subset's title and colour bar need it
    side = max(count, 6)
    figure, axes = plt.subplots(figsize=(1.0 + 0.62 * side, 0.9 + 0.55 * side))
    shown = np.ma.masked_equal(matrix, 0)
    image = axes.imshow(shown, cmap="Blues", norm=LogNorm(vmin=1, vmax=max(2, int(matrix.max()))))
    for (row, column), value in np.ndenumerate(matrix):
        dark = value > math.sqrt(max(2, int(matrix.max())))
        axes.text(
            column,
            row,
            str(value),
            ha="center",
            va="center",
            fontsize=7 if value < 1000 else 6,
            color="white" if dark else ("#222" if value else "#bbb"),
        )
    accuracy = [
        matrix[i, i] / matrix[i].sum() if matrix[i].sum() else math.nan for i in range(count)
    ]
    names = [name if name == str(i) else f"{i} {name}" for i, name in zip(labels, classes)]
    axes.set_xticks(range(count), [str(i) for i in labels])
    axes.set_yticks(
        range(count), [f"{name} ({100 * a:.1f} %)" for name, a in zip(names, accuracy)], fontsize=8
    )
    axes.set_xlabel("predicted label")
    axes.set_ylabel("true label (its accuracy)")
    total, right = int(matrix.sum()), int(np.trace(matrix))
    # a matrix of few classes is too narrow for the title on one line
    axes.set_title(
        f"{total} test images, {total - right} misclassified"
        + ("\n" if count < 6 else " ")
        + f"(accuracy {right / total:.4f})",
        fontsize=10,
    )
    bar = figure.colorbar(image, ax=axes, shrink=0.8)
    bar.set_label("test images (log scale; empty cells white)")
    figure.tight_layout()
    save(figure, output, dpi)


def mistakes_figure(
    mistakes_csv: str, test_images: str, output: str, *, count: int, dpi: int
) -> None:
    """The `count` most confident mistakes: each test image with its true and predicted labels
    and the model's probability for each."""
    mistakes = read_mistakes(mistakes_csv)[:count]
    images = read_idx(test_images)
    shown = max(1, len(mistakes))
    rows, columns = grid(shown, math.ceil(math.sqrt(shown)))
    # no mistake: one line of text, which needs a page wider than one image's
    width = columns * 1.9 if mistakes else 4.0
    figure = plt.figure(figsize=(width, rows * 2.25 + 0.5))
    for i, mistake in enumerate(mistakes):
        axes = figure.add_subplot(rows, columns, i + 1)
        bare(axes)
        axes.imshow(images[mistake["image_index"]], cmap=GREY, vmin=0, vmax=255)
        axes.set_title(
            f"#{mistake['rank']}: image {mistake['image_index']}\n"
            f"true {_name(mistake['label'], mistake['class'])}: "
            f"p={mistake['probability_label']:.2g}\n"
            f"said {_name(mistake['predicted'], mistake['predicted_class'])}: "
            f"p={mistake['probability_predicted']:.3f}",
            fontsize=7,
        )
    if not mistakes:
        figure.text(0.5, 0.5, "no test image is misclassified", ha="center", va="center")
    total = len(read_mistakes(mistakes_csv))
    figure.suptitle(
        f"The {len(mistakes)} most confident of {total} mistakes (p: softmax probability)"
        if mistakes
        else "Mistakes",
        fontsize=10,
    )
    figure.tight_layout()
    save(figure, output, dpi)


def _name(label: int, name: str) -> str:
    return str(label) if name == str(label) else f"{label} ({name})"
