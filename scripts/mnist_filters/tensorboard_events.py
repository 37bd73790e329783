"""A run's training log as TensorBoard event files: one scalar series per column of
training_log.csv, under the same step numbers, plus the training speed between log points.

results/<data set>/{run}/tensorboard/: scalars `train_batch_accuracy`, `train_loss`,
`validation_accuracy` (absent without validation) and `train_examples_per_second` (the
examples trained since the previous log point over the training seconds they took).

They are written once training has ended, from the log's rows: a resumed run's rows come
from its checkpoint and then its own log points, so its events equal an uninterrupted
run's, with no step twice and none missing, and writing them costs training nothing.
"""

from __future__ import annotations

import math
from pathlib import Path

from mnist_filters.formats.training_log import LogRow, examples_per_second

# Tags: the training_log.csv columns they come from, and the speed derived from two of them.
SCALARS = ("train_batch_accuracy", "train_loss", "validation_accuracy")
SPEED = "train_examples_per_second"


def write_events(folder: str | Path, rows: list[LogRow], batch_size: int) -> None:
    """Event files in `folder` for the training log's `rows`. `SPEED` at a log point is the
    examples trained since the previous one over the training seconds they took; a row
    without validation (NaN) has no validation point."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(folder))
    with writer.as_default():
        for previous, row in zip([None, *rows], rows):
            for tag in SCALARS:
                value = getattr(row, tag)
                if not math.isnan(value):
                    tf.summary.scalar(tag, value, step=row.step)
            speed = examples_per_second(previous, row, batch_size) if previous else None
            if speed:
                tf.summary.scalar(SPEED, speed, step=row.step)
    writer.close()
