"""features.h5 read back, without TensorFlow: for the figures and the gallery. Its layout is in
the docstring of mnist_filters/stages/feature_visualisation.py, which writes it."""

from __future__ import annotations

import h5py
import numpy as np


def read_features(path: str) -> dict[str, dict[str, np.ndarray]]:
    """features.h5 as layer -> {dataset name: array, plus its attrs}."""
    layers = {}
    with h5py.File(path, "r") as h5:
        for layer, group in h5.items():
            entry = {name: group[name][()] for name in group}
            entry.update(dict(group.attrs))
            if "unit_names" in entry:
                entry["unit_names"] = [name.decode() for name in entry["unit_names"]]
            layers[layer] = entry
    return layers
