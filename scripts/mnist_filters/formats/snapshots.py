"""The weights training keeps through training, and what the workflow finds with them: the
formats of snapshots.h5 (written by training) and evolution.csv (by trace_evolution), with
their writer and readers, TensorFlow-free.

Layout of results/<data set>/{run}/snapshots.h5 (n kept steps, `evolution.steps`):
  /steps            int64 (n,): optimiser steps taken when each was kept (0: the initial weights)
  /<layer>/kernel   float32 (n, kernel rows, kernel cols, in channels, filters) for every
                    convolution
  /<layer>/bias     float32 (n, filters)
  /<layer>/gamma, beta, moving_mean, moving_variance
                    float32 (n, channels) for every batch normalisation before the flatten
Each dataset has a `description` attribute.
"""

from __future__ import annotations

import csv

import h5py
import numpy as np

from mnist_filters.atomic import atomic_output
from mnist_filters.network.table import WEIGHT_PARTS

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
    path: str, snapshots: dict[int, list[np.ndarray]], layers: dict[str, tuple[str, ...]]
) -> None:
    """snapshots.h5: /steps (n,), and /<layer>/<part> stacked by step (n, ...); `layers`: each
    layer's parts (its Keras weights' names, in order), whose arrays follow one another in each
    snapshot's list."""
    steps = sorted(snapshots)
    offsets = {}
    position = 0
    for layer, parts in layers.items():
        offsets[layer] = position
        position += len(parts)
    with atomic_output(path) as temporary, h5py.File(temporary, "w") as h5:
        h5.create_dataset("steps", data=np.array(steps, np.int64)).attrs["description"] = (
            "optimiser steps taken when each snapshot was kept (0: the initial weights)"
        )
        for layer, parts in layers.items():
            for j, part in enumerate(parts):
                dataset = h5.create_dataset(
                    f"{layer}/{part}",
                    data=np.stack([snapshots[s][offsets[layer] + j] for s in steps]),
                )
                dataset.attrs["description"] = f"{layer}'s {part} at each of /steps (first axis)"


def read_snapshots(path: str) -> tuple[list[int], dict[str, list[tuple[np.ndarray, np.ndarray]]]]:
    """The kept steps, and per layer its weights at each of them: (kernel, bias) for a
    convolution, (gamma, beta, moving_mean, moving_variance) for batch normalisation."""
    with h5py.File(path, "r") as h5:
        steps = [int(s) for s in h5["steps"][:]]
        layers = {
            name: list(zip(*(h5[f"{name}/{part}"][:] for part in _parts(h5[name]))))
            for name in h5
            if name != "steps"
        }
    return steps, layers


def _parts(group) -> tuple[str, ...]:
    return next(parts for parts in WEIGHT_PARTS.values() if parts[0] in group)


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
