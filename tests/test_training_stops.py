"""Training stops cleanly: on a signal in any chunk (the last included), and on divergence."""

import logging
import os
import signal

import pytest

from conftest import TINY_DEFAULTS, default_settings, leave_free
from helpers import model_weights, same_weights
from mnist_filters.dataset import local_files
from mnist_filters.errors import Diverged, Interrupted
from mnist_filters.interrupts import STOP_SIGNALS, StopSignals
from mnist_filters.network.training_loop import Trainer, TrainingHistory

pytestmark = pytest.mark.slow
DEFAULTS = default_settings()
MODEL = DEFAULTS["model"]
TRAINING = {**DEFAULTS["training"], **TINY_DEFAULTS["training"]}


def train(
    tiny_mnist,
    workdir,
    snapshot_steps=(0,),
    checkpoint_dir=None,
    checkpoint_every=500,
    keep_checkpoints=False,
    **training,
):
    from mnist_filters.stages.train import train_run

    outputs = {
        key: str(workdir / name)
        for key, name in [
            ("model", "model.keras"),
            ("metrics", "metrics.json"),
            ("training_log", "training_log.csv"),
            ("tensorboard", "tensorboard"),
            ("snapshots", "snapshots.h5"),
        ]
    }
    return train_run(
        {k: str(v) for k, v in local_files(tiny_mnist).items()},
        outputs,
        run="tiny",
        seed=0,
        model_settings=MODEL,
        training={**TRAINING, **training},
        checkpoint_dir=str(checkpoint_dir or workdir / "checkpoints"),
        checkpoint_every=checkpoint_every,
        keep_checkpoints=keep_checkpoints,
        threads=2,
        snapshot_steps=list(snapshot_steps),
    )


class SignalAt(logging.Handler):
    """Sends `sig` to this process when training logs the given step: a real signal at a known
    step."""

    def __init__(self, step, sig):
        super().__init__()
        self.prefix, self.sig = f"step {step}, ", sig

    def emit(self, record):
        if record.getMessage().startswith(self.prefix):
            os.kill(os.getpid(), self.sig)


@pytest.fixture(scope="module")
def uninterrupted(tiny_mnist, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("uninterrupted")
    train(tiny_mnist, workdir)
    return model_weights(workdir / "model.keras")


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda sig: sig.name)
def test_each_stop_signal_is_caught_and_the_previous_handler_restored(sig):
    previous = signal.getsignal(sig)
    with StopSignals() as stop:
        os.kill(os.getpid(), sig)
        os.kill(os.getpid(), signal.SIGTERM)  # a second signal does not replace the first
        assert stop.received == sig.name
    assert signal.getsignal(sig) is previous


def test_a_signal_in_the_last_chunk_checkpoints_the_final_step(
    tiny_mnist, tmp_path, uninterrupted, caplog
):
    """300 steps logged every 100: SLURM's warning at the step-200 log point arrives in the last
    chunk
    (every stop signal takes the same path: the test above)."""
    sig = signal.SIGUSR1
    handler = SignalAt(200, sig)
    logger = logging.getLogger("mnist_filters.stages.train")
    with caplog.at_level(logging.INFO, logger="mnist_filters"):
        logger.addHandler(handler)
        try:
            with pytest.raises(Interrupted, match=f"stopped by {sig.name} at step 300 of 300"):
                train(tiny_mnist, tmp_path)
        finally:
            logger.removeHandler(handler)
        assert [p.name for p in (tmp_path / "checkpoints").glob("*/step-*.h5")] == [
            "step-000000300.h5"
        ]
        assert not (tmp_path / "model.keras").exists()
        metrics = train(tiny_mnist, tmp_path)
    assert "resuming from step 300" in caplog.text
    assert metrics["resumed_from_step"] == 300
    assert same_weights(model_weights(tmp_path / "model.keras"), uninterrupted)


def test_every_chunk_ends_with_a_checkpoint_when_a_stop_is_requested():
    """The Trainer's own contract, whatever chunk the request arrives in."""
    import numpy as np

    from mnist_filters.network.build import build_model
    from mnist_filters.optimizers import make_optimizer

    images = np.random.default_rng(0).uniform(size=(200, 28, 28, 1)).astype(np.float32)
    labels = np.arange(200) % 10
    for stop_after in (1, 2, 3):  # chunks 0-100, 100-200, 200-250 (the last)
        model = build_model(MODEL, seed=0)
        trainer = Trainer(
            model, make_optimizer(TRAINING), images, labels, seed=0, batch_size=50, kernels="xla"
        )
        calls, saved = [], []
        result = trainer.train(
            250,
            log_every=100,
            validation=None,
            checkpoint_every=1000,
            on_checkpoint=lambda step, log, saved=saved: saved.append(step),
            stop_requested=lambda calls=calls, stop_after=stop_after: (
                calls.append(1) or len(calls) >= stop_after
            ),
        )
        assert isinstance(result, TrainingHistory)
        assert result.stopped_at == saved[-1] == [100, 200, 250][stop_after - 1]


def test_divergence_stops_with_a_clear_error_and_no_model(tiny_mnist, tmp_path):
    with pytest.raises(Diverged) as error:
        train(tiny_mnist, tmp_path, optimizer="sgd", learning_rate=1e6)
    message = str(error.value)
    assert "run tiny diverged: the training loss is" in message and "at step 100 of 300" in message
    assert "learning rate too high for sgd (training.learning_rate is 1e+06)" in message
    assert not any(tmp_path.glob("*.keras")) and not (tmp_path / "metrics.json").exists()
    assert not (tmp_path / "checkpoints").exists()  # the same settings would only diverge again


def test_a_resumed_run_that_diverges_says_so_and_keeps_its_checkpoints(tiny_mnist, tmp_path):
    """A checkpoint that verifies but holds bad weights (damaged before its digest was taken):
    the message names the step it resumed from and the folder to delete, which is kept."""
    import numpy as np

    from mnist_filters.checkpoints import CheckpointStore

    def run(folder, steps, keep):
        folder.mkdir()
        checkpoints = tmp_path / "checkpoints"
        return train(
            tiny_mnist,
            folder,
            checkpoint_dir=checkpoints,
            checkpoint_every=100,
            keep_checkpoints=keep,
            steps=steps,
        )

    run(tmp_path / "first", 200, keep=True)
    (folder,) = (tmp_path / "checkpoints").iterdir()
    store = CheckpointStore(folder.parent, folder.name)
    checkpoint = store.latest(100)
    checkpoint.model_weights[-2][...] = np.nan  # the logits kernel: no ReLU after it to hide a NaN
    store.save(checkpoint)
    with pytest.raises(Diverged) as error:
        run(tmp_path / "second", 300, keep=False)
    message = str(error.value)
    assert "after resuming from the checkpoint at step 100 in" in message and str(folder) in message
    assert (
        "learning rate too high for adam" in message
        and f"delete {folder} to train from step 0" in message
    )
    assert folder.is_dir() and list(folder.glob("step-*.h5"))
    assert not (tmp_path / "second" / "model.keras").exists()


def test_checkpoints_that_do_not_fit_are_skipped_and_training_goes_on(
    tiny_mnist, tmp_path, small_disk, uninterrupted, caplog
):
    """Checkpoints on a disk with 200 kB free: each is skipped with a warning naming its file,
    its size and the free space, and the run ends with the same weights as without them."""
    leave_free(small_disk, 200_000)
    with caplog.at_level(logging.WARNING, logger="mnist_filters"):
        train(tiny_mnist, tmp_path, checkpoint_dir=small_disk / "checkpoints", checkpoint_every=100)
    skipped = [
        r.getMessage() for r in caplog.records if "skipped, training goes on" in r.getMessage()
    ]
    assert [m.split(" skipped")[0] for m in skipped] == [
        "checkpoint at step 100",
        "checkpoint at step 200",
    ]
    assert all(
        "step-000000100.h5: it needs about" in skipped[0] and "are free" in m for m in skipped
    )
    assert same_weights(model_weights(tmp_path / "model.keras"), uninterrupted)
    assert not list((small_disk / "checkpoints").rglob("*.h5"))
