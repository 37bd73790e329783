"""Training killed mid-way resumes from its checkpoint and ends bitwise where it would have."""

import os
import re
import shutil
import signal
import subprocess
import time

import h5py
import pytest

from conftest import REPO, SNAKEMAKE, snakemake, tiny_config, write_config
from helpers import damage_in_place, event_scalars, metrics, model_weights, same_weights
from mnist_filters.tensorboard_events import SPEED

pytestmark = pytest.mark.slow
# Long enough that a signal sent at the first checkpoint (step 100) lands mid-run on any machine.
STEPS = 700
TRAINING = {"validation_size": 200, "steps": STEPS, "batch_size": 50, "log_every": 50}
# With checkpoints every 100 steps and kept: the newest two before the end.
KEPT = (STEPS - 200, STEPS - 100)


def config(tiny_mnist, checkpoints=None, **training):
    cfg = tiny_config(tiny_mnist, training={**TRAINING, **training})
    cfg["checkpoints"] = {"every": 100, **(checkpoints or {})}
    return cfg


@pytest.fixture(scope="module")
def uninterrupted_run(tiny_mnist, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("uninterrupted")
    snakemake(workdir, config(tiny_mnist), "--until", "train")
    return workdir


@pytest.fixture(scope="module")
def uninterrupted(uninterrupted_run):
    return model_weights(uninterrupted_run / "results" / "mnist" / "tiny" / "model.keras")


def checkpoints(workdir):
    return sorted((workdir / "checkpoints" / "mnist" / "tiny").glob("*/step-*.h5"))


def training_pid(workdir):
    log = (workdir / "logs" / "mnist" / "tiny" / "train.log").read_text()
    return int(re.findall(r"stage train on host .*pid (\d+)\)", log)[-1])


def start_and_kill(workdir, cfg, sig):
    """Start the workflow, wait for a checkpoint, send `sig` to the training process."""
    command = [
        *SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        "--configfile",
        str(write_config(workdir, cfg)),
        "--replace-workflow-config",
        "--until",
        "train",
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    deadline = time.monotonic() + 300
    while not checkpoints(workdir):
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.1)
    os.kill(training_pid(workdir), sig)
    output, _ = process.communicate(timeout=120)
    return process.returncode, output


def check_same_events(workdir, uninterrupted_run):
    """A resumed run's TensorBoard events: every log point once, none missing, the same values
    as the uninterrupted run's (the time-derived speed aside)."""
    resumed, reference = (
        event_scalars(w / "results" / "mnist" / "tiny" / "tensorboard")
        for w in (workdir, uninterrupted_run)
    )
    assert set(resumed) == set(reference)
    for tag in ("train_batch_accuracy", "train_loss", "validation_accuracy"):
        assert resumed[tag] == reference[tag], tag
    assert (
        [s for s, _ in resumed[SPEED]]
        == [s for s, _ in reference[SPEED]]
        == list(range(50, STEPS + 1, 50))
    )


def test_stop_signal_saves_a_checkpoint_and_the_rerun_resumes_bitwise(
    tiny_mnist, tmp_path, uninterrupted_run, uninterrupted
):
    """SIGTERM from outside the job; SIGINT and SIGUSR1 take the same path (StopSignals, tested
    for each in test_training_stops.py)."""
    sig = signal.SIGTERM
    returncode, output = start_and_kill(tmp_path, config(tiny_mnist), sig)
    assert returncode != 0, output
    log = (tmp_path / "logs" / "mnist" / "tiny" / "train.log").read_text()
    stopped = re.search(rf"stopped by {sig.name} at step (\d+) of {STEPS}", log)
    assert stopped, log[-2000:]
    step = int(stopped.group(1))
    assert 0 < step < STEPS and f"step-{step:09d}.h5" in [p.name for p in checkpoints(tmp_path)]
    assert not (tmp_path / "results" / "mnist" / "tiny" / "model.keras").exists()

    snakemake(tmp_path, config(tiny_mnist), "--until", "train")
    log = (tmp_path / "logs" / "mnist" / "tiny" / "train.log").read_text()
    assert f"resuming from step {step}" in log
    assert same_weights(
        model_weights(tmp_path / "results" / "mnist" / "tiny" / "model.keras"), uninterrupted
    )
    check_same_events(tmp_path, uninterrupted_run)
    assert not (tmp_path / "checkpoints" / "mnist" / "tiny").exists()  # cleaned up after success


def test_sigkill_resumes_from_the_last_periodic_checkpoint(
    tiny_mnist, tmp_path, uninterrupted_run, uninterrupted
):
    returncode, output = start_and_kill(tmp_path, config(tiny_mnist), signal.SIGKILL)
    assert returncode != 0
    step = int(checkpoints(tmp_path)[-1].name[5:14])
    assert step % 100 == 0
    snakemake(tmp_path, config(tiny_mnist), "--until", "train")
    assert (
        f"resuming from step {step}"
        in (tmp_path / "logs" / "mnist" / "tiny" / "train.log").read_text()
    )
    assert same_weights(
        model_weights(tmp_path / "results" / "mnist" / "tiny" / "model.keras"), uninterrupted
    )
    check_same_events(tmp_path, uninterrupted_run)


def test_a_checkpoint_of_other_settings_is_never_used(tiny_mnist, tmp_path, uninterrupted):
    start_and_kill(tmp_path, config(tiny_mnist, learning_rate=3e-4), signal.SIGTERM)
    assert checkpoints(tmp_path)
    snakemake(tmp_path, config(tiny_mnist), "--until", "train")
    log = (tmp_path / "logs" / "mnist" / "tiny" / "train.log").read_text()
    assert "training from step 0" in log.split("stage train on host")[-1]
    assert same_weights(
        model_weights(tmp_path / "results" / "mnist" / "tiny" / "model.keras"), uninterrupted
    )


def test_keep_checkpoints_keeps_them(tiny_mnist, tmp_path):
    snakemake(
        tmp_path, config(tiny_mnist, steps=200, checkpoints={"keep": True}), "--until", "train"
    )
    assert [p.name for p in checkpoints(tmp_path)] == ["step-000000100.h5"]


def test_checkpoint_settings_change_no_output(
    tiny_mnist, tmp_path, uninterrupted_run, uninterrupted
):
    """Why `checkpoints:` is no trigger: another interval (so other chunks), another folder,
    and keeping them give the same weights and the same logged and measured values."""
    reference, other = uninterrupted_run, tmp_path
    snakemake(
        other,
        config(tiny_mnist, checkpoints={"every": 70, "keep": True, "dir": "elsewhere"}),
        "--until",
        "train",
    )
    assert list(
        (other / "elsewhere" / "mnist" / "tiny").glob(f"*/step-{(STEPS - 1) // 70 * 70:09d}.h5")
    )
    assert same_weights(
        model_weights(other / "results" / "mnist" / "tiny" / "model.keras"), uninterrupted
    )
    measured = [metrics(workdir, "tiny") for workdir in (reference, other)]
    for key in ("test_accuracy", "test_loss", "final_validation_accuracy"):
        assert measured[0][key] == measured[1][key], key
    logs = [
        (workdir / "results" / "mnist" / "tiny" / "training_log.csv").read_text().splitlines()
        for workdir in (reference, other)
    ]
    assert [row.rsplit(",", 2)[0] for row in logs[0]] == [
        row.rsplit(",", 2)[0] for row in logs[1]
    ]  # all but times


@pytest.fixture(scope="module")
def kept_run(tiny_mnist, tmp_path_factory):
    """The uninterrupted run's settings with checkpoints kept: the newest two (KEPT) remain."""
    workdir = tmp_path_factory.mktemp("kept")
    snakemake(workdir, config(tiny_mnist, checkpoints={"keep": True}), "--until", "train")
    assert [p.name for p in checkpoints(workdir)] == [f"step-{step:09d}.h5" for step in KEPT]
    return workdir


def retrain_a_copy(kept_run, tmp_path, tiny_mnist, damage):
    """A copy of the kept run, its checkpoints damaged by `damage`, retrained; (log of the
    retrain, weights)."""
    workdir = tmp_path / "work"
    shutil.copytree(kept_run, workdir, symlinks=True)
    damage(*checkpoints(workdir))
    snakemake(
        workdir,
        config(tiny_mnist, checkpoints={"keep": True}),
        "--until",
        "train",
        "--forcerun",
        "train",
    )
    log = (
        (workdir / "logs" / "mnist" / "tiny" / "train.log")
        .read_text()
        .split("stage train on host")[-1]
    )
    return workdir, log, model_weights(workdir / "results" / "mnist" / "tiny" / "model.keras")


def test_a_damaged_newest_checkpoint_is_named_and_the_older_one_resumed(
    kept_run, tmp_path, tiny_mnist, uninterrupted
):
    def damage(older, newest):
        damage_in_place(newest)

    workdir, log, weights = retrain_a_copy(kept_run, tmp_path, tiny_mnist, damage)
    newest = checkpoints(workdir)[-1]
    assert (
        f"not resuming from {newest.relative_to(workdir)}: its content has changed since it was "
        f"written" in log
    )
    assert f"resuming from step {KEPT[0]}" in log
    assert same_weights(weights, uninterrupted)


def test_no_unverified_checkpoint_is_resumed_and_the_retrain_is_bitwise_the_same(
    kept_run, tmp_path, tiny_mnist, uninterrupted
):
    """The newest damaged in place (same size), the older one without a digest (as an older
    version wrote them): both named, training starts from step 0."""

    def damage(older, newest):
        damage_in_place(newest, "optimizer")
        with h5py.File(older, "r+") as h5:
            del h5.attrs["sha256"]

    workdir, log, weights = retrain_a_copy(kept_run, tmp_path, tiny_mnist, damage)
    older, newest = (p.relative_to(workdir) for p in checkpoints(workdir))
    assert f"not resuming from {newest}: its content has changed since it was written" in log
    assert f"not resuming from {older}: it records no content digest" in log
    assert "training from step 0" in log and "resuming from step" not in log
    assert same_weights(weights, uninterrupted)
