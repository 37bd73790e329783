"""CIFAR-10's `cifar-10-python.tar.gz`, read without unpickling arbitrary objects.

The archive (https://www.cs.toronto.edu/~kriz/cifar.html) holds, under cifar-10-batches-py/,
five training batches `data_batch_1` .. `data_batch_5`, `test_batch` and `batches.meta`:
Python 2 pickles of plain dicts. A batch's b"data" is a uint8 array (10000, 3072), each row
an image's 1024 red, then 1024 green, then 1024 blue values, row by row; b"labels" a list
of ints 0-9. batches.meta's b"label_names" lists the ten class names.

A pickle can name any callable to run while it loads, so the reader's unpickler resolves
only the names a NumPy array needs (numpy's _reconstruct, ndarray and dtype, and
codecs.encode, through which Python 3 writes bytes at protocol 2) and refuses every other:
a doctored archive stops with the name it tried, and runs nothing. Members are read from
the archive in memory, never extracted, so no path inside it can write anywhere.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from mnist_filters.errors import ConfigError

FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META = "batches.meta"
SIDE = 32
CLASSES = 10

try:  # NumPy 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # NumPy 1
    from numpy.core.multiarray import _reconstruct

# The globals a pickled NumPy array refers to, under NumPy 1's and NumPy 2's module names,
# and the one Python 3 writes bytes through at protocol 2: nothing else resolves.
_ARRAY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _ArraysOnly(pickle.Unpickler):
    def __init__(self, handle, where: str):
        super().__init__(handle, encoding="bytes")
        self.where = where

    def find_class(self, module: str, name: str):
        if (module, name) in _ARRAY_GLOBALS:
            return _ARRAY_GLOBALS[module, name]
        raise ConfigError(
            f"{self.where}: refers to {module}.{name}; a CIFAR batch holds only dicts, lists "
            "and NumPy arrays, so it is not read (nothing in it was run)"
        )


def _load(archive: tarfile.TarFile, path: str, member: str) -> dict:
    where = f"{path}: {FOLDER}/{member}"
    try:
        info = archive.getmember(f"{FOLDER}/{member}")
    except KeyError:
        raise ConfigError(f"{path}: no {FOLDER}/{member}; not CIFAR-10's python archive") from None
    handle = archive.extractfile(info) if info.isfile() else None
    if handle is None:
        raise ConfigError(f"{where}: not a file")
    try:
        loaded = _ArraysOnly(io.BytesIO(handle.read()), where).load()
    except ConfigError:
        raise
    except Exception as error:  # a truncated or foreign pickle: whatever it raises
        raise ConfigError(f"{where}: not a readable batch ({error})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{where}: holds a {type(loaded).__name__}, not a dict")
    return loaded


def _batch(archive: tarfile.TarFile, path: str, member: str) -> tuple[np.ndarray, np.ndarray]:
    where = f"{path}: {FOLDER}/{member}"
    batch = _load(archive, path, member)
    data, labels = batch.get(b"data"), batch.get(b"labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise ConfigError(f"{where}: b'data' is not a uint8 array of rows")
    if data.shape[1] != 3 * SIDE * SIDE:
        raise ConfigError(f"{where}: rows of {data.shape[1]} values, not 3x32x32 = 3072")
    labels = np.asarray(labels if labels is not None else [], dtype=np.int64)
    if labels.shape != (len(data),):
        raise ConfigError(f"{where}: {labels.size} labels for {len(data)} images")
    if labels.size and not (0 <= labels.min() and labels.max() < CLASSES):
        raise ConfigError(f"{where}: labels outside 0..{CLASSES - 1}")
    images = data.reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.uint8)


def read_archive(path: str | os.PathLike) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """(class names, arrays): train_images (N, 32, 32, 3) uint8 of the five training batches
    in order, train_labels, test_images, test_labels; ConfigError naming the archive and
    member on anything else."""
    path = Path(path)
    try:
        archive = tarfile.open(path, "r:gz")
    except (tarfile.TarError, OSError) as error:
        raise ConfigError(f"{path}: not a .tar.gz archive ({error})") from None
    with archive:
        meta = _load(archive, str(path), META)
        names = meta.get(b"label_names")
        if not isinstance(names, list) or len(names) != CLASSES:
            raise ConfigError(f"{path}: {FOLDER}/{META} does not list {CLASSES} label_names")
        classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
        train = [_batch(archive, str(path), member) for member in TRAIN_BATCHES]
        test_images, test_labels = _batch(archive, str(path), TEST_BATCH)
    return classes, {
        "train_images": np.concatenate([images for images, _ in train]),
        "train_labels": np.concatenate([labels for _, labels in train]),
        "test_images": test_images,
        "test_labels": test_labels,
    }


def write_archive(
    path: str | os.PathLike,
    classes: tuple[str, ...],
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
) -> Path:
    """An archive in CIFAR-10's exact layout (the training images split over five batches)
    of (N, 32, 32, 3) uint8 images and their labels: for tests and for users who convert
    their own images to it."""
    path = Path(path)

    def batch(label: str, images: np.ndarray, labels: np.ndarray) -> bytes:
        rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
        content = {
            b"batch_label": label.encode(),
            b"labels": [int(v) for v in labels],
            b"data": np.ascontiguousarray(rows, np.uint8),
            b"filenames": [f"image_{i:05d}.png".encode() for i in range(len(images))],
        }
        return pickle.dumps(content, protocol=2)

    members = {
        META: pickle.dumps(
            {
                b"num_cases_per_batch": int(np.ceil(len(train[0]) / 5)),
                b"label_names": [name.encode() for name in classes],
                b"num_vis": 3 * SIDE * SIDE,
            },
            protocol=2,
        )
    }
    parts = np.array_split(np.arange(len(train[0])), 5)
    for number, (member, part) in enumerate(zip(TRAIN_BATCHES, parts), start=1):
        members[member] = batch(f"training batch {number} of 5", train[0][part], train[1][part])
    members[TEST_BATCH] = batch("testing batch 1 of 1", *test)
    with tarfile.open(path, "w:gz") as archive:
        for member, content in members.items():
            info = tarfile.TarInfo(f"{FOLDER}/{member}")
            info.size, info.mtime = len(content), 0
            archive.addfile(info, io.BytesIO(content))
    return path
