"""The activation dump: test-set activations of chosen layers, streamed to one HDF5 file.

Layout of results/<data set>/{run}/activations.h5:
  /<layer>                 float32 (N, H, W, C): the layer's output (after its ReLU), chunked
                           by whole images, compressed as activations.compression says (lzf or
                           gzip level 1, with HDF5's shuffle filter; none: uncompressed).
                           Attributes: layer (its name), description, and its receptive field
                           in input pixels, per axis (rows, cols): receptive_field_size (the
                           pixels a unit sees), jump (pixels between neighbouring units),
                           start (first pixel of unit 0's field, negative under SAME padding),
                           output_shape (units), padding (the layer's own). Unit (r, c) sees
                           rows start[0] + r * jump[0] onwards, receptive_field_size[0] of them.
  /labels                  uint8 (N,) test labels, as the test file gives them
  /logits                  float32 (N, units) the model's outputs; unit j stands for the label
                           classes[j] (the file attribute), so classes[argmax] is the prediction
  /image_index             int64 (N,) row of the test file each activation row belongs to
                           (N: the test images of the run's classes, in file order)
  /weights/<layer>/kernel  a convolution's weights (the first convolution's always, for the
  /weights/<layer>/bias    filters figure; any dumped one's), so later stages never need
                           TensorFlow
Every dataset has a `description` attribute. File attributes: classes (the label of each
output unit: training.classes, or every label), model_sha256, test_images_sha256, settings
(JSON), tool_version, image_shape ([rows, cols], or [rows, cols, 3] for colour), threads
(the logits' last bits depend on it; `make verify` reuses it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import h5py
import numpy as np

from mnist_filters import __version__
from mnist_filters.atomic import atomic_output, require_room_to_finish, require_space
from mnist_filters.dataset import (
    NUM_CLASSES,
    check_images,
    check_labels,
    of_classes,
    run_classes,
    sha256_file,
    to_model_input,
)
from mnist_filters.errors import IdxFormatError
from mnist_filters.idx import iter_idx, read_idx
from mnist_filters.network.model_file import load_trained_model, table_of
from mnist_filters.network.probe import Probe
from mnist_filters.network.table import OUTPUT
from mnist_filters.progress import stage_progress
from mnist_filters.runlog import terminal
from mnist_filters.tensorflow_setup import configure_tensorflow

log = logging.getLogger(__name__)


def images_per_chunk(row_shape: tuple[int, ...], chunk_bytes: int) -> int:
    return max(1, chunk_bytes // (int(np.prod(row_shape)) * 4))


def dump_activations(
    model_path: str,
    test_images: str,
    test_labels: str,
    output: str,
    *,
    layers: list[str],
    batch_size: int,
    compression: str,
    chunk_bytes: int,
    classes: Sequence[int] | None = None,
    num_classes: int = NUM_CLASSES,
    image_shape=(28, 28),
    settings: dict | None = None,
    threads: int = 1,
    run: str = "",
) -> None:
    """`classes`: the run's training.classes, whose test images alone are dumped (None: all).
    `run` names the progress lines the terminal gets when the dump takes more than a few
    seconds."""
    configure_tensorflow(threads, "float32")
    model = load_trained_model(model_path)
    geometry = {layer.name: layer.geometry for layer in table_of(model)}
    probe = Probe(model, layers)
    # Labels are small; images are streamed a batch at a time, so memory stays flat.
    labels = read_idx(test_labels)
    check_labels(test_labels, labels, num_classes)
    image_batches = iter_idx(test_images, batch_size)
    dtype, dims = next(image_batches)
    check_images(test_images, np.empty((1, *dims[1:]), dtype), image_shape)
    if dims[0] != len(labels):
        raise IdxFormatError(
            test_labels, f"holds {len(labels)} labels but {test_images} holds {dims[0]} images"
        )
    index = of_classes(labels, classes)
    count = len(index)
    if not count:
        raise ValueError(f"{test_labels} holds no test image of the classes {list(classes)}")
    # float32 activations and logits, before compression: a file that big would not fit.
    uncompressed = count * 4 * sum(int(np.prod(shape)) for shape in probe.output_shapes)
    if compression == "none":
        require_space(output, uncompressed)
    compression_options = {
        "none": {},
        "lzf": {"compression": "lzf"},
        "gzip": {"compression": "gzip", "compression_opts": 1},
    }[compression]

    with atomic_output(output) as temporary, h5py.File(temporary, "w") as h5:
        datasets = {}
        for name, row_shape in zip(layers, probe.output_shapes):
            datasets[name] = h5.create_dataset(
                name,
                shape=(count, *row_shape),
                dtype="float32",
                chunks=(min(count, images_per_chunk(row_shape, chunk_bytes)), *row_shape),
                shuffle=compression != "none",
                **compression_options,
            )
            datasets[name].attrs.update(geometry[name].attributes())
            datasets[name].attrs["layer"] = name
            datasets[name].attrs["description"] = (
                f"test-set activations of layer {name} (image, row, col, filter); row r, col c "
                "sees the input pixels given by receptive_field_size, jump and start"
            )
        logits = h5.create_dataset(OUTPUT, shape=(count, *probe.output_shapes[-1]), dtype="float32")
        logits.attrs["description"] = (
            "the model's outputs before softmax; unit j stands for the label classes[j] (a file "
            "attribute), so classes[argmax] is the predicted label"
        )
        progress = stage_progress(run, "dump_activations", count, terminal())
        start = 0  # of the batch, in the file
        done = 0  # rows written
        for images in image_batches:
            rows = index[
                np.searchsorted(index, start) : np.searchsorted(index, start + len(images))
            ]
            start += len(images)
            if not len(rows):
                continue
            for dataset, values in zip(
                [*datasets.values(), logits],
                probe.batch(to_model_input(images[rows - (start - len(images))])),
            ):
                dataset[done : done + len(values)] = values
            done += len(rows)
            require_room_to_finish(temporary, output, done, count)
            progress.count(done, "images")
        h5.create_dataset("labels", data=labels[index]).attrs["description"] = (
            "the test label of each row"
        )
        h5.create_dataset("image_index", data=index.astype(np.int64)).attrs["description"] = (
            "the row of the test file each row of the activations belongs to"
        )
        table = table_of(model)
        for name in dict.fromkeys([table.first_convolution, *layers]):
            if name is None:
                continue
            layer = model.get_layer(name)
            if table[name].kind == "conv":
                h5.create_dataset(
                    f"weights/{name}/kernel", data=layer.kernel.numpy().astype(np.float32)
                ).attrs["description"] = f"{name}'s kernel (rows, cols, in channels, filters)"
                h5.create_dataset(
                    f"weights/{name}/bias", data=layer.bias.numpy().astype(np.float32)
                ).attrs["description"] = f"{name}'s bias (filters)"
        h5.attrs["classes"] = run_classes(classes, num_classes)
        h5.attrs["model_sha256"] = sha256_file(model_path)
        h5.attrs["test_images_sha256"] = sha256_file(test_images)
        h5.attrs["settings"] = json.dumps(settings or {}, sort_keys=True)
        h5.attrs["tool_version"] = f"mnist-filters {__version__}"
        h5.attrs["image_shape"] = list(image_shape)
        # The logits' last bits depend on it (the dense layers' sums are split by thread).
        h5.attrs["threads"] = threads
    log.info("dumped %s for %d test images to %s", ", ".join(layers), count, output)
