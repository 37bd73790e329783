"""Helpers for tests that look at a run's outputs or at the workflow's rules."""

import contextlib
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
RULE = re.compile(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", re.S | re.M)


def rules() -> dict[str, tuple[str | None, str | None]]:
    """Each rule of rules/*.smk -> (its conda environment, envs/<name>.yaml; its script's file
    name under scripts/), None where it has none."""
    found = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            conda = re.search(r"conda:\s*\n\s*\"\.\./(envs/[\w.]+)\"", body)
            script = re.search(r"script:\s*\n\s*\"\.\./scripts/([\w.]+)\"", body)
            found[name] = (conda and conda.group(1), script and script.group(1))
    return found


def model_weights(path: Path) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(path, safe_mode=True).get_weights()


def same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    """Bitwise equality, NaNs included."""
    return len(a) == len(b) and all(
        x.dtype == y.dtype and x.tobytes() == y.tobytes() for x, y in zip(a, b)
    )


def metrics(workdir: Path, run: str) -> dict:
    return json.loads((workdir / "results" / "mnist" / run / "metrics.json").read_text())


def damage_in_place(path: Path, group: str = "model", size: int = 4096) -> None:
    """Change `size` bytes inside the largest array of a checkpoint's `group`, as a faulty disk
    would: the same file size and HDF5's own structures intact, so only a content digest can
    tell."""
    import h5py

    with h5py.File(path, "r") as h5:
        largest = max(h5[group].values(), key=lambda dataset: dataset.size)
        offset, stored = largest.id.get_offset(), largest.id.get_storage_size()
    assert offset is not None and stored >= 2 * size, (
        "expected a contiguous array larger than the damage"
    )
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


def event_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """{tag: [(step, value), ...]} of the event files in `folder`, read by TensorBoard's own
    reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    events = EventAccumulator(
        str(folder), size_guidance={"tensors": 0}
    )  # 0: every point, not a sample of 10
    events.Reload()
    # TensorFlow 2's tf.summary.scalar stores each point as a tensor summary of one value.
    return {
        tag: [(e.step, float(make_ndarray(e.tensor_proto))) for e in events.Tensors(tag)]
        for tag in events.Tags()["tensors"]
    }


def training_log_scalars(path: Path) -> dict[str, list[tuple[int, float]]]:
    """The same series from a training_log.csv (values as written: 6 significant digits)."""
    import csv
    import math

    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    series = {}
    for tag in ("train_batch_accuracy", "train_loss", "validation_accuracy"):
        points = [(int(r["step"]), float(r[tag])) for r in rows if not math.isnan(float(r[tag]))]
        if points:
            series[tag] = points
    return series


def same_series(events: list[tuple[int, float]], logged: list[tuple[int, float]]) -> bool:
    """Equal steps, in order and each once; values equal to the CSV's 6 significant digits."""
    return [s for s, _ in events] == [s for s, _ in logged] and all(
        abs(a - b) <= 1e-5 * max(1.0, abs(b)) for (_, a), (_, b) in zip(events, logged)
    )


def make_run(
    *arguments: str, env: dict | None = None, target: str = "run"
) -> subprocess.CompletedProcess:
    """`make -s run` (or `target`) of this repository with `arguments` (DATA=, ARGS=, ...), as a
    user types it."""
    return subprocess.run(
        ["make", "-s", "-C", str(REPO), target, *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def assert_gradient_is_central_differences(visualisation, parameters, transforms, rng) -> None:
    """The float64 loss's gradient of a feature visualisation equals central finite
    differences at 25 random parameters."""
    value, gradient = visualisation.loss_and_gradient(parameters, transforms)
    assert np.isfinite(value) and np.abs(gradient).max() > 0
    step = 1e-6
    for index in zip(*(rng.integers(0, n, 25) for n in parameters.shape)):
        up, down = parameters.copy(), parameters.copy()
        up[index] += step
        down[index] -= step
        numeric = (
            visualisation.loss_and_gradient(up, transforms)[0]
            - visualisation.loss_and_gradient(down, transforms)[0]
        ) / (2 * step)
        assert gradient[index] == pytest.approx(numeric, rel=1e-5, abs=1e-8), index
