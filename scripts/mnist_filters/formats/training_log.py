"""results/<data set>/{run}/training_log.csv: its row, its one writer and its one reader.

One row every `training.log_every` steps, and at the last step:
  step                   optimiser steps taken (0: before the first)
  train_batch_accuracy   accuracy on that step's training batch (the notebook's figure)
  train_loss             mean softmax cross-entropy on that batch
  validation_accuracy    accuracy on the held-out images (nan without validation)
  elapsed_seconds        wall-clock seconds of training so far, validation passes included
  train_seconds          seconds of the optimiser steps alone so far
Numbers are written with 6 significant digits.
"""

from __future__ import annotations

import csv
import io
import math
from typing import NamedTuple

from mnist_filters.atomic import write_text_atomic


class LogRow(NamedTuple):
    """One row of training_log.csv (a tuple, so checkpoints keep it as a JSON list)."""

    step: int
    train_batch_accuracy: float
    train_loss: float
    validation_accuracy: float  # nan without validation
    elapsed_seconds: float
    train_seconds: float

    @property
    def has_validation(self) -> bool:
        return not math.isnan(self.validation_accuracy)


COLUMNS = LogRow._fields


def csv_text(rows: list[LogRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])
    return buffer.getvalue()


def write_training_log(path: str, rows: list[LogRow]) -> None:
    write_text_atomic(path, csv_text(rows))


def read_training_log(path: str) -> list[LogRow]:
    """The rows of a training_log.csv, numbers as numbers."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in COLUMNS if column not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: not a training log: no column {', '.join(missing)}")
        return [
            LogRow(int(row["step"]), *(float(row[column]) for column in COLUMNS[1:]))
            for row in reader
        ]


def examples_per_second(earlier: LogRow, later: LogRow, batch_size: int) -> float | None:
    """The examples trained between two log rows over the training seconds they took."""
    seconds = later.train_seconds - earlier.train_seconds
    return (later.step - earlier.step) * batch_size / seconds if seconds > 0 else None


def progress_fields(row: LogRow, steps: int, speed: float | None, validation: bool) -> list[str]:
    """What training's progress line on the terminal says of a log row (mnist_filters.progress
    adds the time left)."""
    return [
        f"step {row.step}/{steps}",
        f"batch accuracy {row.train_batch_accuracy:.3f}",
        f"validation accuracy {row.validation_accuracy:.4f}"
        if validation
        else "validation accuracy -",
        f"{speed:.0f} examples/s" if speed else "-- examples/s",
    ]
