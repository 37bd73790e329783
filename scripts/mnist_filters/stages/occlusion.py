"""Occlusion sensitivity (Zeiler & Fergus, Fig. 7): a square slid over chosen test images.

For each chosen image, the occluder (`size` pixels square, filled with `fill`) is placed at
every position `stride` pixels apart that keeps it inside the image, and at each position
the model gives the probability of the true label, its most probable label, and the total
activation of one feature map: the map of `layer` that holds the image's largest single
activation when nothing is occluded (the paper's "strongest feature map").

Layout of results/<data set>/{run}/occlusion.h5 (n images, ny x nx occluder positions):
  /test_index          int64 (n,): the image's index in the test file
  /label               int64 (n,): its true label
  /occluder_rows       int64 (ny,): first image row the occluder covers at each position
  /occluder_cols       int64 (nx,): first image column it covers
  /probability_label   float64 (n, ny, nx): softmax probability of the true label
  /predicted           int64 (n, ny, nx): most probable label
  /map_total           float64 (n, ny, nx): sum of the strongest map's activations
  /strongest_filter    int64 (n,): which map of `layer` that is
  /strongest_unit      int64 (n, 2): its (row, col) of largest activation, unoccluded
  /unoccluded/probability_label, /unoccluded/predicted, /unoccluded/map_total  (n,)
  /projection          float32 (n, H, W; and C for colour): the deconvnet projection of
                       that unit on the unoccluded image (d unit / d pixel, ReLUs passing
                       relu(g))
File attributes: layer, size, stride, fill (pixel value, 0-255), model_sha256, tool_version.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import h5py
import numpy as np

from mnist_filters import __version__
from mnist_filters.atomic import atomic_output
from mnist_filters.classification import softmax
from mnist_filters.dataset import (
    NUM_CLASSES,
    background_value,
    load_split,
    of_classes,
    run_classes,
    sha256_file,
    to_model_input,
    units_of,
)
from mnist_filters.network.model_file import image_shape_of, load_trained_model
from mnist_filters.network.probe import Probe
from mnist_filters.stages.mistakes import read_mistakes
from mnist_filters.tensorflow_setup import configure_tensorflow

log = logging.getLogger(__name__)
# Without `occlusion.images`: this many of the most confident mistakes, and as many of the
# first correctly classified test images.
DEFAULT_MISTAKES = DEFAULT_CORRECT = 4


def occluder_origins(length: int, size: int, stride: int) -> np.ndarray:
    """First covered pixel of each occluder position along an axis of `length` pixels."""
    if not 1 <= size <= length:
        raise ValueError(f"an occluder of {size} pixels does not fit an image of {length}")
    return np.arange(0, length - size + 1, stride, dtype=np.int64)


def occluded(
    image: np.ndarray, rows: np.ndarray, cols: np.ndarray, size: int, fill: float
) -> np.ndarray:
    """(len(rows) * len(cols), H, W) copies of `image` (H, W), each with one square set to `fill`,
    row-major over the positions."""
    copies = np.repeat(image[None], len(rows) * len(cols), axis=0)
    for i, (y, x) in enumerate((y, x) for y in rows for x in cols):
        copies[i, y : y + size, x : x + size] = fill
    return copies


def chosen_images(
    mistakes_csv: str, members: np.ndarray, indices: Sequence[int] | None, count: int
) -> list[int]:
    """The test indices to occlude: `indices` when given, else the most confident mistakes
    and the first correctly classified images (DEFAULT_MISTAKES, DEFAULT_CORRECT). `members`:
    the indices of the run's classes' test images, of the `count` in the file."""
    if indices is not None:
        bad = [i for i in indices if not 0 <= i < count]
        if bad:
            raise ValueError(
                f"occlusion.images: {bad} out of range: the test set has {count} images (0 to "
                f"{count - 1})"
            )
        other = sorted(set(indices) - set(members.tolist()))
        if other:
            raise ValueError(
                f"occlusion.images: test images {other} are not of the run's training.classes"
            )
        return list(indices)
    mistakes = [m["image_index"] for m in read_mistakes(mistakes_csv)]
    wrong = set(mistakes)
    correct = [int(i) for i in members if i not in wrong][:DEFAULT_CORRECT]
    return mistakes[:DEFAULT_MISTAKES] + correct


def occlude(
    model_path: str,
    test_images: str,
    test_labels: str,
    mistakes_csv: str,
    output: str,
    *,
    images: Sequence[int] | None,
    size: int,
    stride: int,
    fill: float | None,
    layer: str,
    batch_size: int,
    classes: Sequence[int] | None = None,
    num_classes: int = NUM_CLASSES,
    threads: int = 1,
) -> None:
    """Write occlusion.h5 (see the module's docstring). `fill`: None for the data set's
    background; `classes`: the run's training.classes (None: all)."""
    configure_tensorflow(threads, "float32")
    from mnist_filters.network.backprojection import Network, project

    model = load_trained_model(model_path)
    split = load_split(test_images, test_labels, image_shape_of(model), num_classes)
    test, labels = split.images, split.labels.astype(np.int64)
    chosen = chosen_images(mistakes_csv, of_classes(labels, classes), images, len(test))
    units = units_of(labels[chosen], classes)  # each chosen image's true label's unit
    unit_labels = np.array(run_classes(classes, num_classes))
    fill = background_value(test) if fill is None else fill
    height, width = test.shape[1:3]
    rows, cols = occluder_origins(height, size, stride), occluder_origins(width, size, stride)
    probe = Probe(model, [layer])
    n, grid = len(chosen), (len(rows), len(cols))
    results = {
        key: np.zeros((n, *grid), dtype)
        for key, dtype in (
            ("probability_label", np.float64),
            ("predicted", np.int64),
            ("map_total", np.float64),
        )
    }
    unoccluded = {key: np.zeros(n, values.dtype) for key, values in results.items()}
    strongest_filter, strongest_unit = np.zeros(n, np.int64), np.zeros((n, 2), np.int64)
    projections = np.zeros((n, *test.shape[1:]), np.float32)
    network = Network.of(model)
    for i, index in enumerate(chosen):
        image = test[index].astype(np.float32)
        # The unoccluded image first, in the same batches as its occluded copies.
        batch = to_model_input(
            np.concatenate([image[None], occluded(image, rows, cols, size, fill)])
        )
        maps, logits = probe(batch, batch_size)
        maps = maps[layer]
        row, col, f = np.unravel_index(int(maps[0].argmax()), maps[0].shape)
        strongest_filter[i], strongest_unit[i] = f, (row, col)
        totals = maps[..., f].sum(axis=(1, 2), dtype=np.float64)
        probability = softmax(logits)[:, units[i]]
        predicted = unit_labels[logits.argmax(axis=1)]
        for key, values in (
            ("probability_label", probability),
            ("predicted", predicted),
            ("map_total", totals),
        ):
            unoccluded[key][i] = values[0]
            results[key][i] = values[1:].reshape(grid)
        projections[i] = project(
            network, batch[:1], layer, np.array([[0, row, col, f]]), "deconvnet"
        )[0]
        log.info(
            "occluded test image %d (label %d) at %d positions",
            index,
            labels[index],
            rows.size * cols.size,
        )

    with atomic_output(output) as temporary, h5py.File(temporary, "w") as h5:

        def put(name, data, description):
            h5.create_dataset(name, data=data).attrs["description"] = description

        put("test_index", np.array(chosen, np.int64), "the image's index in the test file")
        put("label", labels[chosen], "the image's true label")
        put("occluder_rows", rows, "first image row the occluder covers, per position")
        put("occluder_cols", cols, "first image column the occluder covers, per position")
        put(
            "probability_label",
            results["probability_label"],
            "softmax probability of the true label (image, row, col)",
        )
        put(
            "predicted",
            results["predicted"],
            "most probable label (image, occluder row, occluder col)",
        )
        put(
            "map_total",
            results["map_total"],
            f"sum of the strongest {layer} map's activations (image, row, col)",
        )
        put(
            "strongest_filter",
            strongest_filter,
            f"the {layer} map with the image's largest activation, unoccluded",
        )
        put("strongest_unit", strongest_unit, "(row, col) of that largest activation")
        for key, description in (
            ("probability_label", "softmax probability of the true label"),
            ("predicted", "most probable label"),
            ("map_total", "sum of the strongest map's activations"),
        ):
            put(f"unoccluded/{key}", unoccluded[key], f"{description}, nothing occluded")
        put(
            "projection",
            projections,
            "deconvnet projection of the strongest unit on the unoccluded image",
        )
        h5.attrs.update(
            {
                "layer": layer,
                "size": size,
                "stride": stride,
                "fill": fill,
                "model_sha256": sha256_file(model_path),
                "tool_version": f"mnist-filters {__version__}",
            }
        )
