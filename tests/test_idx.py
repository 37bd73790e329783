import gzip
import struct

import numpy as np
import pytest

from mnist_filters.dataset import check_mnist_files, load_split
from mnist_filters.errors import IdxFormatError
from mnist_filters.idx import encode_idx, read_idx, read_idx_dims, write_idx


def images(count=5, shape=(28, 28)):
    return np.random.default_rng(0).integers(0, 256, (count, *shape), dtype=np.uint8)


def labels(count=5):
    return (np.arange(count) % 10).astype(np.uint8)


def write_gz(path, data: bytes):
    path.write_bytes(gzip.compress(data))
    return path


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip_every_idx_type(tmp_path, dtype):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    write_idx(tmp_path / "a.gz", array)
    back = read_idx(tmp_path / "a.gz")
    assert back.dtype == np.dtype(dtype) and np.array_equal(back, array)


def test_reads_uncompressed_files_and_header_only(tmp_path):
    path = tmp_path / "plain-idx3-ubyte"
    path.write_bytes(encode_idx(images(3)))
    assert read_idx(path).shape == (3, 28, 28)
    write_idx(tmp_path / "x.gz", images(7))
    assert read_idx_dims(tmp_path / "x.gz") == (7, 28, 28)


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda p: p.write_bytes(b""), "file is empty"),
        (
            lambda p: p.write_bytes(gzip.compress(encode_idx(images()))[:-30]),
            "gzip stream is truncated",
        ),
        (lambda p: p.write_bytes(b"\x1f\x8b" + b"\x08\x00garbage" * 10), "gzip stream is corrupt"),
        (
            lambda p: write_gz(
                p, b"\x00\x00\x08\x03" + struct.pack(">3I", 10, 28, 28) + bytes(5 * 784)
            ),
            "header declares 10 items of shape 10x28x28 (7840 bytes), which exceeds the 3920 bytes",
        ),
        (
            lambda p: write_gz(p, b"\x00\x00\x08\x01" + struct.pack(">I", 3) + bytes(5)),
            "is less than",
        ),
        (lambda p: write_gz(p, b"\x08\x03\x00\x00" + bytes(100)), "wrong magic number 0x08030000"),
        (lambda p: write_gz(p, b"\x00\x00\x07\x01" + bytes(100)), "wrong magic number"),
        (lambda p: write_gz(p, b"\x00\x00\x08\x03\x00"), "ends inside the header"),
        (lambda p: write_gz(p, b"\x00\x00"), "too short for an IDX header"),
    ],
    ids=[
        "empty",
        "truncated-gzip",
        "corrupt-gzip",
        "count-exceeds-data",
        "data-exceeds-count",
        "swapped-magic",
        "unknown-type",
        "short-header",
        "tiny",
    ],
)
def test_corrupt_files_are_named_with_their_problem(tmp_path, make, problem):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    make(path)
    with pytest.raises(IdxFormatError) as error:
        read_idx(path)
    assert str(path) in str(error.value)
    assert problem in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(IdxFormatError, match="file not found"):
        read_idx(tmp_path / "nope.gz")


def split_files(tmp_path, image_array, label_array):
    write_idx(tmp_path / "img.gz", image_array)
    write_idx(tmp_path / "lbl.gz", label_array)
    return tmp_path / "img.gz", tmp_path / "lbl.gz"


def test_good_split_loads(tmp_path):
    split = load_split(*split_files(tmp_path, images(), labels()))
    assert len(split) == 5 and split.images.shape == (5, 28, 28)


@pytest.mark.parametrize(
    "image_array, label_array, culprit, problem",
    [
        (images(5), labels(4), "lbl.gz", "holds 4 labels but"),
        (
            images(5),
            np.array([0, 1, 2, 10, 3], np.uint8),
            "lbl.gz",
            "1 labels are outside 0..9 (first: label 10 at item 3)",
        ),
        (
            images(5, (32, 32)),
            labels(5),
            "img.gz",
            "images are 32x32 pixels; the model takes 28x28",
        ),
        (images(5).astype(np.float32), labels(5), "img.gz", "unsigned bytes"),
        (images(5).reshape(5, 784), labels(5), "img.gz", "must have 3 dimensions"),
        (images(5), labels(5).astype(np.int32), "lbl.gz", "unsigned bytes"),
        (images(0), labels(0), "img.gz", "holds no images"),
    ],
    ids=[
        "count-mismatch",
        "label-range",
        "image-size",
        "image-dtype",
        "image-ndim",
        "label-dtype",
        "empty",
    ],
)
def test_structural_checks(tmp_path, image_array, label_array, culprit, problem):
    with pytest.raises(IdxFormatError) as error:
        load_split(*split_files(tmp_path, image_array, label_array))
    assert culprit in str(error.value) and problem in str(error.value)


def test_check_mnist_files_counts(tiny_mnist):
    from mnist_filters.dataset import local_files

    assert check_mnist_files(local_files(tiny_mnist)) == {"train": 2000, "test": 500}


@pytest.mark.parametrize("rows", [1, 3, 7, 100])
def test_streaming_reader_matches_the_whole_file(tmp_path, rows):
    from mnist_filters.idx import iter_idx

    array = images(7)
    write_idx(tmp_path / "a.gz", array)
    stream = iter_idx(tmp_path / "a.gz", rows)
    assert next(stream) == (np.dtype(np.uint8), (7, 28, 28))
    np.testing.assert_array_equal(np.concatenate(list(stream)), array)


@pytest.mark.parametrize(
    "make, problem",
    [
        (
            lambda p: write_gz(
                p, b"\x00\x00\x08\x03" + struct.pack(">3I", 10, 28, 28) + bytes(5 * 784)
            ),
            "exceeds",
        ),
        (
            lambda p: write_gz(
                p, b"\x00\x00\x08\x03" + struct.pack(">3I", 2, 28, 28) + bytes(3 * 784)
            ),
            "more data",
        ),
        (
            lambda p: p.write_bytes(gzip.compress(encode_idx(images()))[:-30]),
            "gzip stream is truncated",
        ),
        (lambda p: p.write_bytes(b""), "file is empty"),
        (lambda p: write_gz(p, b"\x08\x03\x00\x00" + bytes(100)), "wrong magic number"),
    ],
)
def test_streaming_reader_checks_as_it_goes(tmp_path, make, problem):
    from mnist_filters.idx import iter_idx

    path = tmp_path / "bad.gz"
    make(path)
    with pytest.raises(IdxFormatError, match=problem):
        list(iter_idx(path, 4))
