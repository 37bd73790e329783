"""What the classifier gets wrong: the confusion matrix and the most confident mistakes."""

from __future__ import annotations

import csv
import json

import h5py
import numpy as np
import pytest

from mnist_filters.classification import accuracy_per_class, confusion_matrix, softmax
from mnist_filters.stages.mistakes import (
    mistakes_by_confidence,
    read_confusion,
    read_mistakes,
    tally_mistakes,
)

DIGITS = tuple(str(i) for i in range(10))


def write_dump(path, logits, labels):
    with h5py.File(path, "w") as h5:
        h5["logits"] = np.asarray(logits, np.float32)
        h5["labels"] = np.asarray(labels, np.uint8)
        h5["image_index"] = np.arange(len(labels), dtype=np.int64)


def test_confusion_matrix_counts_each_pair():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 2, 0, 2])
    np.testing.assert_array_equal(
        confusion_matrix(labels, predicted, 3), [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    )


def test_accuracy_per_class_skips_a_class_without_images():
    matrix = np.array([[3, 1, 0], [0, 0, 0], [1, 0, 1]])
    assert accuracy_per_class(matrix) == {"0": 0.75, "2": 0.5}


def test_softmax_sums_to_one_and_survives_large_logits():
    p = softmax(np.array([[1000.0, 1000.0, -1000.0], [0.0, np.log(3.0), 0.0]], np.float32))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(p[1], [0.2, 0.6, 0.2], rtol=1e-6)


def test_mistakes_most_confident_first_ties_by_index():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.8, 0.2], [0.3, 0.7]])
    labels = np.array([0, 0, 0, 1, 0])
    # wrong: rows 1 (0.8), 2 (0.7), 3 (0.8), 4 (0.7)
    assert mistakes_by_confidence(probabilities, labels).tolist() == [1, 3, 2, 4]


def test_tally_writes_tables_that_agree_with_the_logits(tmp_path):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 10, 400)
    logits = rng.normal(size=(400, 10)).astype(np.float32)
    logits[np.arange(400), labels] += rng.choice([0.0, 4.0], 400, p=[0.3, 0.7])
    write_dump(tmp_path / "a.h5", logits, labels)
    accuracy = tally_mistakes(
        str(tmp_path / "a.h5"), str(tmp_path / "c.csv"), str(tmp_path / "m.csv"), classes=DIGITS
    )
    predicted = logits.argmax(axis=1)
    matrix, _, classes = read_confusion(str(tmp_path / "c.csv"))
    assert classes == list(DIGITS) and matrix.sum() == 400
    assert accuracy == np.trace(matrix) / 400 == np.mean(predicted == labels)
    for label in range(10):
        for guess in range(10):
            assert matrix[label, guess] == np.sum((labels == label) & (predicted == guess))
    with open(tmp_path / "c.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            label = int(row["label"])
            assert int(row["test_images"]) == np.sum(labels == label)
            assert float(row["accuracy"]) == int(row["correct"]) / int(row["test_images"])
    mistakes = read_mistakes(str(tmp_path / "m.csv"))
    assert (
        sorted(m["image_index"] for m in mistakes) == np.flatnonzero(predicted != labels).tolist()
    )
    assert [m["rank"] for m in mistakes] == list(range(1, len(mistakes) + 1))
    confidence = [m["probability_predicted"] for m in mistakes]
    assert confidence == sorted(confidence, reverse=True)
    p = softmax(logits)
    for m in mistakes:
        assert (
            m["predicted"] == predicted[m["image_index"]] != m["label"] == labels[m["image_index"]]
        )
        assert m["probability_predicted"] == p[m["image_index"], m["predicted"]]
        assert m["probability_label"] == p[m["image_index"], m["label"]]


def test_class_names_reach_the_tables(tmp_path):
    classes = ("T-shirt/top", "Trouser", "Pullover")
    write_dump(tmp_path / "a.h5", [[0, 5, 0], [5, 0, 0], [0, 0, 5]], [0, 0, 2])
    tally_mistakes(
        str(tmp_path / "a.h5"), str(tmp_path / "c.csv"), str(tmp_path / "m.csv"), classes=classes
    )
    assert read_confusion(str(tmp_path / "c.csv"))[2] == list(classes)
    (mistake,) = read_mistakes(str(tmp_path / "m.csv"))
    assert (mistake["class"], mistake["predicted_class"], mistake["image_index"]) == (
        "T-shirt/top",
        "Trouser",
        0,
    )


@pytest.mark.parametrize("bad", ["nan", "classes"])
def test_refuses_logits_it_cannot_tally(tmp_path, bad):
    logits = np.zeros((3, 10 if bad == "nan" else 4), np.float32)
    if bad == "nan":
        logits[1, 2] = np.nan
    write_dump(tmp_path / "a.h5", logits, [0, 1, 2])
    with pytest.raises(
        ValueError, match="diverged" if bad == "nan" else "4 units, but the run has 10"
    ):
        tally_mistakes(
            str(tmp_path / "a.h5"), str(tmp_path / "c.csv"), str(tmp_path / "m.csv"), classes=DIGITS
        )


def test_the_workflows_tables_agree_with_its_dump_and_metrics(tiny_run):
    """On a real run: the matrix sums to the test count, its diagonal over the total is
    metrics.json's test accuracy, and each cell is the argmax of the dump's /logits."""
    run = tiny_run / "results" / "mnist" / "tiny"
    matrix, _, _ = read_confusion(str(run / "confusion.csv"))
    metrics = json.loads((run / "metrics.json").read_text())
    with h5py.File(run / "activations.h5") as h5:
        logits, labels = h5["logits"][:], h5["labels"][:]
    assert matrix.sum() == metrics["test_images"] == len(labels)
    assert np.trace(matrix) / matrix.sum() == metrics["test_accuracy"]
    np.testing.assert_array_equal(matrix, confusion_matrix(labels, logits.argmax(axis=1), 10))
    assert len(read_mistakes(str(run / "mistakes.csv"))) == matrix.sum() - np.trace(matrix)
    with open(run / "confusion.csv", newline="") as handle:
        per_class = {row["label"]: float(row["accuracy"]) for row in csv.DictReader(handle)}
    assert metrics["test_accuracy_per_class"] == per_class
    for figure in ("confusion.png", "mistakes.png"):
        assert (run / "figures" / figure).stat().st_size > 10_000
