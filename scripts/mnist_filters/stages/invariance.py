"""Invariance (Zeiler & Fergus, Fig. 5): how much the features and the output change when a
test image is shifted, rotated or scaled.

For a sample of test images, each transformation is applied at each value of its range
with Keras's own `keras.ops.image.affine_transform` (bilinear; what comes in from outside
the image is the data set's background, its commonest pixel value). For each chosen layer
the distance between the original's and the transformed image's feature vectors is

    ||f(transformed) - f(original)|| / ||f(original)||   (Euclidean, the whole layer flattened),

0 for an unchanged feature vector and 1 for a change as large as the vector itself (and 0
when both vectors are zero). The model's softmax probability of the true label is recorded
beside it.

results/<data set>/{run}/invariance.csv: one row per (transformation, value, image):
`transformation` (vertical_shift and horizontal_shift in pixels, down and right positive;
rotation in degrees, anticlockwise positive; scale, a factor about the image's centre),
`value`, `test_index`, `label`, `<layer>_distance` per layer, `probability_label`, `predicted`.
results/<data set>/{run}/invariance_examples.h5: the first sampled image as the model saw it
at each value, one float32 dataset (values, H, W) in [0, 1] per transformation, with the
values and the test index as attributes.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence

import h5py
import numpy as np

from mnist_filters.atomic import atomic_output, write_text_atomic
from mnist_filters.classification import softmax
from mnist_filters.dataset import (
    NUM_CLASSES,
    background_value,
    load_split,
    of_classes,
    run_classes,
    to_model_input,
    units_of,
)
from mnist_filters.image_transforms import TRANSFORMATIONS, inverse_matrix
from mnist_filters.network.model_file import image_shape_of, load_trained_model
from mnist_filters.network.probe import Probe
from mnist_filters.tensorflow_setup import configure_tensorflow

log = logging.getLogger(__name__)


def transform_values(setting: dict) -> np.ndarray:
    """The values a {min, max, count} range setting stands for, evenly spaced, ends included
    (to 10 significant digits: 1.2, not linspace's 1.2000000000000002)."""
    return np.array(
        [float(f"{v:.10g}") for v in np.linspace(setting["min"], setting["max"], setting["count"])]
    )


def affine(images, transforms, fill: float):
    """(N, H, W, 1) images, as Keras tensors, each read through its row of `transforms` ((N, 8):
    a 3x3 inverse map's first eight entries) by Keras's affine_transform (bilinear, constant
    `fill`). Differentiable with respect to the images."""
    import keras

    return keras.ops.image.affine_transform(
        images,
        transforms,
        interpolation="bilinear",
        fill_mode="constant",
        fill_value=fill,
        data_format="channels_last",
    )


def transformed(images: np.ndarray, transformation: str, value: float, fill: float) -> np.ndarray:
    """(N, H, W, 1) model inputs transformed by `transformation` at `value`."""
    matrix = inverse_matrix(transformation, value, images.shape[1:3])
    transform = np.tile(
        np.concatenate([matrix[0], matrix[1], matrix[2, :2]]).astype(np.float32), (len(images), 1)
    )
    return np.asarray(affine(images, transform, fill))


def relative_distance(original: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """Per row: ||changed - original|| / ||original|| over all but the first axis (0 where both
    are 0)."""
    flat_original = original.reshape(len(original), -1).astype(np.float64)
    difference = np.linalg.norm(changed.reshape(len(changed), -1) - flat_original, axis=1)
    norm = np.linalg.norm(flat_original, axis=1)
    return np.divide(difference, norm, out=np.where(difference == 0, 0.0, np.inf), where=norm > 0)


def sampled_images(test_count: int, count: int, seed: int) -> np.ndarray:
    """`count` test indices drawn without replacement by `seed`, ascending."""
    if count > test_count:
        raise ValueError(f"invariance.images is {count} but the test set has {test_count} images")
    return np.sort(np.random.default_rng(seed).choice(test_count, count, replace=False))


def measure_invariance(
    model_path: str,
    test_images: str,
    test_labels: str,
    output: str,
    examples: str,
    *,
    images: int,
    seed: int,
    ranges: dict[str, dict],
    layers: Sequence[str],
    batch_size: int,
    classes: Sequence[int] | None = None,
    num_classes: int = NUM_CLASSES,
    threads: int = 1,
) -> None:
    """Write invariance.csv and its examples (see the module's docstring). `ranges`: transformation
    ->
    {min, max, count}; `classes`: the run's training.classes, whose test images alone are
    drawn from (None: all)."""
    configure_tensorflow(threads, "float32")
    model = load_trained_model(model_path)
    split = load_split(test_images, test_labels, image_shape_of(model), num_classes)
    test, labels = split.images, split.labels.astype(np.int64)
    members = of_classes(labels, classes)
    chosen = members[sampled_images(len(members), images, seed)]
    units = units_of(labels[chosen], classes)
    unit_labels = np.array(run_classes(classes, num_classes))
    fill = background_value(test) / 255.0
    originals = to_model_input(test[chosen])
    probe = Probe(model, list(layers))
    reference, _ = probe(originals, batch_size)

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "transformation",
            "value",
            "test_index",
            "label",
            *(f"{layer}_distance" for layer in layers),
            "probability_label",
            "predicted",
        ]
    )
    shown = {}
    for transformation in TRANSFORMATIONS:
        shown[transformation] = []
        for value in transform_values(ranges[transformation]):
            inputs = transformed(originals, transformation, float(value), fill)
            shown[transformation].append(inputs[0, :, :, 0])
            features, logits = probe(inputs, batch_size)
            distances = [relative_distance(reference[layer], features[layer]) for layer in layers]
            probability = softmax(logits)[np.arange(len(chosen)), units]
            for row, index in enumerate(chosen):
                writer.writerow(
                    [
                        transformation,
                        repr(float(value)),
                        int(index),
                        int(labels[index]),
                        *(repr(float(d[row])) for d in distances),
                        repr(float(probability[row])),
                        int(unit_labels[logits[row].argmax()]),
                    ]
                )
        log.info(
            "%s: %d values x %d images",
            transformation,
            ranges[transformation]["count"],
            len(chosen),
        )
    with atomic_output(examples) as temporary, h5py.File(temporary, "w") as h5:
        for transformation, copies in shown.items():
            dataset = h5.create_dataset(transformation, data=np.stack(copies))
            dataset.attrs["values"] = transform_values(ranges[transformation])
            dataset.attrs["description"] = (
                f"test image {int(chosen[0])} at each {transformation} value, in [0, 1]"
            )
        h5.attrs["test_index"] = int(chosen[0])
    write_text_atomic(output, buffer.getvalue())
