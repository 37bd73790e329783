"""Features through training (Zeiler & Fergus, Fig. 4): each filter's strongest test-set patch
at each of the training steps whose weights training kept (snapshots.h5).

For each kept step, conv1's and conv2's weights are set into the trained model's layers and
the whole test set is ranked with the ranking stage's own code (top 1 per filter, the same
ties: lower image index, then lower row and column).

results/<data set>/{run}/evolution.csv: one row per (layer, filter, step): `layer`, `filter`,
`step` (optimiser steps taken; 0: the initial weights), `image_index` (in the test file),
`label`, `row`, `col` (the unit), `activation`, and the unit's receptive field in the
image `y0`, `x0`, `y1`, `x1` (end-exclusive, clipped), as in rankings.csv.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence

from mnist_filters.atomic import write_text_atomic
from mnist_filters.dataset import NUM_CLASSES, load_split, of_classes, to_model_input
from mnist_filters.formats.snapshots import EVOLUTION_COLUMNS, read_snapshots
from mnist_filters.network.model_file import image_shape_of, load_trained_model, table_of
from mnist_filters.network.probe import Probe
from mnist_filters.ranking import TopK
from mnist_filters.tensorflow_setup import configure_tensorflow

log = logging.getLogger(__name__)


def trace_evolution(
    model_path: str,
    snapshots: str,
    test_images: str,
    test_labels: str,
    output: str,
    *,
    layers: list[str],
    batch_size: int,
    classes: Sequence[int] | None = None,
    num_classes: int = NUM_CLASSES,
    threads: int = 1,
) -> None:
    """`classes`: the run's training.classes, whose test images alone are ranked (None: all)."""
    configure_tensorflow(threads, "float32")
    model = load_trained_model(model_path)
    test = load_split(test_images, test_labels, image_shape_of(model), num_classes)
    images, labels = test.images, test.labels
    members = of_classes(labels, classes)
    images, labels = images[members], labels[members]
    geometry = {layer.name: layer.geometry for layer in table_of(model)}
    steps, weights = read_snapshots(snapshots)
    probe = Probe(model, layers)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EVOLUTION_COLUMNS)
    rows = []
    for i, step in enumerate(steps):
        for name, values in weights.items():
            model.get_layer(name).set_weights(list(values[i]))
        rankers = {}
        for start in range(0, len(images), batch_size):
            maps, _ = probe(to_model_input(images[start : start + batch_size]), batch_size)
            for layer in layers:
                if layer not in rankers:
                    rankers[layer] = TopK(
                        1, list(range(maps[layer].shape[-1])), maps[layer].shape[1:3]
                    )
                rankers[layer].update(maps[layer])
        for layer in layers:
            for hit in rankers[layer].hits():
                box = geometry[layer].box(hit.row, hit.col, images.shape[1:])
                rows.append(
                    (
                        layer,
                        hit.filter,
                        step,
                        int(members[hit.image]),
                        int(labels[hit.image]),
                        hit.row,
                        hit.col,
                        f"{hit.activation:.9g}",
                        *box,
                    )
                )
        log.info("ranked the test set at step %d", step)
    rows.sort(key=lambda row: (layers.index(row[0]), row[1], row[2]))
    writer.writerows(rows)
    write_text_atomic(output, buffer.getvalue())
