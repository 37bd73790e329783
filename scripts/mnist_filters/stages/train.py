"""The training stage: a run's trained model, its training log and its metrics.

results/<data set>/{run}/model.keras
    The trained model, Keras 3's own format and layers only (model.layers by their names, a
    flatten before the first dense layer, the logits; the notebook's: conv1, conv2, pool2,
    flatten, fc1, logits): `keras.saving.load_model(path)` opens it without this project. Input
    (N, H, W, 1) float32 pixels in [0, 1]; output (N, classes) logits, unit j for the label
    classes[j] of metrics.json.
results/<data set>/{run}/training_log.csv
    One row every `training.log_every` steps: see mnist_filters/formats/training_log.py.
results/<data set>/{run}/metrics.json
    test_accuracy, test_loss, test_accuracy_per_class (by label), test_images (those of
    `classes`): measured on model.keras itself; classes (the label of each output unit,
    training.classes or every label); final_validation_accuracy; weights_sha256 (sha256 of the
    weights' bytes in get_weights() order: equal digests, bitwise-equal weights); steps,
    batch_size, seed, precision, kernels (the path that ran), threads; train_seconds,
    validation_seconds, train_examples_per_second; train_images (all left after the validation
    split, or training.examples_per_class of each class), validation_images;
    cpu {model, flags}; tensorflow_version, keras_version, numpy_version; input_sha256
    (each data file's); resumed_from_step (0: trained from the start); provenance;
    settings (the run's seed, model and training settings); for a transfer network,
    transfer {depth, frozen, layers, source_sha256} (the layers copied and the sha256 of
    the model.keras they came from).
results/<data set>/{run}/snapshots.h5 and tensorboard/: see mnist_filters/formats/snapshots.py
and mnist_filters/tensorboard_events.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from mnist_filters.atomic import atomic_directory, atomic_output, require_space, write_json_atomic
from mnist_filters.checkpoints import Checkpoint, CheckpointStore, checkpoint_key
from mnist_filters.classification import accuracy_per_class, confusion_matrix
from mnist_filters.cpu import choose_kernels, cpu_info, describe, features
from mnist_filters.dataset import (
    FILES,
    NUM_CLASSES,
    TestSet,
    class_balanced,
    load_split,
    load_test_set,
    of_classes,
    run_classes,
    sha256_file,
    to_model_input,
    units_of,
)
from mnist_filters.errors import DiskFull, Diverged, Interrupted
from mnist_filters.formats.snapshots import write_snapshots
from mnist_filters.formats.training_log import (
    LogRow,
    examples_per_second,
    progress_fields,
    write_training_log,
)
from mnist_filters.interrupts import StopSignals
from mnist_filters.network.table import WEIGHT_PARTS, LayerTable
from mnist_filters.progress import Progress
from mnist_filters.runlog import provenance, terminal
from mnist_filters.tensorflow_setup import configure_tensorflow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingData:
    """A run's images as the model takes them, labels as its output units: the training file
    split as the notebook's loader split it (the first `validation_size` images held out), and
    the test set, each restricted to training.classes."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    test: TestSet


def training_data(
    inputs: dict[str, str], training: dict, image_shape, seed: int, num_classes: int = NUM_CLASSES
) -> TrainingData:
    train = load_split(inputs["train_images"], inputs["train_labels"], image_shape, num_classes)
    test = load_test_set(
        inputs["test_images"], inputs["test_labels"], training["classes"], image_shape, num_classes
    )
    classes = training["classes"]
    held_out = training["validation_size"]
    # The notebook's loader held out the first images of the training file; so do we.
    valid = of_classes(train.labels[:held_out], classes)
    kept = held_out + of_classes(train.labels[held_out:], classes)
    if training["examples_per_class"] is not None and len(kept):
        kept = kept[
            class_balanced(train.labels[kept], training["examples_per_class"], seed, held_out)
        ]
    if not len(kept) or training["batch_size"] > len(kept):
        raise ValueError(
            f"training.validation_size {held_out} and batch_size {training['batch_size']} do not "
            f"fit the {len(kept)} training images kept of the {len(train)} in "
            f"{inputs['train_images']}"
        )
    return TrainingData(
        to_model_input(train.images[kept]),
        units_of(train.labels[kept], classes),
        to_model_input(train.images[valid]),
        units_of(train.labels[valid], classes),
        test,
    )


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
    num_classes: int = NUM_CLASSES,
    threads: int = 1,
    transfer: dict | None = None,
) -> dict:
    """Train one run, resuming from its latest matching checkpoint; stop cleanly on a signal.

    `transfer` ({depth, frozen, layers}; mnist_filters/transfer_plan.py): start the named layers
    from those of inputs["source"], a trained model.keras, and freeze them where asked.

    `checkpoint_dir` is the run's own folder; checkpointing never changes the weights, and
    neither do the `snapshot_steps`, where every convolution's weights are kept
    (outputs["snapshots"]). Returns metrics.json's content.
    """
    # The whole stage, set-up included: a stop signal is a request, answered at the next chunk.
    with StopSignals() as stop:
        where = provenance()
        configure_tensorflow(threads, training["precision"])
        import keras
        import tensorflow as tf

        from mnist_filters.network.build import build_model
        from mnist_filters.network.training_loop import Trainer
        from mnist_filters.optimizers import make_optimizer

        snapshot_steps = sorted(set(snapshot_steps))
        data = training_data(inputs, training, image_shape, seed, num_classes)
        cpu_model, cpu_flags = cpu_info()
        kernels = choose_kernels(training["kernels"])
        log.info(
            "%d training, %d validation, %d test images; %d threads; precision %s; %s kernels "
            "(training.kernels %s) on %s",
            len(data.y_train),
            len(data.y_valid),
            len(data.test),
            threads,
            training["precision"],
            kernels,
            training["kernels"],
            describe(cpu_model, cpu_flags),
        )
        keras.utils.set_random_seed(seed)
        # XLA cannot compile MaxPool's gradient under op determinism: its model pools by reshaping.
        classes = run_classes(training["classes"], num_classes)
        model = build_model(
            model_settings, seed, image_shape, len(classes), portable=kernels != "xla"
        )
        if transfer:
            transfer = {**transfer, "source_sha256": sha256_file(inputs["source"])}
            copy_layers(model, inputs["source"], transfer["layers"], transfer["frozen"])
        optimizer = make_optimizer(training)
        trainer = Trainer(
            model,
            optimizer,
            data.x_train,
            data.y_train,
            seed=seed,
            batch_size=training["batch_size"],
            eval_batch_size=training["eval_batch_size"],
            kernels=kernels,
            snapshot_layers=snapshot_parts(
                LayerTable.declared(model_settings["layers"], image_shape, len(classes))
            ),
        )
        input_sha256 = {FILES[k]: sha256_file(inputs[k]) for k in FILES}
        # The optimiser's class too: two implementations of one update round differently.
        versions = {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
            "optimizer": f"{type(optimizer).__module__}.{type(optimizer).__qualname__}",
        }
        trained_with = {**training, "kernels": kernels}
        if transfer:
            trained_with["transfer"] = transfer
        key = checkpoint_key(seed, model_settings, trained_with, input_sha256, versions)
        store = CheckpointStore(checkpoint_dir, key)
        history, start = resumed(store, trainer, training["steps"], snapshot_steps)
        history = trained(
            trainer,
            history,
            start,
            store,
            data,
            run=run,
            training=training,
            checkpoint_every=checkpoint_every,
            keep_checkpoints=keep_checkpoints,
            snapshot_steps=snapshot_steps,
            stop=stop,
        )
        metrics = {
            **write_outputs(outputs, trainer, history, data, model_settings, training, image_shape),
            "kernels": kernels,
            "cpu": {"model": cpu_model, "flags": features(cpu_flags)},
            "threads": threads,
            "seed": seed,
            "input_sha256": input_sha256,
            "resumed_from_step": start,
            "provenance": {"train": where},
            "settings": {"seed": seed, "model": model_settings, "training": training},
        }
        if transfer:
            metrics["transfer"] = transfer
        write_json_atomic(outputs["metrics"], metrics)
        if not keep_checkpoints:
            store.remove()
        return metrics


def copy_layers(model, source: str, layers, frozen: bool) -> None:
    """Set `layers` of `model` to the weights of those of the model.keras `source`; freeze
    them (out of model.trainable_variables, so that no step changes them) if `frozen`."""
    from mnist_filters.network.model_file import load_trained_model

    trained = load_trained_model(source)
    for name in layers:
        layer = model.get_layer(name)
        layer.set_weights(trained.get_layer(name).get_weights())
        layer.trainable = not frozen
    log.info(
        "copied %s from %s%s",
        ", ".join(layers) or "no layer",
        source,
        ", frozen" if frozen and layers else "",
    )


def resumed(store: CheckpointStore, trainer, steps: int, snapshot_steps: list[int]):
    """(the training history so far, the step to go on from): the newest checkpoint that
    verifies and holds every kept step up to its own, its state set into `trainer`; else
    nothing done, step 0."""
    from mnist_filters.network.training_loop import TrainingHistory

    checkpoint = store.latest(steps)
    if checkpoint:
        missing = [
            s for s in snapshot_steps if s <= checkpoint.step and s not in checkpoint.snapshots
        ]
        if missing:
            log.warning(
                "not resuming from %s: it lacks the weights at kept steps %s (evolution.steps "
                "changed); training from step 0",
                checkpoint.path,
                missing,
            )
            checkpoint = None
    if not checkpoint:
        log.info("no checkpoint in %s: training from step 0", store.folder)
        return TrainingHistory(), 0
    trainer.restore(checkpoint.model_weights, checkpoint.optimizer_variables)
    history = TrainingHistory(
        [LogRow(*row) for row in checkpoint.rows],
        checkpoint.train_seconds,
        checkpoint.validation_seconds,
        snapshots={s: checkpoint.snapshots[s] for s in snapshot_steps if s <= checkpoint.step},
    )
    log.info("resuming from step %d (checkpoint %s, verified)", checkpoint.step, checkpoint.path)
    return history, checkpoint.step


def trained(
    trainer,
    history,
    start: int,
    store: CheckpointStore,
    data: TrainingData,
    *,
    run: str,
    training: dict,
    checkpoint_every: int,
    keep_checkpoints: bool,
    snapshot_steps: list[int],
    stop: StopSignals,
):
    """Train from `start` to training.steps, with progress lines, checkpoints and the kept
    steps' weights; the history. A stop signal or a divergence ends it with its error."""
    held_out = len(data.y_valid)
    progress = Progress(f"{run} train", training["steps"], terminal(), start=start)

    def report(row: LogRow, so_far):
        log.info("step %d, training accuracy %g", row.step, row.train_batch_accuracy)
        speed = (
            examples_per_second(so_far.rows[-2], row, training["batch_size"])
            if len(so_far.rows) > 1
            else None
        )
        progress.update(row.step, *progress_fields(row, training["steps"], speed, bool(held_out)))

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
            validation=(data.x_valid, data.y_valid) if held_out else None,
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
                f"checkpoint at step {start} in {store.folder} (kept). The cause is {hint}, or "
                f"that checkpoint's weights: delete {store.folder} to train from step 0. No "
                "model was written."
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
    return history


def snapshot_parts(table: LayerTable) -> dict[str, tuple[str, ...]]:
    """The layers whose weights training keeps, each with its weights' names in order."""
    return {name: WEIGHT_PARTS[table[name].kind] for name in table.snapshot_layers}


def write_outputs(outputs, trainer, history, data, model_settings, training, image_shape) -> dict:
    """model.keras (the model any Keras opens, measured on the test set), training_log.csv,
    snapshots.h5 and the TensorBoard events; the metrics they give."""
    import keras
    import tensorflow as tf

    from mnist_filters.network.build import portable, weights_sha256
    from mnist_filters.network.model_file import save_model
    from mnist_filters.network.probe import Probe
    from mnist_filters.network.training_loop import evaluation
    from mnist_filters.tensorboard_events import write_events

    classes = run_classes(training["classes"], trainer.model.outputs[0].shape[-1])
    saved = portable(trainer.model, model_settings, image_shape)
    test = data.test
    test_logits = Probe(saved, []).logits(to_model_input(test.images), training["eval_batch_size"])
    test_result = evaluation(test_logits, test.units)
    log.info("Test accuracy: %g (loss %.4f)", test_result.accuracy, test_result.loss)
    # The trained weights' bytes: a model.keras that cannot be written is refused before any
    # output is, and the checkpoints stay for the next run.
    require_space(outputs["model"], sum(w.nbytes for w in saved.get_weights()))
    with atomic_output(outputs["model"]) as temporary:
        save_model(saved, temporary)
    write_training_log(outputs["training_log"], history.rows)
    write_snapshots(outputs["snapshots"], history.snapshots, trainer.snapshot_layers)
    with atomic_directory(outputs["tensorboard"]) as folder:
        write_events(folder, history.rows, training["batch_size"])
    examples = training["steps"] * training["batch_size"]
    held_out = len(data.y_valid)
    return {
        "test_accuracy": test_result.accuracy,
        "test_loss": test_result.loss,
        # by label; what the mistakes are is in confusion.csv and mistakes.csv
        "test_accuracy_per_class": {
            str(classes[int(unit)]): accuracy
            for unit, accuracy in accuracy_per_class(
                confusion_matrix(test.units, test_logits.argmax(axis=1), len(classes))
            ).items()
        },
        "classes": classes,
        "weights_sha256": weights_sha256(saved.get_weights()),
        "final_validation_accuracy": history.rows[-1].validation_accuracy if held_out else None,
        "steps": training["steps"],
        "batch_size": training["batch_size"],
        "train_seconds": history.train_seconds,
        "validation_seconds": history.validation_seconds,
        "train_examples_per_second": examples / history.train_seconds
        if history.train_seconds
        else None,
        "precision": training["precision"],
        "train_images": len(data.y_train),
        "validation_images": held_out,
        "test_images": len(test),
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "numpy_version": np.__version__,
    }
