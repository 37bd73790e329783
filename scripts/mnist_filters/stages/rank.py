"""The ranking stage: the top-k test-set positions of every chosen filter, as a tidy CSV.

Reads activations.h5 chunk by chunk (no TensorFlow), keeping O(k) state per filter.
results/<data set>/{run}/rankings.csv has one row per (layer, filter, rank), strongest
first (ties: the lower image index, then row, then column); `read_rankings` is its one reader:
  layer, filter     the unit's layer and filter (channel) index
  rank              1 for the strongest
  image_index       the test image's index in the test file
  label             its true label
  row, col          the unit's position in the layer's feature map
  activation        the unit's activation on that image
  y0, x0, y1, x1    the unit's receptive field in the image's pixels, end-exclusive and
                    clipped to the image (the patch the figures cut out)
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass

import h5py
import numpy as np

from mnist_filters.atomic import write_text_atomic
from mnist_filters.network.geometry import Axis, Geometry
from mnist_filters.network.table import FILE_NAMES, OUTPUT
from mnist_filters.ranking import NonFiniteActivation, TopK

log = logging.getLogger(__name__)
COLUMNS = (
    "layer",
    "filter",
    "rank",
    "image_index",
    "label",
    "row",
    "col",
    "activation",
    "y0",
    "x0",
    "y1",
    "x1",
)
# the datasets of activations.h5 beside the layers'
NOT_LAYERS = (*FILE_NAMES, OUTPUT)
READ_BYTES = 16 << 20  # read whole chunks, about this many bytes at a time


@dataclass(frozen=True)
class RankedUnit:
    """One row of rankings.csv. `number`: the row's place in the file (0-based, header excluded)."""

    number: int
    layer: str
    filter: int
    rank: int
    image_index: int  # the test image's index in the test file
    label: int
    row: int
    col: int
    activation: float
    box: tuple[
        int, int, int, int
    ]  # the receptive field inside the image: y0, x0, y1, x1 (ends excluded)


def read_rankings(path: str) -> dict[tuple[str, int], list[RankedUnit]]:
    """rankings.csv's rows by (layer, filter), in the file's order, each filter's in rank order."""
    by_filter: dict[tuple[str, int], list[RankedUnit]] = {}
    with open(path, newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            unit = RankedUnit(
                number,
                row["layer"],
                *(int(row[k]) for k in COLUMNS[1:7]),
                float(row["activation"]),
                tuple(int(row[k]) for k in COLUMNS[8:]),
            )
            by_filter.setdefault((unit.layer, unit.filter), []).append(unit)
    for units in by_filter.values():
        units.sort(key=lambda unit: unit.rank)
    return by_filter


def geometry_of(dataset: h5py.Dataset) -> Geometry:
    attrs = dataset.attrs
    size, jump, start, lengths = (
        list(map(int, attrs[key]))
        for key in ("receptive_field_size", "jump", "start", "output_shape")
    )
    return Geometry(
        Axis(size[0], jump[0], start[0], lengths[0]),
        Axis(size[1], jump[1], start[1], lengths[1]),
        str(attrs["padding"]),
    )


def blocks(dataset: h5py.Dataset):
    """Successive (n, H, W, C) slabs made of whole chunks."""
    chunk = dataset.chunks[0] if dataset.chunks else 1
    row_bytes = dataset.dtype.itemsize * int(np.prod(dataset.shape[1:]))
    step = max(chunk, READ_BYTES // row_bytes // chunk * chunk)
    for start in range(0, dataset.shape[0], step):
        yield dataset[start : start + step]


def rank_patches(
    activations: str,
    output: str,
    *,
    layers: list[str],
    filters: list[int] | None,
    top_k: int,
    one_per_image: bool,
) -> int:
    """Write rankings.csv; return its number of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows = 0
    with h5py.File(activations, "r") as h5:
        image_index = h5["image_index"][:]
        labels = h5["labels"][:]
        image_shape = tuple(int(v) for v in h5.attrs["image_shape"])
        for layer in layers:
            if layer not in h5:
                raise ValueError(
                    f"{activations}: holds no activations of layer '{layer}' "
                    f"(it has {', '.join(k for k in h5 if k not in NOT_LAYERS)})"
                )
            dataset = h5[layer]
            channels = dataset.shape[-1]
            chosen = list(range(channels)) if filters is None else list(filters)
            bad = [f for f in chosen if not 0 <= f < channels]
            if bad:
                raise ValueError(
                    f"ranking.filters: {bad} out of range for layer {layer} with {channels} filters"
                )
            geometry = geometry_of(dataset)
            ranker = TopK(top_k, chosen, dataset.shape[1:3], one_per_image)
            try:
                for block in blocks(dataset):
                    ranker.update(block)
            except NonFiniteActivation as error:
                raise ValueError(
                    f"{activations}: layer {layer}, filter {error.filter} has activation "
                    f"{error.value} "
                    f"(test image {int(image_index[error.image])}): the model diverged, so there "
                    f"is nothing "
                    "to rank; retrain it with a lower learning rate"
                ) from None
            for hit in ranker.hits():
                y0, x0, y1, x1 = geometry.box(hit.row, hit.col, image_shape)
                writer.writerow(
                    [
                        layer,
                        hit.filter,
                        hit.rank,
                        int(image_index[hit.image]),
                        int(labels[hit.image]),
                        hit.row,
                        hit.col,
                        f"{hit.activation:.9g}",
                        y0,
                        x0,
                        y1,
                        x1,
                    ]
                )
                rows += 1
            log.info("ranked %d filters of %s", len(chosen), layer)
    write_text_atomic(output, buffer.getvalue())
    return rows
