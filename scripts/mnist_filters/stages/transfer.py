"""The transfer experiment's tables, from each network's metrics.json (no TensorFlow).

results/<data set>/transfer/transfer.csv: one row per base network and treatment:
    network          its folder under results/<data set>/
    treatment        baseA, baseB, AnB, AnB+, BnB or BnB+ (Yosinski et al. 2014)
    n                layers copied (0 for a base network)
    seed             the network's run seed
    copied_layers    frozen, fine-tuned, or empty (a base network)
    classes          the labels it was trained and tested on, space-separated (B for every
                     treatment)
    test_images      test images of those labels
    test_accuracy    on those test images
results/<data set>/transfer/few_shot.csv: one row per few-shot network:
    network, kind (transferred: a new top over the frozen first `depth` layers of `source`,
    a network under results/<data set>/; scratch: the same network trained from scratch),
    examples_per_class, seed, depth, source, data_set (the target's: data.set, or
    another), classes (the target's labels), train_images, test_images, test_accuracy
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

from mnist_filters.atomic import write_text_atomic

TRANSFER_COLUMNS = (
    "network",
    "treatment",
    "n",
    "seed",
    "copied_layers",
    "classes",
    "test_images",
    "test_accuracy",
)
FEW_SHOT_COLUMNS = (
    "network",
    "kind",
    "examples_per_class",
    "seed",
    "depth",
    "source",
    "data_set",
    "classes",
    "train_images",
    "test_images",
    "test_accuracy",
)


def _metrics(path: str) -> dict:
    return json.loads(Path(path).read_text())


def _write(output: str, columns, rows) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(output, buffer.getvalue())


def tabulate_transfer(metrics: Sequence[str], networks: dict[str, dict], output: str) -> None:
    """transfer.csv from `networks` (network -> {treatment, n, frozen}) and `metrics`, each
    one's metrics.json in the same order."""
    rows = []
    for (network, planned), path in zip(networks.items(), metrics, strict=True):
        measured = _metrics(path)
        frozen = planned["frozen"]
        rows.append(
            {
                "network": network,
                "treatment": planned["treatment"],
                "n": planned["n"],
                "seed": measured["seed"],
                "copied_layers": "" if frozen is None else ("frozen" if frozen else "fine-tuned"),
                "classes": " ".join(map(str, measured["classes"])),
                "test_images": measured["test_images"],
                "test_accuracy": repr(measured["test_accuracy"]),
            }
        )
    _write(output, TRANSFER_COLUMNS, rows)


def tabulate_few_shot(metrics: Sequence[str], networks: dict[str, dict], output: str) -> None:
    """few_shot.csv from `networks` (network -> {kind, examples_per_class, depth, source,
    data_set}) and
    `metrics`, each one's metrics.json in the same order."""
    rows = []
    for (network, planned), path in zip(networks.items(), metrics, strict=True):
        measured = _metrics(path)
        rows.append(
            {
                "network": network,
                **planned,
                "seed": measured["seed"],
                "classes": " ".join(map(str, measured["classes"])),
                "train_images": measured["train_images"],
                "test_images": measured["test_images"],
                "test_accuracy": repr(measured["test_accuracy"]),
            }
        )
    _write(output, FEW_SHOT_COLUMNS, rows)


def read_table(path: str) -> list[dict]:
    """transfer.csv's or few_shot.csv's rows, numbers as numbers."""
    integers = {"n", "seed", "test_images", "train_images", "examples_per_class", "depth"}
    with open(path, newline="") as handle:
        return [
            {
                key: int(value)
                if key in integers
                else float(value)
                if key == "test_accuracy"
                else value
                for key, value in row.items()
            }
            for row in csv.DictReader(handle)
        ]
