"""Training-batch and validation accuracy against step, with the test accuracy marked."""

from __future__ import annotations

import json
from pathlib import Path

from mnist_filters.formats.training_log import read_training_log
from mnist_filters.stages.figures.style import plt, save


def training_curve(training_log: str, metrics: str, output: str, *, dpi: int) -> None:
    rows = read_training_log(training_log)
    test_accuracy = json.loads(Path(metrics).read_text())["test_accuracy"]
    steps = [row.step for row in rows]
    figure = plt.figure(figsize=(7, 4.5))
    axes = figure.add_subplot(1, 1, 1)
    axes.plot(steps, [row.train_batch_accuracy for row in rows], "o-", ms=3, label="training batch")
    if any(row.has_validation for row in rows):
        axes.plot(steps, [row.validation_accuracy for row in rows], "s-", ms=3, label="validation")
    axes.axhline(test_accuracy, color="black", ls="--", lw=1)
    axes.annotate(
        f"test accuracy {test_accuracy:.4f}",
        (steps[-1], test_accuracy),
        xytext=(-5, -14),
        textcoords="offset points",
        ha="right",
    )
    axes.set_xlabel("step")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1.02)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    save(figure, output, dpi)
