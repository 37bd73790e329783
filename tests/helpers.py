"""Helpers for tests that look at a run's outputs."""

import json
from pathlib import Path

import numpy as np


def model_weights(path: Path) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(path, safe_mode=True).get_weights()


def same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    """Bitwise equality, NaNs included."""
    return len(a) == len(b) and all(x.dtype == y.dtype and x.tobytes() == y.tobytes() for x, y in zip(a, b))


def metrics(workdir: Path, run: str) -> dict:
    return json.loads((workdir / "results" / "mnist" / run / "metrics.json").read_text())
