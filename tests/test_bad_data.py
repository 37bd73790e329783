"""A bad local copy of MNIST stops the workflow with the file and the problem named, leaving
nothing."""

import gzip
import shutil
import struct

import numpy as np
import pytest

from conftest import snakemake, tiny_config
from mnist_filters.dataset import FILES
from mnist_filters.idx import encode_idx, write_idx

pytestmark = pytest.mark.slow


def corrupt(folder, case):
    """Break one file of `folder`; return (the file's name, what the error must say)."""
    labels = FILES["train_labels"]
    images = FILES["train_images"]
    if case == "truncated-gzip":
        data = (folder / images).read_bytes()
        (folder / images).write_bytes(data[: len(data) // 2])
        return images, "gzip stream is truncated"
    if case == "corrupt-gzip":
        data = bytearray((folder / images).read_bytes())
        data[40:60] = b"\xff" * 20
        (folder / images).write_bytes(bytes(data))
        return images, "gzip stream is corrupt"
    if case == "count-exceeds-data":
        (folder / labels).write_bytes(
            gzip.compress(b"\x00\x00\x08\x01" + struct.pack(">I", 3000) + bytes(2000))
        )
        return labels, "header declares 3000 items"
    if case == "wrong-magic":
        (folder / labels).write_bytes(
            gzip.compress(b"\x00\x01\x08\x01" + struct.pack(">I", 2000) + bytes(2000))
        )
        return labels, "wrong magic number"
    if case == "count-mismatch":
        write_idx(folder / labels, np.zeros(1999, np.uint8))
        return labels, "holds 1999 labels but"
    if case == "label-range":
        write_idx(folder / labels, np.full(2000, 12, np.uint8))
        return labels, "labels are outside 0..9"
    if case == "not-28x28":
        write_idx(folder / images, np.zeros((2000, 32, 32), np.uint8))
        return images, "holds 32x32 images; set data.image_shape: [32, 32]"  # found at parse time
    if case == "empty":
        (folder / labels).write_bytes(b"")
        return labels, "file is empty"
    if case == "missing":
        (folder / labels).unlink()
        return labels, "not found"
    if case == "plain-not-idx":
        (folder / labels).write_bytes(encode_idx(np.zeros(2000, np.uint8))[:-1])
        return labels, "which exceeds the 1999 bytes of data"
    raise AssertionError(case)


CASES = [
    "truncated-gzip",
    "corrupt-gzip",
    "count-exceeds-data",
    "wrong-magic",
    "count-mismatch",
    "label-range",
    "not-28x28",
    "empty",
    "missing",
    "plain-not-idx",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_local_data_is_named_and_leaves_nothing(tiny_mnist, tmp_path, case):
    data = tmp_path / "data"
    shutil.copytree(tiny_mnist, data)
    name, problem = corrupt(data, case)
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = snakemake(workdir, tiny_config(data), "--until", "get_mnist", check=False, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert str(data / name) in output and problem in output, output[-3000:]
    mnist = workdir / "resources" / "mnist"
    assert not mnist.exists() or list(mnist.iterdir()) == []
