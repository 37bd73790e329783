"""Training's TensorBoard event files: the training log's series, read back by TensorBoard
itself, and `make tensorboard` serving them on 127.0.0.1."""

import csv
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import REPO
from helpers import event_scalars, same_series, training_log_scalars
from mnist_filters.tensorboard_events import SPEED

pytestmark = pytest.mark.slow


def test_the_event_files_hold_the_training_logs_series(tiny_run):
    run = tiny_run / "results" / "mnist" / "tiny"
    events, logged = (
        event_scalars(run / "tensorboard"),
        training_log_scalars(run / "training_log.csv"),
    )
    assert set(logged) == {"train_batch_accuracy", "train_loss", "validation_accuracy"}
    for tag, series in logged.items():
        assert same_series(events[tag], series), tag
    with open(run / "training_log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = [
        (
            int(b["step"]),
            (int(b["step"]) - int(a["step"]))
            * 50
            / (float(b["train_seconds"]) - float(a["train_seconds"])),
        )
        for a, b in zip(rows, rows[1:])
    ]
    # derived from train_seconds as the CSV rounds them (6 digits): equal to 1e-4, not 1e-5
    assert [step for step, _ in events[SPEED]] == [step for step, _ in expected]
    assert all(abs(a - b) <= 1e-4 * b for (_, a), (_, b) in zip(events[SPEED], expected))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str, deadline: float):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def tensorboard_version() -> str:
    from tensorboard import version

    return version.VERSION


def test_make_tensorboard_serves_every_run_on_localhost(tiny_run):
    port = free_port()
    server = subprocess.Popen(
        [
            "make",
            "-s",
            "-C",
            str(REPO),
            "tensorboard",
            f"PORT={port}",
            f"RESULTS={tiny_run / 'results'}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}/data"
        deadline = time.monotonic() + 120
        tags = get_json(f"{base}/plugin/scalars/tags", deadline)
        while (
            "tiny/tensorboard" not in tags and time.monotonic() < deadline
        ):  # the first scan of the folder
            time.sleep(0.5)
            tags = get_json(f"{base}/plugin/scalars/tags", deadline)
        assert set(tags["tiny/tensorboard"]) == {
            "train_batch_accuracy",
            "train_loss",
            "validation_accuracy",
            SPEED,
        }
        query = urllib.parse.urlencode({"run": "tiny/tensorboard", "tag": "train_loss"})
        served = [
            (step, value)
            for _, step, value in get_json(f"{base}/plugin/scalars/scalars?{query}", deadline)
        ]
        logged = training_log_scalars(tiny_run / "results" / "mnist" / "tiny" / "training_log.csv")
        assert same_series(served, logged["train_loss"])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    # TensorBoard's own serving line: on this machine's loopback address only
    assert f"TensorBoard {tensorboard_version()} at http://127.0.0.1:{port}/" in output, output[
        -2000:
    ]
