"""Training checkpoints in a side folder, keyed by everything that determines the weights.

A checkpoint holds the model's weights, the optimiser's variables (Adam's moments and
its step counter), the step reached and the training-log rows so far. Because the batch
of every step is a pure function of (seed, step), training resumed from one ends with
the weights an uninterrupted run would have, bit for bit. A checkpoint whose key differs
(other settings, other data, other TensorFlow) is never used.

Each file records the sha256 of its content (content_sha256), written with it in one atomic
rename. A checkpoint is resumed only if its content still matches: a file damaged in place
(a faulty disk, a shared file system) or written before digests existed is passed over
with a warning that names it, for the newest earlier one that verifies, or step 0. The
newest two are kept, so that a damaged newest one leaves a verified one to resume from.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from mnist_filters.atomic import require_space, write_bytes_atomic

log = logging.getLogger(__name__)

# Settings that change how training is observed or saved, never the weights it produces;
# `steps` is left out too: a checkpoint at step s serves any run of at least s steps.
NOT_IN_KEY = {"steps", "log_every", "eval_batch_size", "gpus"}
NAME = re.compile(r"^step-(\d{9})\.h5$")
SNAPSHOT = "snapshot-"  # group of the snapshot layers' weights at a step: snapshot-000000100


def checkpoint_key(
    seed: int,
    model_settings: dict,
    training: dict,
    input_sha256: dict[str, str],
    versions: dict[str, str],
) -> str:
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
    path: Path | None = None  # the file it was read from
    # step -> the snapshot layers' weights at each kept step reached (trainer.TrainingHistory); not
    # in the key: a run resumes a checkpoint only if it holds every step the run keeps up to it
    snapshots: dict[int, list[np.ndarray]] = field(default_factory=dict)


def content_sha256(
    key: str,
    step: int,
    rows_json: str,
    train_seconds: float,
    validation_seconds: float,
    arrays: dict[str, list[np.ndarray]],
) -> str:
    """The sha256 of everything a checkpoint resumes: its key, step, log rows (as stored),
    timings and every array's dtype, shape and bytes, group by group in order."""
    layout = {
        group: [[str(a.dtype), list(a.shape)] for a in group_arrays]
        for group, group_arrays in arrays.items()
    }
    header = [
        key,
        int(step),
        rows_json,
        repr(float(train_seconds)),
        repr(float(validation_seconds)),
        layout,
    ]
    digest = hashlib.sha256(json.dumps(header, sort_keys=True).encode())
    for group in sorted(arrays):
        for array in arrays[group]:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class CheckpointStore:
    """The checkpoints of one run and key: <root>/<key>/step-NNNNNNNNN.h5, the newest two kept."""

    def __init__(self, root: str | Path, key: str):
        self.key = key
        self.folder = Path(root) / key
        try:  # fail now, not after the first hour of training
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise ValueError(
                f"checkpoint_dir: cannot create {self.folder} ({error.strerror})"
            ) from None

    def _files(self) -> list[tuple[int, Path]]:
        if not self.folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.folder.iterdir() if (m := NAME.match(p.name))]
        return sorted(found)

    def save(self, checkpoint: Checkpoint) -> Path:
        path = self.folder / f"step-{checkpoint.step:09d}.h5"
        rows_json = json.dumps(checkpoint.rows)
        arrays = {
            "model": checkpoint.model_weights,
            "optimizer": checkpoint.optimizer_variables,
            **{f"{SNAPSHOT}{step:09d}": weights for step, weights in checkpoint.snapshots.items()},
        }
        # Built in memory, then written as plain bytes: a full disk is refused before writing,
        # or fails as one clear error, never inside HDF5's close, whose failure leaves h5py
        # objects that crash the process as it ends.
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as h5:
            h5.attrs["key"] = self.key
            h5.attrs["step"] = checkpoint.step
            h5.attrs["train_seconds"] = checkpoint.train_seconds
            h5.attrs["validation_seconds"] = checkpoint.validation_seconds
            h5.attrs["rows"] = rows_json
            h5.attrs["sha256"] = content_sha256(
                self.key,
                checkpoint.step,
                rows_json,
                checkpoint.train_seconds,
                checkpoint.validation_seconds,
                arrays,
            )
            for group, group_arrays in arrays.items():
                for i, array in enumerate(group_arrays):
                    h5.create_dataset(f"{group}/{i:04d}", data=array)
        require_space(path, buffer.getbuffer().nbytes)
        write_bytes_atomic(path, buffer.getvalue())
        # This one and the newest before it; later ones came from a longer run of these settings.
        earlier = [older for step, older in self._files() if step < checkpoint.step]
        keep = {path, *earlier[-1:]}
        for _, older in self._files():
            if older not in keep:
                older.unlink(missing_ok=True)
        return path

    def latest(self, max_step: int) -> Checkpoint | None:
        """The newest checkpoint at or before `max_step` with this store's key whose content
        matches its digest; each one passed over is named in a warning."""
        for step, path in reversed(self._files()):
            if step > max_step:
                continue
            try:
                checkpoint = self._verified(path, step)
            except Exception as error:  # noqa: BLE001 - damaged bytes can fail anywhere in h5py
                log.warning(
                    "not resuming from %s: it cannot be read (%s: %s)",
                    path,
                    type(error).__name__,
                    error,
                )
                continue
            if checkpoint:
                return checkpoint
        return None

    def _verified(self, path: Path, step: int) -> Checkpoint | None:
        with h5py.File(path, "r") as h5:
            if h5.attrs["key"] != self.key or int(h5.attrs["step"]) != step:
                log.warning("not resuming from %s: it belongs to another run", path)
                return None
            recorded = h5.attrs.get("sha256")
            if recorded is None:
                log.warning(
                    "not resuming from %s: it records no content digest (written by an older "
                    "version), "
                    "so it cannot be verified",
                    path,
                )
                return None
            groups = [
                "model",
                "optimizer",
                *sorted(name for name in h5 if name.startswith(SNAPSHOT)),
            ]
            arrays = {
                group: [h5[group][name][()] for name in sorted(h5[group])] for group in groups
            }
            rows_json = h5.attrs["rows"]
            train_seconds, validation_seconds = (
                float(h5.attrs["train_seconds"]),
                float(h5.attrs["validation_seconds"]),
            )
        actual = content_sha256(
            self.key, step, rows_json, train_seconds, validation_seconds, arrays
        )
        if actual != recorded:
            log.warning(
                "not resuming from %s: its content has changed since it was written (sha256 %s, "
                "recorded %s)",
                path,
                actual,
                recorded,
            )
            return None
        return Checkpoint(
            step,
            arrays["model"],
            arrays["optimizer"],
            [tuple(row) for row in json.loads(rows_json)],
            train_seconds,
            validation_seconds,
            path,
            {int(group[len(SNAPSHOT) :]): arrays[group] for group in groups[2:]},
        )

    def remove(self) -> None:
        """Delete this run's checkpoints, those of its earlier settings too."""
        shutil.rmtree(self.folder.parent, ignore_errors=True)
