"""Feature visualisation by optimisation (Erhan et al. 2009; Simonyan et al. 2013; Yosinski et
al. 2015; Olah et al. 2017): the input each unit responds to most.

For each chosen layer, every chosen unit gets its own image(s), all in one batch, and Adam
raises each image's objective:

- conv1, conv2 (`objective: channel`): the mean over positions of the filter's map;
  (`objective: neuron`): the filter at the map's centre, row (H - 1) // 2, column (W - 1) // 2;
- fc1, logits: the unit itself (a logit is a class score before the softmax: Simonyan's class
  models).

Every objective is taken before the layer's ReLU, where a dead unit still has a gradient; where
it is positive it equals the activation. The image stays inside the data's pixel range: with
`pixel` its parameters are its pixels, clipped into [0, 1] after every step (projected gradient
ascent, which reaches the box's corners exactly); with `fourier` it is the sigmoid of the inverse
real FFT of a spectrum scaled by 1 / frequency (Lucid's `fft_image`: Olah et al.'s decorrelated
space). A colour image's field is in decorrelated colours too: before the sigmoid, the square
root of the test images' colour covariance (colour_mixing in network/optimised_inputs.py, the
data's own where Lucid uses ImageNet's) mixes them into RGB. The loss of each image is

    -objective / s + l2 * mean((x - background)^2) + total_variation * mean(|x_i - x_j|)

with x on the [0, 1] scale, neighbours i, j, and s the layer's largest best test value (below),
so that one regulariser weight means the same in every layer. With diversity, each unit's
images add `diversity.weight` times their mean pairwise cosine similarity (of x - background).
At each step, before the model sees them, the images are shifted by whole pixels, rotated and
scaled at random (the invariance stage's bilinear transform, with an exact gradient); every
`blur.every` steps the image (`pixel`) or its field before the sigmoid (`fourier`) is blurred.
The start and the random draws come from `seed`: the same settings give bitwise the same file.

For comparison, the same objective is evaluated on every test image (the stage computes it:
activations.h5 holds only the dumped layers, after their ReLU). Every test image lies inside
the pixel box, so with the regularisers and transformations off the optimum is at least the
best of them.

results/<data set>/{run}/features.h5:
  attrs: settings (JSON of the run's feature_visualisation block), background (the data set's
         commonest test pixel value, 0-255), image_shape; for colour images, colour_mixing
         (3, 3: RGB = decorrelated colours @ its transpose)
  /<layer>                     a group per visualised layer; attrs: objective_kind (channel, neuron,
                               or unit), position ([row, column] of the neuron objective, else
                               absent), layer_units (units the layer has), scale (s above)
    units          int64 (u,): the visualised units' indices in the layer
    unit_names     string (u,): logits only: each unit's class name
    images         float32 (u, H, W; and 3 for colour, R G B): each unit's optimised image
                   in the data's pixel units (0-255, as the IDX files); with diversity, its
                   first image
    objective      float64 (u,): the objective each image reaches at the end (untransformed)
    trace          float64 (u, t): the objective along the way, at trace_steps
    trace_steps    int64 (t,): the optimiser steps of trace's columns (0: the starting image)
    best_test_value  float64 (u,): the largest objective any test image gives the unit
    best_test_index  int64 (u,): that image's index in the test file
    diverse_images float32 (u, d, H, W[, 3]), diverse_objective float64 (u, d): with
                   diversity.images d > 1, every image of each unit and its objective
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

import h5py
import numpy as np

from mnist_filters.atomic import atomic_output
from mnist_filters.dataset import (
    NUM_CLASSES,
    background_value,
    load_split,
    of_classes,
    run_classes,
    to_model_input,
)
from mnist_filters.network.model_file import image_shape_of, load_trained_model
from mnist_filters.network.optimised_inputs import colour_mixing, trace_steps, visualise_layer
from mnist_filters.tensorflow_setup import configure_tensorflow

log = logging.getLogger(__name__)


def visualise_features(
    model_path: str,
    test_images: str,
    output: str,
    *,
    settings: dict,
    test_labels: str,
    class_names: Sequence[str],
    classes: Sequence[int] | None = None,
    num_classes: int = NUM_CLASSES,
    threads: int = 1,
) -> None:
    """Write features.h5 (see the module's docstring) for `settings`, a run's
    feature_visualisation block; `class_names`: the data set's name of each label;
    `classes`: the run's training.classes, whose test images alone give the best test values
    (None: all)."""
    configure_tensorflow(threads, "float32")
    model = load_trained_model(model_path)
    split = load_split(test_images, test_labels, image_shape_of(model), num_classes)
    test = split.images
    background = background_value(test)
    members = of_classes(split.labels, classes)
    test = test[members]
    inputs = to_model_input(test)
    names = [class_names[label] for label in run_classes(classes, num_classes)]
    mixing = colour_mixing(inputs) if inputs.shape[3] > 1 else None
    results = {}
    for layer in settings["layers"]:
        started = time.perf_counter()
        results[layer] = visualise_layer(model, layer, settings, background / 255.0, inputs, mixing)
        visualisation, best, _, _, found = results[layer]
        log.info(
            "%s: %d units x %d images, %d steps in %.1f s; objective above the best test value "
            "for %d of %d",
            layer,
            len(visualisation.units),
            visualisation.copies,
            settings["steps"],
            time.perf_counter() - started,
            int((found["objective"][:: visualisation.copies] >= best).sum()),
            len(best),
        )
    with atomic_output(output) as temporary, h5py.File(temporary, "w") as h5:
        h5.attrs["settings"] = json.dumps(settings, sort_keys=True)
        h5.attrs["background"] = background
        h5.attrs["image_shape"] = np.asarray(test.shape[1:], np.int64)
        if mixing is not None:
            h5.attrs["colour_mixing"] = mixing
        for layer, (visualisation, best, best_index, scale, found) in results.items():
            # the output layer's units are the classes: they carry their names
            unit_names = names if layer == model.layers[-1].name else None
            write_layer(
                h5, layer, visualisation, best, members[best_index], scale, found, unit_names
            )


def write_layer(h5, layer, visualisation, best, best_index, scale, found, names) -> None:
    """`best_index`: in the test file; `names`: each unit's class name, for the output layer
    (None for any other)."""
    copies = visualisation.copies
    group = h5.create_group(layer)
    group.attrs["objective_kind"] = visualisation.kind
    if visualisation.position is not None:
        group.attrs["position"] = np.asarray(visualisation.position, np.int64)
    group.attrs["layer_units"] = visualisation.layer_units
    group.attrs["scale"] = scale
    colour = () if visualisation.channels == 1 else (visualisation.channels,)
    shape = (len(visualisation.units), copies, *visualisation.image_shape, *colour)
    pixels = "row, column" + (", channel (R, G, B)" if colour else "")
    images = (found["images"] * 255.0).astype(np.float32).reshape(shape)
    objective = found["objective"].reshape(shape[:2])
    trace = found["trace"].reshape(*shape[:2], -1)
    group["units"] = visualisation.units
    if names is not None:
        group["unit_names"] = np.array([names[u] for u in visualisation.units], dtype="S")
    group["images"] = images[:, 0]
    group["images"].attrs["axes"] = f"unit, {pixels}; pixel values 0-255"
    group["objective"] = objective[:, 0]
    group["trace"] = trace[:, 0]
    group["trace"].attrs["axes"] = "unit, trace step"
    group["trace_steps"] = np.asarray(trace_steps(visualisation.settings["steps"]), np.int64)
    group["best_test_value"] = best
    group["best_test_index"] = best_index
    if copies > 1:
        group["diverse_images"] = images
        group["diverse_images"].attrs["axes"] = f"unit, image, {pixels}; pixel values 0-255"
        group["diverse_objective"] = objective
