"""What a model's logits say about the test images, without TensorFlow: the probabilities,
the confusion matrix and each class's accuracy. Training (metrics.json) and the mistakes
stage (confusion.csv) both count with these."""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (stable: shifted by each row's maximum)."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """(classes, classes) counts: row = true label, column = predicted label."""
    pairs = labels.astype(np.int64) * classes + predicted
    return np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


def accuracy_per_class(matrix: np.ndarray) -> dict[str, float]:
    """{label: the fraction of its images classified right}, for each label with images, from
    a confusion matrix."""
    totals = matrix.sum(axis=1)
    return {
        str(label): float(matrix[label, label] / totals[label]) for label in np.flatnonzero(totals)
    }
