"""The training stage: a run's trained model, its training log and its metrics.

results/<data set>/{run}/model.keras
    The trained model, Keras 3's own format and layers only (conv1, conv2, pool2, flatten,
    fc1, logits): `keras.saving.load_model(path)` opens it without this project. Input
    (N, H, W, 1) float32 pixels in [0, 1]; output (N, classes) logits.
results/<data set>/{run}/training_log.csv
    One row every `training.log_every` steps: see mnist_filters/training_log.py.
results/<data set>/{run}/metrics.json
    test_accuracy, test_loss, test_accuracy_per_class (by label), test_images: measured
    on model.keras itself; final_validation_accuracy; weights_sha256 (sha256 of the
    weights' bytes in get_weights() order: equal digests, bitwise-equal weights); steps,
    batch_size, seed, precision, kernels (the path that ran), threads; train_seconds,
    validation_seconds, train_examples_per_second; train_images, validation_images;
    cpu {model, flags}; tensorflow_version, keras_version, numpy_version; input_sha256
    (each data file's); resumed_from_step (0: trained from the start); provenance;
    settings (the run's seed, model and training settings).
results/<data set>/{run}/snapshots.h5 and tensorboard/: see mnist_filters/snapshots.py
and mnist_filters/tensorboard_events.py.
"""

from __future__ import annotations

import logging

import numpy as np

from mnist_filters.atomic import atomic_directory, atomic_output, require_space, write_json_atomic
from mnist_filters.checkpoints import Checkpoint, CheckpointStore, checkpoint_key
from mnist_filters.classification import accuracy_per_class, confusion_matrix
from mnist_filters.cpu import choose_kernels, cpu_info, describe, features
from mnist_filters.dataset import FILES, load_split, sha256_file, to_model_input
from mnist_filters.errors import DiskFull, Diverged, Interrupted
from mnist_filters.interrupts import StopSignals
from mnist_filters.progress import Progress
from mnist_filters.runlog import provenance, terminal
from mnist_filters.snapshots import write_snapshots
from mnist_filters.tensorflow_setup import configure_tensorflow
from mnist_filters.training_log import LogRow, examples_per_second, write_training_log

log = logging.getLogger(__name__)


def train_run(
    inputs: dict[str, str],
    outputs: dict[str, str],
    *,
    run: str,
    seed: int,
    model_settings: dict,
    training: dict,
    checkpoint_dir: str,
    checkpoint_every: int,
    keep_checkpoints: bool = False,
    snapshot_steps: list[int] = (0,),
    image_shape=(28, 28),
    threads: int = 1,
) -> dict:
    """Train one run, resuming from its latest matching checkpoint; stop cleanly on a signal.

    `checkpoint_dir` is the run's own folder; checkpointing never changes the weights, and
    neither do the `snapshot_steps`, where conv1's and conv2's weights are kept
    (outputs["snapshots"]).
    """
    with StopSignals() as stop:
        return _train_run(
            inputs,
            outputs,
            run,
            seed,
            model_settings,
            training,
            checkpoint_dir,
            checkpoint_every,
            keep_checkpoints,
            sorted(set(snapshot_steps)),
            image_shape,
            threads,
            stop,
        )


def _train_run(
    inputs,
    outputs,
    run,
    seed,
    model_settings,
    training,
    checkpoint_dir,
    checkpoint_every,
    keep_checkpoints,
    snapshot_steps,
    image_shape,
    threads,
    stop,
):
    where = provenance()
    configure_tensorflow(threads, training["precision"])
    import keras
    import tensorflow as tf

    from mnist_filters.model import build_model, portable, weights_sha256
    from mnist_filters.model_outputs import Probe
    from mnist_filters.optimizers import make_optimizer
    from mnist_filters.tensorboard_events import write_events
    from mnist_filters.trainer import SNAPSHOT_LAYERS, Trainer, TrainingHistory, evaluation

    train = load_split(inputs["train_images"], inputs["train_labels"], image_shape)
    test = load_split(inputs["test_images"], inputs["test_labels"], image_shape)
    held_out = training["validation_size"]
    if held_out >= len(train) or training["batch_size"] > len(train) - held_out:
        raise ValueError(
            f"training.validation_size {held_out} and batch_size {training['batch_size']} do not "
            f"fit "
            f"the {len(train)} training images in {inputs['train_images']}"
        )
    # The notebook's loader held out the first images of the training file; so do we.
    x_valid, y_valid = to_model_input(train.images[:held_out]), train.labels[:held_out]
    x_train, y_train = to_model_input(train.images[held_out:]), train.labels[held_out:]
    cpu_model, cpu_flags = cpu_info()
    kernels = choose_kernels(training["kernels"])
    log.info(
        "%d training, %d validation, %d test images; %d threads; precision %s; %s kernels "
        "(training.kernels "
        "%s) on %s",
        len(y_train),
        len(y_valid),
        len(test),
        threads,
        training["precision"],
        kernels,
        training["kernels"],
        describe(cpu_model, cpu_flags),
    )

    keras.utils.set_random_seed(seed)
    # XLA cannot compile MaxPool's gradient under op determinism: its model pools by reshaping.
    model = build_model(model_settings, seed, image_shape, portable=kernels != "xla")
    optimizer = make_optimizer(training)
    trainer = Trainer(
        model,
        optimizer,
        x_train,
        y_train,
        seed=seed,
        batch_size=training["batch_size"],
        eval_batch_size=training["eval_batch_size"],
        kernels=kernels,
    )

    input_sha256 = {FILES[k]: sha256_file(inputs[k]) for k in FILES}
    # The optimiser's class too: two implementations of one update round differently.
    versions = {
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "optimizer": f"{type(optimizer).__module__}.{type(optimizer).__qualname__}",
    }
    key = checkpoint_key(
        seed, model_settings, {**training, "kernels": kernels}, input_sha256, versions
    )
    store = CheckpointStore(checkpoint_dir, key)
    checkpoint = store.latest(training["steps"])
    history, start = TrainingHistory(), 0
    if checkpoint:
        missing = [
            step
            for step in snapshot_steps
            if step <= checkpoint.step and step not in checkpoint.snapshots
        ]
        if missing:
            log.warning(
                "not resuming from %s: it lacks the weights at kept steps %s (evolution.steps "
                "changed); "
                "training from step 0",
                checkpoint.path,
                missing,
            )
            checkpoint = None
    if checkpoint:
        trainer.restore(checkpoint.model_weights, checkpoint.optimizer_variables)
        history = TrainingHistory(
            [LogRow(*row) for row in checkpoint.rows],
            checkpoint.train_seconds,
            checkpoint.validation_seconds,
            snapshots={
                step: checkpoint.snapshots[step]
                for step in snapshot_steps
                if step <= checkpoint.step
            },
        )
        start = checkpoint.step
        log.info("resuming from step %d (checkpoint %s, verified)", start, checkpoint.path)
    else:
        log.info("no checkpoint in %s: training from step 0", store.folder)

    progress = Progress(f"{run} train", training["steps"], terminal(), start=start)

    def report(row: LogRow, so_far):
        log.info("step %d, training accuracy %g", row.step, row.train_batch_accuracy)
        speed = (
            examples_per_second(so_far.rows[-2], row, training["batch_size"])
            if len(so_far.rows) > 1
            else None
        )
        progress.update(
            row.step,
            f"step {row.step}/{training['steps']}",
            f"batch accuracy {row.train_batch_accuracy:.3f}",
            f"validation accuracy {row.validation_accuracy:.4f}"
            if held_out
            else "validation accuracy -",
            f"{speed:.0f} examples/s" if speed else "-- examples/s",
        )

    unsaved = []  # the steps whose checkpoint the disk could not take

    def save_checkpoint(step, so_far):
        weights, variables = trainer.state()
        checkpoint = Checkpoint(
            step,
            weights,
            variables,
            so_far.rows,
            so_far.train_seconds,
            so_far.validation_seconds,
            snapshots=dict(so_far.snapshots),
        )
        try:
            path = store.save(checkpoint)
        except DiskFull as error:
            # A checkpoint is insurance, not a result: training goes on without it, and the
            # ones written before stay (docs/usage.md, "When a job is killed").
            unsaved.append(step)
            log.warning("checkpoint at step %d skipped, training goes on: %s", step, error)
            message = f"{run} train: checkpoint at step {step} skipped: {error}"
            print(message, file=terminal(), flush=True)
            return
        log.info("checkpoint at step %d: %s", step, path)

    try:
        history = trainer.train(
            training["steps"],
            log_every=training["log_every"],
            validation=(x_valid, y_valid) if held_out else None,
            on_log=report,
            checkpoint_every=checkpoint_every,
            resume=history,
            start_step=start,
            on_checkpoint=save_checkpoint,
            stop_requested=lambda: stop.received is not None,
            snapshot_steps=snapshot_steps,
        )
    except Diverged as error:
        hint = (
            f"a learning rate too high for {training['optimizer']} (training.learning_rate is "
            f"{training['learning_rate']:g}): lower it and run again"
        )
        if start:
            # The checkpoint verified, but its weights may still be what diverged: keep the
            # evidence, and say how to rule it out.
            raise Diverged(
                f"run {run} diverged: {error} of {training['steps']}, after resuming from the "
                f"checkpoint at "
                f"step {start} in {store.folder} (kept). The cause is {hint}, or that checkpoint's "
                f"weights: "
                f"delete {store.folder} to train from step 0. No model was written."
            ) from None
        if not keep_checkpoints:
            store.remove()  # trained from step 0 with these settings: they would diverge again
        raise Diverged(
            f"run {run} diverged: {error} of {training['steps']}. The likely cause is {hint}. "
            "No model was written."
        ) from None
    if history.stopped_at is not None:
        if history.stopped_at in unsaved:
            raise Interrupted(
                f"stopped by {stop.received} at step {history.stopped_at} of {training['steps']}; "
                f"its checkpoint did not fit on the disk, so the next run resumes from the newest "
                f"one in {store.folder}, if any: free some space and run the workflow again"
            )
        raise Interrupted(
            f"stopped by {stop.received} at step {history.stopped_at} of {training['steps']}; "
            f"checkpoint saved in {store.folder}: run the workflow again to resume"
        )
    # What is saved, and measured on the test set, is the model any Keras opens.
    saved = portable(model, model_settings, image_shape)
    test_logits = Probe(saved, []).logits(to_model_input(test.images), training["eval_batch_size"])
    test_result = evaluation(test_logits, test.labels)
    log.info("Test accuracy: %g (loss %.4f)", test_result.accuracy, test_result.loss)

    # The trained weights' bytes: a model.keras that cannot be written is refused before any
    # output is, and the checkpoints stay for the next run.
    require_space(outputs["model"], sum(w.nbytes for w in saved.get_weights()))
    with atomic_output(outputs["model"]) as temporary:
        saved.save(temporary)
    write_training_log(outputs["training_log"], history.rows)
    write_snapshots(outputs["snapshots"], history.snapshots, SNAPSHOT_LAYERS)
    with atomic_directory(outputs["tensorboard"]) as folder:
        write_events(folder, history.rows, training["batch_size"])
    examples = (training["steps"]) * training["batch_size"]
    metrics = {
        "test_accuracy": test_result.accuracy,
        "test_loss": test_result.loss,
        # by label; what the mistakes are is in confusion.csv and mistakes.csv
        "test_accuracy_per_class": accuracy_per_class(
            confusion_matrix(test.labels, test_logits.argmax(axis=1), test_logits.shape[1])
        ),
        "weights_sha256": weights_sha256(saved.get_weights()),
        "final_validation_accuracy": history.rows[-1].validation_accuracy if held_out else None,
        "steps": training["steps"],
        "batch_size": training["batch_size"],
        "train_seconds": history.train_seconds,
        "validation_seconds": history.validation_seconds,
        "train_examples_per_second": examples / history.train_seconds
        if history.train_seconds
        else None,
        "seed": seed,
        "precision": training["precision"],
        "kernels": kernels,
        "cpu": {"model": cpu_model, "flags": features(cpu_flags)},
        "threads": threads,
        "train_images": len(y_train),
        "validation_images": len(y_valid),
        "test_images": len(test),
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "numpy_version": np.__version__,
        "input_sha256": input_sha256,
        "resumed_from_step": start,
        "provenance": {"train": where},
        "settings": {"seed": seed, "model": model_settings, "training": training},
    }
    write_json_atomic(outputs["metrics"], metrics)
    if not keep_checkpoints:
        store.remove()
    return metrics
