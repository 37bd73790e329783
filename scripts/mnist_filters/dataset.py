"""The data sets in MNIST's format: which files make one up, where each comes from
(mirrors, or generated here), its class names, and the structural checks every copy must
pass. Your own images (mnist_filters/own_images.py) become such files too."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_filters.errors import IdxFormatError
from mnist_filters.idx import read_idx

# Output key -> the file name every mirror of every data set below uses.
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
NUM_CLASSES = 10  # of the drop-ins below


@dataclass(frozen=True)
class DataSet:
    """A drop-in for MNIST: the same four IDX files (made from its archive where it comes as
    one), 10 classes."""

    name: str  # the value of data.set, and the folder under resources/, results/, logs/
    title: str
    classes: tuple[str, ...]  # class name by label
    canonical: dict[str, tuple[int, str]]  # file name -> (size in bytes, md5) of the official files
    mirrors: tuple[str, ...]  # base URLs serving the four files, tried in order
    counts: tuple[int, int]  # training and test images in the official files
    # rows, columns (and channels, for colour) of the official files' images
    image_shape: tuple[int, ...] = (28, 28)
    # Not downloaded but drawn by mnist_filters.synthetic.write_digits with these arguments
    # (seed, max_shift, noise; counts: how many).
    generated: dict | None = None
    # Served as this one archive (canonical's only file), which mnist_filters.cifar reads
    # into the four IDX files, instead of as the four files themselves.
    archive: str | None = None

    def source_files(self, folder: str | os.PathLike) -> dict[str, Path]:
        """The files a local copy of the set in `folder` must hold: file name -> path."""
        names = [self.archive] if self.archive else FILES.values()
        return {name: Path(folder) / name for name in names}


def label_text(label: int, classes: Sequence[str]) -> str:
    """'label 9 (Ankle boot)'; where the class name is the label itself (MNIST's digits): 'label
    9'."""
    name = classes[label]
    return f"label {label}" if name == str(label) else f"label {label} ({name})"


DATA_SETS = {
    data_set.name: data_set
    for data_set in (
        DataSet(
            "mnist",
            "MNIST",
            tuple(str(digit) for digit in range(10)),
            # sizes and md5s of the files LeCun et al. published
            {
                "train-images-idx3-ubyte.gz": (9912422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                "train-labels-idx1-ubyte.gz": (28881, "d53e105ee54ea40749a09fcbcd1e9432"),
                "t10k-images-idx3-ubyte.gz": (1648877, "9fb629c4189551a2d022fa330f9573f3"),
                "t10k-labels-idx1-ubyte.gz": (4542, "ec29112dd5afa0611ce80d1b7f02629c"),
            },
            (
                "https://ossci-datasets.s3.amazonaws.com/mnist",
                "https://storage.googleapis.com/cvdf-datasets/mnist",
                "http://yann.lecun.com/exdb/mnist",
            ),
            (60000, 10000),
        ),
        DataSet(
            "fashion-mnist",
            "Fashion-MNIST",
            (
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
            # md5s and class names: the README of github.com/zalandoresearch/fashion-mnist; it gives
            # sizes in MB only, so the byte counts are those its download server sends
            {
                "train-images-idx3-ubyte.gz": (26421880, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                "train-labels-idx1-ubyte.gz": (29515, "25c81989df183df01b3e8a0aad5dffbe"),
                "t10k-images-idx3-ubyte.gz": (4422102, "bef4ecab320f06d8554ea6380940ec79"),
                "t10k-labels-idx1-ubyte.gz": (5148, "bb300cfdad3c16e7a12a480ee83cd310"),
            },
            (
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
                "https://storage.googleapis.com/tensorflow/tf-keras-datasets",
            ),
            (60000, 10000),
        ),
        DataSet(
            "kmnist",
            "Kuzushiji-MNIST",
            # one hiragana per row of the syllabary (お き す つ な は ま や れ を), romanised:
            # the figures' fonts have no kana
            ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
            # the README of github.com/rois-codh/kmnist links the files but lists neither sizes
            # nor sums: these are the sizes its server sends and the md5s torchvision checks
            {
                "train-images-idx3-ubyte.gz": (18165135, "bdb82020997e1d708af4cf47b453dcf7"),
                "train-labels-idx1-ubyte.gz": (29497, "e144d726b3acfaa3e44228e80efcd344"),
                "t10k-images-idx3-ubyte.gz": (3041136, "5c965bf0a639b31b8f53240b1b52f4d7"),
                "t10k-labels-idx1-ubyte.gz": (5120, "7320c461ea6c1c855c0b718fb2a4b134"),
            },
            ("http://codh.rois.ac.jp/kmnist/dataset/kmnist",),
            (60000, 10000),
        ),
        DataSet(
            "cifar10",
            "CIFAR-10",
            (
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ),
            # the md5 its page (www.cs.toronto.edu/~kriz/cifar.html) publishes; the size its
            # server sends
            {"cifar-10-python.tar.gz": (170498071, "c58f30108f718f92721af3b95e74349a")},
            ("https://www.cs.toronto.edu/~kriz",),
            (50000, 10000),
            image_shape=(32, 32, 3),
            archive="cifar-10-python.tar.gz",
        ),
        # `make demo`'s: font-drawn digits, shifted and noisy, made where the workflow runs
        # (no download); noisy enough that a few hundred steps leave some mistakes to show.
        DataSet(
            "synthetic",
            "Generated digits",
            tuple(str(digit) for digit in range(10)),
            {},
            (),
            (10000, 2000),
            generated={"seed": 0, "max_shift": 4, "noise": 0.15},
        ),
    )
}


@dataclass(frozen=True)
class Split:
    """Images (N, H, W) uint8 and labels (N,) uint8 of one split."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def check_images(path: str | os.PathLike, images: np.ndarray, image_shape: tuple[int, ...]) -> None:
    """`image_shape`: (rows, cols) for greyscale images, (rows, cols, 3) for colour ones."""
    if images.dtype != np.uint8:
        raise IdxFormatError(
            path, f"images must be unsigned bytes (IDX type 0x08), found {images.dtype}"
        )
    if images.ndim != 3 and not (images.ndim == 4 and images.shape[3] == 3):
        raise IdxFormatError(
            path,
            "images must have 3 dimensions (count, rows, cols), or 4 for colour (count, rows, "
            f"cols, 3); found shape {images.shape}",
        )
    if tuple(images.shape[1:]) != tuple(image_shape):
        found = "x".join(map(str, images.shape[1:]))
        wanted = "x".join(map(str, image_shape))
        raise IdxFormatError(path, f"images are {found} pixels; the model takes {wanted}")
    if len(images) == 0:
        raise IdxFormatError(path, "holds no images")


def check_labels(
    path: str | os.PathLike, labels: np.ndarray, num_classes: int = NUM_CLASSES
) -> None:
    if labels.dtype != np.uint8:
        raise IdxFormatError(
            path, f"labels must be unsigned bytes (IDX type 0x08), found {labels.dtype}"
        )
    if labels.ndim != 1:
        raise IdxFormatError(path, f"labels must have 1 dimension, found {labels.ndim}")
    bad = np.flatnonzero(labels >= num_classes)
    if bad.size:
        raise IdxFormatError(
            path,
            f"{bad.size} labels are outside 0..{num_classes - 1} (first: label {labels[bad[0]]} at "
            f"item {bad[0]})",
        )


def load_split(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    image_shape=(28, 28),
    num_classes: int = NUM_CLASSES,
) -> Split:
    """Read and check one split: well-formed files, matching counts, labels in range
    (0..num_classes-1)."""
    images = read_idx(images_path)
    check_images(images_path, images, image_shape)
    labels = read_idx(labels_path)
    check_labels(labels_path, labels, num_classes)
    if len(images) != len(labels):
        raise IdxFormatError(
            labels_path, f"holds {len(labels)} labels but {images_path} holds {len(images)} images"
        )
    return Split(images, labels)


def run_classes(classes: Sequence[int] | None, num_classes: int) -> list[int]:
    """The labels a run's output units stand for, in unit order: `training.classes`, or every
    label of the data set (0..num_classes-1) where it is null. A trained model has one
    output unit per label it stands for, so a stage with the model passes its output count."""
    return list(range(num_classes)) if classes is None else [int(c) for c in classes]


def of_classes(labels: np.ndarray, classes: Sequence[int] | None) -> np.ndarray:
    """Ascending indices of the items of `labels` that are one of `classes` (None: all)."""
    if classes is None:
        return np.arange(len(labels))
    return np.flatnonzero(np.isin(labels, list(classes)))


def units_of(labels: np.ndarray, classes: Sequence[int] | None) -> np.ndarray:
    """Each label's output unit (int64): its position in `classes` (None: the label itself).
    Every label must be one of `classes`."""
    labels = labels.astype(np.int64)
    if classes is None:
        return labels
    unit = np.full(max(int(labels.max(initial=0)), *classes) + 1, -1, np.int64)
    unit[list(classes)] = np.arange(len(classes))
    units = unit[labels]
    if (units < 0).any():
        raise ValueError(f"labels {sorted(set(labels[units < 0].tolist()))} are not in {classes}")
    return units


@dataclass(frozen=True)
class TestSet:
    """The test images a run is measured on: those of its classes, with their rows in the test
    file (`index`), their labels as the file gives them, and their output units (`units`)."""

    images: np.ndarray
    labels: np.ndarray
    index: np.ndarray
    units: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def load_test_set(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    classes: Sequence[int] | None,
    image_shape=(28, 28),
    num_classes: int = NUM_CLASSES,
) -> TestSet:
    """The test split, checked, restricted to `classes` (training.classes; None: all)."""
    test = load_split(images_path, labels_path, image_shape, num_classes)
    index = of_classes(test.labels, classes)
    if not len(index):
        raise ValueError(f"{labels_path} holds no test image of the classes {list(classes)}")
    labels = test.labels[index]
    return TestSet(test.images[index], labels, index, units_of(labels, classes))


def check_mnist_files(
    paths: dict[str, str | os.PathLike], image_shape=(28, 28), num_classes: int = NUM_CLASSES
) -> dict[str, int]:
    """Check all four files; return the item count of each split."""
    train = load_split(paths["train_images"], paths["train_labels"], image_shape, num_classes)
    test = load_split(paths["test_images"], paths["test_labels"], image_shape, num_classes)
    return {"train": len(train), "test": len(test)}


def sha256_file(path: str | os.PathLike) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def md5_file(path: str | os.PathLike) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "md5").hexdigest()


def to_model_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) or (N, H, W, 3) -> float32 (N, H, W, channels) in [0, 1], as the
    notebook's loader scaled them."""
    scaled = images.astype(np.float32) / np.float32(255.0)
    return scaled[..., None] if images.ndim == 3 else scaled


def check_examples_per_class(
    labels: np.ndarray, per_class: int, held_out: int, classes: Sequence[int] | None = None
) -> None:
    """ValueError unless every label of `classes` (None: every label up to the largest of
    `labels`) has at least `per_class` images in `labels` (the training images left after the
    first `held_out`, which validate)."""
    wanted = range(int(labels.max(initial=0)) + 1) if classes is None else classes
    counts = np.bincount(labels, minlength=max(wanted, default=0) + 1)
    short = {label: int(counts[label]) for label in wanted if counts[label] < per_class}
    if short:
        listed = ", ".join(f"label {label} has {n}" for label, n in short.items())
        raise ValueError(
            f"training.examples_per_class is {per_class}, but after the {held_out} images held "
            f"out for validation {listed}"
        )


def class_balanced(labels: np.ndarray, per_class: int, seed: int, held_out: int = 0) -> np.ndarray:
    """Ascending indices into `labels` of `per_class` images of each label, drawn by `seed`.

    Each label's are the first `per_class` of a permutation of its own images (seeded by the
    seed and the label), so that the same seed keeps a smaller number's images in a larger
    one's: a sweep over the number is a learning curve on nested training sets."""
    check_examples_per_class(labels, per_class, held_out, np.unique(labels))
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        order = np.random.default_rng([seed, int(label)]).permutation(len(members))
        chosen.append(members[order[:per_class]])
    return np.sort(np.concatenate(chosen))


def background_value(images: np.ndarray) -> int:
    """The data set's background: its commonest pixel value (0 for MNIST and its drop-ins)."""
    return int(np.bincount(images.ravel(), minlength=256).argmax())


def local_files(folder: str | os.PathLike) -> dict[str, Path]:
    folder = Path(folder)
    return {key: folder / name for key, name in FILES.items()}
