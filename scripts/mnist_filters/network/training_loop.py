"""Train the model on its batch schedule, logging like the notebook does."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from mnist_filters.batches import step_batches
from mnist_filters.errors import Diverged
from mnist_filters.formats.training_log import LogRow
from mnist_filters.network.probe import Probe

log = logging.getLogger(__name__)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example softmax cross-entropy, in float64 for a stable reference value."""
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


@dataclass
class Evaluation:
    accuracy: float
    loss: float


def evaluation(logits: np.ndarray, labels: np.ndarray) -> Evaluation:
    accuracy = float(np.mean(logits.argmax(axis=1) == labels))
    return Evaluation(accuracy, float(softmax_cross_entropy(logits, labels).mean()))


@dataclass
class TrainingHistory:
    """What training has done so far: the log's rows, its timings, and the kept weights."""

    rows: list[LogRow] = field(default_factory=list)
    train_seconds: float = 0.0
    validation_seconds: float = 0.0
    stopped_at: int | None = None  # set when training stopped early on request
    # step -> the snapshot layers' weights (Trainer.snapshot) after that many steps
    snapshots: dict[int, list[np.ndarray]] = field(default_factory=dict)


class Trainer:
    """Owns the compiled step and the data; trains in chunks of steps between log points.

    A chunk's steps run in one graph-mode loop, so Python is visited once per chunk, not
    once per step. `kernels` (see mnist_filters.cpu) says how each step runs: `xla`
    compiles it with XLA (the model must pool with model.BlockMaxPooling2D: TensorFlow
    cannot compile MaxPool's gradient under op determinism); `onednn` runs TensorFlow's
    own kernels.
    """

    def __init__(
        self,
        model,
        optimizer,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        seed: int,
        batch_size: int,
        kernels: str,
        eval_batch_size: int = 1000,
        snapshot_layers: dict[str, tuple[str, ...]] | None = None,
    ):
        self.model = model
        # whose weights snapshot() keeps, each with its weights' names: every spatial layer with
        # weights (the layer table's snapshot_layers), all that features through training
        # needs, a few hundred KB
        self.snapshot_layers = dict(snapshot_layers or {})
        self.optimizer = optimizer
        self.seed = seed
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.count = len(labels)
        self.images = tf.constant(images)
        self.labels = tf.constant(labels.astype(np.int32))
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        optimizer.build(model.trainable_variables)
        xla = kernels == "xla"
        self._step = tf.function(self._train_step, jit_compile=True) if xla else self._train_step
        self._chunk = tf.function(
            self._train_chunk, input_signature=[tf.TensorSpec([None, batch_size], tf.int32)]
        )
        self._probe = Probe(model, [], jit_compile=xla)

    def _train_step(self, rows):
        x = tf.gather(self.images, rows)
        y = tf.gather(self.labels, rows)
        with tf.GradientTape() as tape:
            loss = self.loss_fn(y, self.model(x, training=True))
        gradients = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
        return loss

    def _train_chunk(self, batch_rows):
        for i in tf.range(tf.shape(batch_rows)[0]):
            self._step(batch_rows[i])

    def logits(self, images: np.ndarray) -> np.ndarray:
        return self._probe.logits(images, self.eval_batch_size)

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> Evaluation:
        return evaluation(self.logits(images), labels)

    def batch(self, step: int) -> np.ndarray:
        return step_batches(self.seed, step, step + 1, self.count, self.batch_size)[0]

    def state(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The model's weights and the optimiser's variables (moments, step counter)."""
        return self.model.get_weights(), [v.numpy() for v in self.optimizer.variables]

    def snapshot(self) -> list[np.ndarray]:
        """The weights of the snapshot layers (each layer's Keras weights in order), as they
        are now."""
        return [
            w for name in self.snapshot_layers for w in self.model.get_layer(name).get_weights()
        ]

    def restore(
        self, model_weights: list[np.ndarray], optimizer_variables: list[np.ndarray]
    ) -> None:
        if len(optimizer_variables) != len(self.optimizer.variables):
            raise ValueError("checkpoint does not match this optimiser")
        self.model.set_weights(model_weights)
        for variable, value in zip(self.optimizer.variables, optimizer_variables):
            variable.assign(value)

    def train(
        self,
        steps: int,
        *,
        log_every: int,
        validation: tuple[np.ndarray, np.ndarray] | None,
        checkpoint_every: int | None = None,
        resume: TrainingHistory | None = None,
        start_step: int = 0,
        on_log: Callable[[LogRow, TrainingHistory], None] | None = None,
        on_checkpoint: Callable[[int, TrainingHistory], None] | None = None,
        stop_requested: Callable[[], bool] = lambda: False,
        snapshot_steps: Sequence[int] = (),
    ) -> TrainingHistory:
        """Train steps start_step..steps-1; record a row at every log point and at the end.

        A row at step s describes the model after s steps: its accuracy and loss on batch s
        (the batch it is about to train on, as the notebook measured) and on the validation
        split; `on_log(row, log)` sees it and the log so far. `on_checkpoint(step, log)` runs every
        `checkpoint_every` steps, and when
        `stop_requested()` turns true between chunks, the last chunk included; training then
        stops at the step reached. A non-finite training loss at a log point raises Diverged.
        At each of `snapshot_steps` the snapshot layers' weights are kept in the log's
        `snapshots`; the chunks end there too, which changes no weight.
        """
        result = resume or TrainingHistory()
        started = time.perf_counter() - result.train_seconds - result.validation_seconds
        images, labels = self.images.numpy(), self.labels.numpy()
        step = start_step
        every = [log_every] + ([checkpoint_every] if checkpoint_every else [])
        snapshot_at = sorted(set(snapshot_steps))
        if step in snapshot_at and step not in result.snapshots:
            result.snapshots[step] = self.snapshot()
        while True:
            if step % log_every == 0 or step == steps:
                rows = self.batch(step)
                probe = self.evaluate(images[rows], labels[rows])
                validation_accuracy = float("nan")
                if validation is not None:
                    before = time.perf_counter()
                    validation_accuracy = self.evaluate(*validation).accuracy
                    result.validation_seconds += time.perf_counter() - before
                if not np.isfinite(probe.loss):
                    raise Diverged(f"the training loss is {probe.loss} at step {step}")
                row = LogRow(
                    step,
                    probe.accuracy,
                    probe.loss,
                    validation_accuracy,
                    time.perf_counter() - started,
                    result.train_seconds,
                )
                result.rows.append(row)
                if on_log:
                    on_log(row, result)
            if step >= steps:
                break
            stop = min(
                [steps]
                + [(step // n + 1) * n for n in every]
                + [s for s in snapshot_at if s > step]
            )
            self._chunk(
                tf.constant(step_batches(self.seed, step, stop, self.count, self.batch_size))
            )
            step = stop
            if step in snapshot_at:
                result.snapshots[step] = self.snapshot()
            result.train_seconds = time.perf_counter() - started - result.validation_seconds
            stopping = stop_requested()
            periodic = checkpoint_every and step % checkpoint_every == 0 and step < steps
            if on_checkpoint and (stopping or periodic):
                on_checkpoint(step, result)
            if stopping:
                result.stopped_at = step
                return result
        result.train_seconds = time.perf_counter() - started - result.validation_seconds
        return result
