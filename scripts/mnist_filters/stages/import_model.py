"""The stage that takes training's place for a model trained elsewhere (a run's model.file).

results/<data set>/{run}/model.keras
    The file's network in the workflow's own Keras layers (network/from_keras.py): the same
    function but for its softmax, left out, so that the output, named `logits`, is the
    logits every analysis reads. Input (N, H, W, 1) float32 pixels in [0, 1], as a trained
    run's; `keras.saving.load_model(path)` opens it without this project.
results/<data set>/{run}/metrics.json
    test_accuracy, test_loss, test_accuracy_per_class (by label), test_images, classes,
    weights_sha256 (of model.keras, as a trained run's), measured on model.keras itself;
    model_file (the path), model_file_sha256, input_range (what the file's model takes),
    layers (the layer table: name, kind, output shape), largest_probability_difference (the
    file's own outputs against the softmax of model.keras's logits, on the first test images);
    tensorflow_version, keras_version, numpy_version; input_sha256 (each data file's);
    provenance; settings (the run's model and training settings).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from mnist_filters.atomic import atomic_output, write_json_atomic
from mnist_filters.classification import accuracy_per_class, confusion_matrix, softmax
from mnist_filters.dataset import (
    FILES,
    NUM_CLASSES,
    load_test_set,
    run_classes,
    sha256_file,
    to_model_input,
)
from mnist_filters.errors import ConfigError
from mnist_filters.runlog import provenance
from mnist_filters.tensorflow_setup import configure_tensorflow

log = logging.getLogger(__name__)

# How far the file's probabilities may be from those of the logits written: float32 rounding
# of the same sums, never a different function.
MATCH_TOLERANCE = 1e-4
CHECKED_IMAGES = 256


def import_run(
    inputs: dict[str, str],
    outputs: dict[str, str],
    *,
    model: dict,
    training: dict,
    image_shape=(28, 28),
    num_classes: int = NUM_CLASSES,
    threads: int = 1,
) -> dict:
    """Read `model["file"]` (model.input_range: `model["input_range"]`), check it fits the
    data, and write model.keras and metrics.json."""
    configure_tensorflow(threads, "float32")
    import keras
    import tensorflow as tf

    from mnist_filters.network.build import weights_sha256
    from mnist_filters.network.from_keras import check_fits, import_model
    from mnist_filters.network.model_file import save_model
    from mnist_filters.network.probe import Probe
    from mnist_filters.network.training_loop import evaluation

    path = Path(model["file"]).expanduser()
    digest = sha256_file(path)
    if digest != model["sha256"]:
        raise ConfigError(
            f"model.file {path}: changed while the workflow ran (its sha256 is not the one "
            "planned with); run the workflow again"
        )
    classes = run_classes(training["classes"], num_classes)
    imported = import_model(path, model["input_range"])
    converted, table = imported.model, imported.table
    check_fits(table, path, tuple(image_shape), len(classes))
    test = load_test_set(
        inputs["test_images"], inputs["test_labels"], training["classes"], image_shape, num_classes
    )
    images = to_model_input(test.images)
    logits = Probe(converted, []).logits(images, training["eval_batch_size"])
    # the file's own outputs on the first images: the conversion must be the same function
    first = images[:CHECKED_IMAGES]
    own = imported.source(
        tf.constant(first * 255.0 if imported.takes_bytes else first), training=False
    )
    ours = logits[: len(first)]
    ours = softmax(ours) if imported.softmax else ours.astype(np.float64)
    difference = float(np.abs(ours - np.asarray(own, np.float64)).max())
    if difference > MATCH_TOLERANCE:
        raise ConfigError(
            f"model.file {path}: its outputs and those of the layers read from it differ by "
            f"{difference:.3g}; a layer does something the workflow does not model"
        )
    result = evaluation(logits, test.units)
    log.info(
        "%s: %d layers read; test accuracy %g (loss %.4f) on %d images; outputs match the "
        "file's to %.2g",
        path,
        len(table.layers),
        result.accuracy,
        result.loss,
        len(test),
        difference,
    )
    with atomic_output(outputs["model"]) as temporary:
        save_model(converted, temporary)
    metrics = {
        "test_accuracy": result.accuracy,
        "test_loss": result.loss,
        "test_accuracy_per_class": {
            str(classes[int(unit)]): accuracy
            for unit, accuracy in accuracy_per_class(
                confusion_matrix(test.units, logits.argmax(axis=1), len(classes))
            ).items()
        },
        "classes": classes,
        "test_images": len(test),
        "weights_sha256": weights_sha256(converted.get_weights()),
        "model_file": str(path),
        "model_file_sha256": digest,
        "input_range": "bytes" if imported.takes_bytes else "unit",
        "layers": [
            {"name": layer.name, "kind": layer.kind, "output_shape": list(layer.output_shape)}
            for layer in table
        ],
        "largest_probability_difference": difference,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "numpy_version": np.__version__,
        "input_sha256": {
            FILES[key]: sha256_file(inputs[key]) for key in ("test_images", "test_labels")
        },
        "provenance": {"import_model": provenance()},
        "settings": {"model": model, "training": training},
    }
    write_json_atomic(outputs["metrics"], metrics)
    return metrics
