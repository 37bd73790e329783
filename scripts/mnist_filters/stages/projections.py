"""The projection stage: every ranked unit of rankings.csv projected back to pixels.

Layout of results/<data set>/{run}/projections.h5:
  /<layer>/<method>   float32 (that layer's rows of rankings.csv, in the file's order;
                      receptive-field rows; receptive-field cols; and for colour images,
                      channels, R G B): d unit / d pixel over the unit's whole receptive field,
                      zero where the field leaves the image
  /<layer>/field_origin  int64 (the same rows, 2): input pixel (y, x) where each field begins
File attributes: model_sha256, methods, tool_version. Each dataset: layer, method,
receptive_field_size, and `rows`: which rows of rankings.csv (0-based, header excluded).
"""

from __future__ import annotations

import logging

import h5py
import numpy as np

from mnist_filters import __version__
from mnist_filters.atomic import atomic_output
from mnist_filters.dataset import sha256_file, to_model_input
from mnist_filters.idx import read_idx
from mnist_filters.network.backprojection import Network, crop_to_field, project
from mnist_filters.network.model_file import load_trained_model, table_of
from mnist_filters.progress import stage_progress
from mnist_filters.runlog import terminal
from mnist_filters.stages.rank import read_rankings
from mnist_filters.tensorflow_setup import configure_tensorflow

log = logging.getLogger(__name__)


def ranked_units(rankings: str) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per layer, in the file's order: its rows' numbers in rankings.csv, (image, row, col, filter)
    and
    (y0, x0, y1, x1)."""
    by_layer: dict[str, list] = {}
    for (layer, _), units in read_rankings(rankings).items():
        by_layer.setdefault(layer, []).extend(units)
    for units in by_layer.values():
        units.sort(key=lambda unit: unit.number)
    return {
        layer: (
            np.array([u.number for u in units]),
            np.array([(u.image_index, u.row, u.col, u.filter) for u in units]),
            np.array([u.box for u in units]),
        )
        for layer, units in by_layer.items()
    }


def project_patches(
    model_path: str,
    test_images: str,
    rankings: str,
    output: str,
    *,
    layers: list[str],
    methods: list[str],
    batch_size: int,
    image_shape=(28, 28),
    threads: int = 1,
    run: str = "",
) -> None:
    """`run` names the progress lines the terminal gets when the projections take more than a few
    seconds."""
    configure_tensorflow(threads, "float32")

    model = load_trained_model(model_path)
    network = Network.of(model)
    geometry = {layer.name: layer.geometry for layer in table_of(model)}
    images = read_idx(test_images)
    units_by_layer = ranked_units(rankings)
    missing = [layer for layer in layers if layer not in units_by_layer]
    if missing:
        raise ValueError(
            f"{rankings} ranks no unit of {', '.join(missing)} (it ranks "
            f"{', '.join(units_by_layer) or 'nothing'}); add the layer to activations.layers"
        )
    total = sum(len(units_by_layer[layer][0]) for layer in layers) * len(methods)
    progress = stage_progress(run, "project_patches", total, terminal())
    finished = 0

    def report(done_in_call):
        progress.count(finished + done_in_call, "projected patches")

    with atomic_output(output) as temporary, h5py.File(temporary, "w") as h5:
        for layer in layers:
            numbers, units, boxes = units_by_layer[layer]
            field = geometry[layer]
            starts = np.column_stack(
                [
                    field.rows.start + units[:, 1] * field.rows.jump,
                    field.cols.start + units[:, 2] * field.cols.jump,
                ]
            )
            origin = h5.create_dataset(f"{layer}/field_origin", data=starts.astype(np.int64))
            origin.attrs["description"] = (
                "input pixel (y, x) where each unit's receptive field begins "
                "(negative: before the image)"
            )
            inputs = to_model_input(images[units[:, 0]])
            for method in methods:
                maps = project(network, inputs, layer, units, method, batch_size, on_batch=report)
                finished += len(units)
                dataset = h5.create_dataset(
                    f"{layer}/{method}",
                    data=crop_to_field(maps, boxes, (field.rows.size, field.cols.size), starts),
                )
                dataset.attrs.update(
                    {
                        "layer": layer,
                        "method": method,
                        "rows": numbers,
                        "receptive_field_size": [field.rows.size, field.cols.size],
                    }
                )
                log.info("projected %d units of %s (%s)", len(units), layer, method)
        h5.attrs["model_sha256"] = sha256_file(model_path)
        h5.attrs["methods"] = list(methods)
        h5.attrs["tool_version"] = f"mnist-filters {__version__}"
