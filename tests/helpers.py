"""Helpers for tests that look at a run's outputs."""

import contextlib
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


def damage_in_place(path: Path, group: str = "model", size: int = 4096) -> None:
    """Change `size` bytes inside the largest array of a checkpoint's `group`, as a faulty disk
    would: the same file size and HDF5's own structures intact, so only a content digest can tell."""
    import h5py

    with h5py.File(path, "r") as h5:
        largest = max(h5[group].values(), key=lambda dataset: dataset.size)
        offset, stored = largest.id.get_offset(), largest.id.get_storage_size()
    assert offset is not None and stored >= 2 * size, "expected a contiguous array larger than the damage"
    before = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(offset + stored // 2)
        original = handle.read(size)
        handle.seek(offset + stored // 2)
        handle.write(bytes(b ^ 0x5A for b in original))
    assert path.stat().st_size == before


@contextlib.contextmanager
def edited(path: Path, old: str, new: str):
    """`path` with `old` replaced by `new` for the duration; restored afterwards."""
    original = path.read_text()
    assert old in original, (path, old)
    path.write_text(original.replace(old, new, 1))
    try:
        yield
    finally:
        path.write_text(original)
