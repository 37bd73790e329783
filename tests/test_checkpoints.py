"""Checkpoints are resumed only when their content matches the digest written with them."""

import logging
import os
import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from conftest import REPO
from helpers import damage_in_place
from mnist_filters.checkpoints import Checkpoint, CheckpointStore

KEY = "0123456789abcdef"


def checkpoint(step, seed=0):
    rng = np.random.default_rng(seed + step)
    weights = [
        rng.normal(size=(64, 1024)).astype(np.float32),
        rng.normal(size=(1024,)).astype(np.float32),
    ]
    optimizer = [
        np.array(step, np.int64),
        *(rng.normal(size=w.shape).astype(np.float32) for w in weights),
    ]
    rows = [(0, 0.1, 2.3, float("nan"), 0.5), (step, 0.9, 0.3, 0.95, 9.25)]
    return Checkpoint(step, weights, optimizer, rows, 9.25, 1.5)


def same(a: Checkpoint, b: Checkpoint) -> bool:
    arrays = lambda c: [*c.model_weights, *c.optimizer_variables]  # noqa: E731
    return (
        a.step == b.step
        and a.train_seconds == b.train_seconds
        and a.validation_seconds == b.validation_seconds
        and np.array_equal(np.array(a.rows), np.array(b.rows), equal_nan=True)
        and all(
            x.dtype == y.dtype and np.array_equal(x, y)
            for x, y in zip(arrays(a), arrays(b), strict=True)
        )
    )


def test_a_saved_checkpoint_is_verified_and_read_back_exactly(tmp_path):
    store = CheckpointStore(tmp_path, KEY)
    saved = checkpoint(100)
    path = store.save(saved)
    with h5py.File(path, "r") as h5:
        assert len(h5.attrs["sha256"]) == 64
    loaded = store.latest(1000)
    assert same(loaded, saved) and loaded.path == path


def test_damaged_bytes_are_refused_and_named_and_the_older_one_is_resumed(tmp_path, caplog):
    store = CheckpointStore(tmp_path, KEY)
    store.save(checkpoint(100))
    newest = store.save(checkpoint(200))
    damage_in_place(newest)
    with h5py.File(newest, "r") as h5:  # still a readable HDF5 file: nothing but the digest objects
        [h5["model"][name][()] for name in h5["model"]]
    with caplog.at_level(logging.WARNING):
        resumed = store.latest(1000)
    assert resumed.step == 100 and same(resumed, checkpoint(100))
    assert (
        f"not resuming from {newest}: its content has changed since it was written" in caplog.text
    )


@pytest.mark.parametrize("damage", ["data", "metadata", "no-digest"])
def test_an_unverifiable_checkpoint_is_never_resumed(tmp_path, caplog, damage):
    store = CheckpointStore(tmp_path, KEY)
    path = store.save(checkpoint(100))
    if damage == "data":
        damage_in_place(path, "optimizer")
        reason = "its content has changed"
    elif damage == "metadata":
        data = bytearray(path.read_bytes())
        data[100:4196] = bytes(4096)
        path.write_bytes(bytes(data))
        reason = "it cannot be read"
    else:  # as written before checkpoints carried digests
        with h5py.File(path, "r+") as h5:
            del h5.attrs["sha256"]
        reason = "it records no content digest"
    with caplog.at_level(logging.WARNING):
        assert store.latest(1000) is None
    assert f"not resuming from {path}: {reason}" in caplog.text


def test_the_newest_two_are_kept(tmp_path):
    store = CheckpointStore(tmp_path, KEY)
    for step in (100, 200, 300):
        store.save(checkpoint(step))
    assert sorted(p.name for p in store.folder.iterdir()) == [
        "step-000000200.h5",
        "step-000000300.h5",
    ]
    store.save(checkpoint(250))
    assert sorted(p.name for p in store.folder.iterdir()) == [
        "step-000000200.h5",
        "step-000000250.h5",
    ]
    store.save(checkpoint(150))  # fewer steps than a run of the same settings went: later ones go
    assert sorted(p.name for p in store.folder.iterdir()) == ["step-000000150.h5"]


def test_a_kill_while_a_checkpoint_is_written_leaves_the_verified_older_one(tmp_path):
    """SIGKILL in the middle of writing step 200's file: step 100 is resumed, verified, and
    the half-written file is never taken for a checkpoint."""
    child = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(REPO / "scripts")!r}, {str(REPO / "tests")!r}]
        from test_checkpoints import KEY, checkpoint
        from mnist_filters.checkpoints import CheckpointStore
        store = CheckpointStore({str(tmp_path)!r}, KEY)
        store.save(checkpoint(100))
        import pathlib
        def slow(self, data):  # half the file on disk, then stuck: a kill lands mid-write
            with open(self, "wb") as handle:
                handle.write(data[: len(data) // 2])
                handle.flush()
                print("writing", flush=True)
                time.sleep(60)
        pathlib.Path.write_bytes = slow
        store.save(checkpoint(200))
    """)
    process = subprocess.Popen(
        [sys.executable, "-c", child],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "scripts")},
    )
    try:
        assert process.stdout.readline().strip() == "writing"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    store = CheckpointStore(tmp_path, KEY)
    files = sorted(p.name for p in store.folder.iterdir())
    assert "step-000000100.h5" in files and "step-000000200.h5" not in files
    assert any(
        name.startswith(".step-000000200.partial-") for name in files
    )  # the half-written file
    resumed = store.latest(1000)
    assert resumed.step == 100 and same(resumed, checkpoint(100))
