"""MNIST as arrays: which files make it up, and the structural checks every copy must pass."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_filters.errors import IdxFormatError
from mnist_filters.idx import read_idx

# Output key -> the file name every MNIST mirror uses.
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
NUM_CLASSES = 10


@dataclass(frozen=True)
class Split:
    """Images (N, H, W) uint8 and labels (N,) uint8 of one split."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def check_images(path: str | os.PathLike, images: np.ndarray, image_shape: tuple[int, int]) -> None:
    if images.dtype != np.uint8:
        raise IdxFormatError(path, f"images must be unsigned bytes (IDX type 0x08), found {images.dtype}")
    if images.ndim != 3:
        raise IdxFormatError(path, f"images must have 3 dimensions (count, rows, cols), found {images.ndim}")
    if tuple(images.shape[1:]) != tuple(image_shape):
        found = "x".join(map(str, images.shape[1:]))
        wanted = "x".join(map(str, image_shape))
        raise IdxFormatError(path, f"images are {found} pixels; the model takes {wanted}")
    if len(images) == 0:
        raise IdxFormatError(path, "holds no images")


def check_labels(path: str | os.PathLike, labels: np.ndarray) -> None:
    if labels.dtype != np.uint8:
        raise IdxFormatError(path, f"labels must be unsigned bytes (IDX type 0x08), found {labels.dtype}")
    if labels.ndim != 1:
        raise IdxFormatError(path, f"labels must have 1 dimension, found {labels.ndim}")
    bad = np.flatnonzero(labels >= NUM_CLASSES)
    if bad.size:
        raise IdxFormatError(
            path,
            f"{bad.size} labels are outside 0..{NUM_CLASSES - 1} (first: label {labels[bad[0]]} at item {bad[0]})",
        )


def load_split(images_path: str | os.PathLike, labels_path: str | os.PathLike, image_shape=(28, 28)) -> Split:
    """Read and check one split: well-formed files, matching counts, labels in range."""
    images = read_idx(images_path)
    check_images(images_path, images, image_shape)
    labels = read_idx(labels_path)
    check_labels(labels_path, labels)
    if len(images) != len(labels):
        raise IdxFormatError(
            labels_path, f"holds {len(labels)} labels but {images_path} holds {len(images)} images"
        )
    return Split(images, labels)


def check_mnist_files(paths: dict[str, str | os.PathLike], image_shape=(28, 28)) -> dict[str, int]:
    """Check all four files; return the item count of each split."""
    train = load_split(paths["train_images"], paths["train_labels"], image_shape)
    test = load_split(paths["test_images"], paths["test_labels"], image_shape)
    return {"train": len(train), "test": len(test)}


def sha256_file(path: str | os.PathLike) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def md5_file(path: str | os.PathLike) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) -> float32 (N, H, W, 1) in [0, 1], as the notebook's loader scaled them."""
    return (images.astype(np.float32) / np.float32(255.0))[..., None]


def local_files(folder: str | os.PathLike) -> dict[str, Path]:
    folder = Path(folder)
    return {key: folder / name for key, name in FILES.items()}
