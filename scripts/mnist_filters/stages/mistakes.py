"""What the classifier gets wrong: the confusion matrix, each class's accuracy, and every mistake.

Reads only the dump's /logits and /labels (no TensorFlow). Writes two plain CSV files:

confusion.csv   one row per true label of the run (training.classes, or every label):
                `label`, `class`, `test_images`, `correct`, `accuracy` (correct /
                test_images), then `predicted_<label>` for each of those labels: how many
                of the row's test images the model gave that label.
mistakes.csv    one row per misclassified test image, most confident first (ties by
                image index): `rank`, `image_index` (in the test file), `label`, `class`,
                `predicted`, `predicted_class`, `probability_predicted` and
                `probability_label` (softmax of the logits).
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence

import h5py
import numpy as np

from mnist_filters.atomic import write_text_atomic
from mnist_filters.classification import accuracy_per_class, confusion_matrix, softmax
from mnist_filters.dataset import units_of
from mnist_filters.network.table import OUTPUT

log = logging.getLogger(__name__)
MISTAKE_COLUMNS = (
    "rank",
    "image_index",
    "label",
    "class",
    "predicted",
    "predicted_class",
    "probability_predicted",
    "probability_label",
)


def mistakes_by_confidence(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Indices of the misclassified rows, the most confident (highest predicted probability) first,
    ties by index."""
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    return wrong[np.lexsort((wrong, -confidence))]


def tally_mistakes(
    activations: str, confusion_csv: str, mistakes_csv: str, *, classes: Sequence[str]
) -> float:
    """Write confusion.csv and mistakes.csv (`classes`: the data set's class name of each
    label); return the accuracy. A run of some classes (the dump's `classes` attribute) has a
    row and a column for each of those only."""
    with h5py.File(activations, "r") as h5:
        logits = h5[OUTPUT][:]
        labels = h5["labels"][:].astype(np.int64)
        image_index = h5["image_index"][:]
        run_labels = [int(c) for c in h5.attrs.get("classes", range(len(classes)))]
    if logits.shape[1] != len(run_labels):
        raise ValueError(
            f"{activations}: /logits has {logits.shape[1]} units, but the run has "
            f"{len(run_labels)} classes"
        )
    if not np.isfinite(logits).all():
        raise ValueError(f"{activations}: /logits holds NaN or infinity: the model diverged")
    probabilities = softmax(logits)
    units = units_of(labels, run_labels)
    predicted = logits.argmax(axis=1)
    matrix = confusion_matrix(units, predicted, len(run_labels))

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "label",
            "class",
            "test_images",
            "correct",
            "accuracy",
            *(f"predicted_{label}" for label in run_labels),
        ]
    )
    accuracy = accuracy_per_class(matrix)
    for unit, counts in enumerate(matrix):
        label = run_labels[unit]
        writer.writerow(
            [
                label,
                classes[label],
                int(counts.sum()),
                int(counts[unit]),
                repr(accuracy[str(unit)]) if str(unit) in accuracy else "",
                *map(int, counts),
            ]
        )
    write_text_atomic(confusion_csv, buffer.getvalue())

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MISTAKE_COLUMNS)
    for rank, row in enumerate(mistakes_by_confidence(probabilities, units), start=1):
        unit, guess = int(units[row]), int(predicted[row])
        label, guessed = run_labels[unit], run_labels[guess]
        writer.writerow(
            [
                rank,
                int(image_index[row]),
                label,
                classes[label],
                guessed,
                classes[guessed],
                repr(float(probabilities[row, guess])),
                repr(float(probabilities[row, unit])),
            ]
        )
    write_text_atomic(mistakes_csv, buffer.getvalue())
    overall = float(np.trace(matrix) / len(labels))
    log.info(
        "%d of %d test images misclassified (accuracy %g)",
        len(labels) - int(np.trace(matrix)),
        len(labels),
        overall,
    )
    return overall


def read_mistakes(path: str) -> list[dict]:
    """mistakes.csv's rows, most confident first, numbers as numbers."""
    with open(path, newline="") as handle:
        return [
            {
                **row,
                **{key: int(row[key]) for key in ("rank", "image_index", "label", "predicted")},
                **{key: float(row[key]) for key in ("probability_predicted", "probability_label")},
            }
            for row in csv.DictReader(handle)
        ]


def read_confusion(path: str) -> tuple[np.ndarray, list[int], list[str]]:
    """confusion.csv's counts (true label x predicted label), its labels and their class names."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    matrix = np.array([[int(row[f"predicted_{r['label']}"]) for r in rows] for row in rows])
    return matrix, [int(r["label"]) for r in rows], [r["class"] for r in rows]
