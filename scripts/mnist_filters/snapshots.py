"""The weights training keeps through training, and what the workflow finds with them: the
formats of snapshots.h5 (written by training) and evolution.csv (by trace_evolution), with
their writer and readers, TensorFlow-free.

Layout of results/<data set>/{run}/snapshots.h5 (n kept steps, `evolution.steps`):
  /steps            int64 (n,): optimiser steps taken when each was kept (0: the initial weights)
  /<layer>/kernel   float32 (n, kernel rows, kernel cols, in channels, filters) for conv1 and conv2
  /<layer>/bias     float32 (n, filters)
Each dataset has a `description` attribute.
"""

from __future__ import annotations

import csv

import h5py
import numpy as np

from mnist_filters.atomic import atomic_output

EVOLUTION_COLUMNS = (
    "layer",
    "filter",
    "step",
    "image_index",
    "label",
    "row",
    "col",
    "activation",
    "y0",
    "x0",
    "y1",
    "x1",
)


def write_snapshots(
    path: str, snapshots: dict[int, list[np.ndarray]], layers: tuple[str, ...]
) -> None:
    """snapshots.h5: /steps (n,), and /<layer>/kernel, /<layer>/bias stacked by step (n, ...)."""
    steps = sorted(snapshots)
    with atomic_output(path) as temporary, h5py.File(temporary, "w") as h5:
        h5.create_dataset("steps", data=np.array(steps, np.int64)).attrs["description"] = (
            "optimiser steps taken when each snapshot was kept (0: the initial weights)"
        )
        for i, layer in enumerate(layers):
            for j, part in enumerate(("kernel", "bias")):
                dataset = h5.create_dataset(
                    f"{layer}/{part}", data=np.stack([snapshots[s][2 * i + j] for s in steps])
                )
                dataset.attrs["description"] = f"{layer}'s {part} at each of /steps (first axis)"


def read_snapshots(path: str) -> tuple[list[int], dict[str, list[tuple[np.ndarray, np.ndarray]]]]:
    """The kept steps, and per layer its (kernel, bias) at each of them."""
    with h5py.File(path, "r") as h5:
        steps = [int(s) for s in h5["steps"][:]]
        layers = {
            name: list(zip(h5[f"{name}/kernel"][:], h5[f"{name}/bias"][:]))
            for name in h5
            if name != "steps"
        }
    return steps, layers


def read_evolution(path: str) -> list[dict]:
    """evolution.csv's rows, numbers as numbers."""
    with open(path, newline="") as handle:
        return [
            {
                **row,
                **{
                    key: int(row[key])
                    for key in EVOLUTION_COLUMNS
                    if key not in ("layer", "activation")
                },
                "activation": float(row["activation"]),
            }
            for row in csv.DictReader(handle)
        ]
