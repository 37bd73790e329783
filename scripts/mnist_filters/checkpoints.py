"""Training checkpoints in a side folder, keyed by everything that determines the weights.

A checkpoint holds the model's weights, the optimiser's variables (Adam's moments and
its step counter), the step reached and the training-log rows so far. Because the batch
of every step is a pure function of (seed, step), training resumed from one ends with
the weights an uninterrupted run would have, bit for bit. A checkpoint whose key differs
(other settings, other data, other TensorFlow) is never used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from mnist_filters.atomic import atomic_output

log = logging.getLogger(__name__)

# Settings that change how training is observed or saved, never the weights it produces;
# `steps` is left out too: a checkpoint at step s serves any run of at least s steps.
NOT_IN_KEY = {"steps", "log_every", "eval_batch_size", "gpus"}
NAME = re.compile(r"^step-(\d{9})\.h5$")


def checkpoint_key(seed: int, model_settings: dict, training: dict, input_sha256: dict[str, str],
                   versions: dict[str, str]) -> str:
    identity = {
        "seed": seed,
        "model": model_settings,
        "training": {k: v for k, v in training.items() if k not in NOT_IN_KEY},
        "inputs": input_sha256,
        "versions": versions,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Checkpoint:
    step: int
    model_weights: list[np.ndarray]
    optimizer_variables: list[np.ndarray]
    rows: list[tuple]
    train_seconds: float
    validation_seconds: float


class CheckpointStore:
    """The checkpoints of one run and key: <root>/<key>/step-NNNNNNNNN.h5, newest kept."""

    def __init__(self, root: str | Path, key: str):
        self.key = key
        self.folder = Path(root) / key
        try:  # fail now, not after the first hour of training
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(f"checkpoint_dir: cannot create {self.folder} ({error.strerror})") from None

    def _files(self) -> list[tuple[int, Path]]:
        if not self.folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.folder.iterdir() if (m := NAME.match(p.name))]
        return sorted(found)

    def save(self, checkpoint: Checkpoint) -> Path:
        path = self.folder / f"step-{checkpoint.step:09d}.h5"
        with atomic_output(path) as temporary, h5py.File(temporary, "w") as h5:
            h5.attrs["key"] = self.key
            h5.attrs["step"] = checkpoint.step
            h5.attrs["train_seconds"] = checkpoint.train_seconds
            h5.attrs["validation_seconds"] = checkpoint.validation_seconds
            h5.attrs["rows"] = json.dumps(checkpoint.rows)
            for group, arrays in (("model", checkpoint.model_weights), ("optimizer", checkpoint.optimizer_variables)):
                for i, array in enumerate(arrays):
                    h5.create_dataset(f"{group}/{i:04d}", data=array)
        for step, older in self._files():
            if step != checkpoint.step:
                older.unlink(missing_ok=True)
        return path

    def latest(self, max_step: int) -> Checkpoint | None:
        """The newest readable checkpoint at or before `max_step` with this store's key."""
        for step, path in reversed(self._files()):
            if step > max_step:
                continue
            try:
                with h5py.File(path, "r") as h5:
                    if h5.attrs["key"] != self.key or int(h5.attrs["step"]) != step:
                        log.warning("ignoring %s: it belongs to another run", path)
                        continue
                    read = lambda group: [h5[group][name][()] for name in sorted(h5[group])]  # noqa: E731
                    return Checkpoint(step, read("model"), read("optimizer"),
                                      [tuple(row) for row in json.loads(h5.attrs["rows"])],
                                      float(h5.attrs["train_seconds"]), float(h5.attrs["validation_seconds"]))
            except (OSError, KeyError, ValueError) as error:
                log.warning("ignoring unreadable checkpoint %s (%s)", path, error)
        return None

    def remove(self) -> None:
        """Delete this run's checkpoints, those of its earlier settings too."""
        shutil.rmtree(self.folder.parent, ignore_errors=True)
