"""CIFAR-10 as a drop-in (data.set: cifar10): its python archive, generated here in the
official layout (no colour data set can be downloaded here), served by a real HTTP server on
127.0.0.1 or lying in data.local_dir; checked against the canonical md5, read without
unpickling anything but arrays, and written as colour IDX files the workflow plans with."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import os
import pickle
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, TINY_DEFAULTS, planned, snakemake
from mnist_filters import cifar
from mnist_filters.dataset import DATA_SETS, FILES
from mnist_filters.errors import ConfigError, DownloadError
from mnist_filters.idx import read_idx
from mnist_filters.stages.data import get_mnist
from mnist_filters.synthetic import make_colour_shapes

CIFAR = DATA_SETS["cifar10"]
ARCHIVE = CIFAR.archive


def generated_split(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = make_colour_shapes(count, seed, shape=(32, 32))
    return images, (labels + 3 * (np.arange(count) % 2)).astype(np.uint8)  # labels 0..6


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    """A small archive in CIFAR-10's exact layout, and the arrays it holds."""
    folder = tmp_path_factory.mktemp("cifar")
    train, test = generated_split(60, 0), generated_split(20, 1)
    path = cifar.write_archive(folder / ARCHIVE, CIFAR.classes, train, test)
    arrays = {
        "train_images": train[0],
        "train_labels": train[1],
        "test_images": test[0],
        "test_labels": test[1],
    }
    return path, arrays


class Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.endswith("/" + ARCHIVE):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(Handler.body)))
        self.end_headers()
        self.wfile.write(Handler.body)


@pytest.fixture(scope="module")
def server(archive):
    Handler.body = archive[0].read_bytes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def stage(tmp_path: Path, data_set, **options) -> dict[str, str]:
    outputs = {key: str(tmp_path / "out" / name) for key, name in FILES.items()}
    settings = {"local_dir": None, "mirrors": [], "timeout": 2, "retries": 1, "retry_wait": 0}
    get_mnist(outputs, data_set=data_set, image_shape=(32, 32, 3), **{**settings, **options})
    return outputs


def test_the_archive_downloads_checks_and_becomes_four_colour_idx_files(archive, server, tmp_path):
    """The generated archive, with its own size and md5 as the canonical ones, through the
    data stage's download: the IDX files hold its images (N, 32, 32, 3) and labels exactly."""
    path, arrays = archive
    body = path.read_bytes()
    served = dataclasses.replace(
        CIFAR, canonical={ARCHIVE: (len(body), hashlib.md5(body).hexdigest())}
    )
    outputs = stage(tmp_path, served, mirrors=[f"{server}/missing", f"{server}/good"])
    for key, array in arrays.items():
        np.testing.assert_array_equal(read_idx(outputs[key]), array)
    assert read_idx(outputs["test_images"]).shape == (20, 32, 32, 3)
    assert sorted(os.listdir(tmp_path / "out")) == sorted(FILES.values())  # no archive left


def test_the_canonical_md5_refuses_any_other_archive(server, tmp_path):
    with pytest.raises(DownloadError) as error:
        stage(tmp_path, CIFAR, mirrors=[f"{server}/good"])
    assert f"expected {CIFAR.canonical[ARCHIVE][0]}" in str(error.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_the_reader_takes_the_official_layout_row_by_row_in_rgb_planes(tmp_path):
    """Written by hand, as the CIFAR page describes it: each row's first 1024 values are the
    red plane, row-major; then green; then blue."""
    image = np.zeros((32, 32, 3), np.uint8)
    image[0, 1, 0] = 200  # red at row 0, column 1
    image[2, 0, 2] = 100  # blue at row 2, column 0
    row = np.zeros(3072, np.uint8)
    row[1], row[2048 + 64] = 200, 100
    batch = {b"batch_label": b"x", b"labels": [4], b"data": row[None], b"filenames": [b"a.png"]}
    meta = {b"label_names": [name.encode() for name in CIFAR.classes]}
    members = {cifar.META: meta, cifar.TEST_BATCH: batch}
    members.update({name: batch for name in cifar.TRAIN_BATCHES})
    path = tmp_path / ARCHIVE
    write_members(path, {name: pickle.dumps(value, protocol=2) for name, value in members.items()})
    classes, arrays = cifar.read_archive(path)
    assert classes == CIFAR.classes
    np.testing.assert_array_equal(arrays["test_images"][0], image)
    assert (
        arrays["train_images"].shape == (5, 32, 32, 3)
        and arrays["train_labels"].tolist() == [4] * 5
    )


def write_members(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(f"{cifar.FOLDER}/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


class _RunsACommand:
    def __init__(self, sentinel: Path):
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


def doctored(archive: Path, tmp_path: Path, member: str, content: bytes) -> Path:
    with tarfile.open(archive, "r:gz") as tar:
        members = {
            info.name.split("/", 1)[1]: tar.extractfile(info).read() for info in tar.getmembers()
        }
    members[member] = content
    return write_members(tmp_path / ARCHIVE, members)


def test_a_pickle_that_would_run_code_is_refused_and_runs_nothing(archive, tmp_path):
    sentinel = tmp_path / "ran"
    payload = pickle.dumps({b"data": _RunsACommand(sentinel)}, protocol=2)
    path = doctored(archive[0], tmp_path, cifar.TEST_BATCH, payload)
    with pytest.raises(ConfigError) as error:
        cifar.read_archive(path)
    message = str(error.value)
    assert f"{path}: {cifar.FOLDER}/{cifar.TEST_BATCH}: refers to posix.system" in message
    assert "\n" not in message
    assert not sentinel.exists()


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "no cifar-10-batches-py/test_batch; not CIFAR-10's python archive"),
        ("truncated", "not a readable batch"),
        ("labels", "labels outside 0..9"),
        ("rows", "rows of 3000 values, not 3x32x32 = 3072"),
        ("not a tar", "not a .tar.gz archive"),
    ],
)
def test_a_broken_archive_is_named_with_its_problem(archive, tmp_path, case, expected):
    good = archive[0]
    if case == "not a tar":
        path = tmp_path / ARCHIVE
        path.write_bytes(b"<html>a proxy's error page</html>")
    elif case == "missing":
        with tarfile.open(good, "r:gz") as tar:
            members = {
                info.name.split("/", 1)[1]: tar.extractfile(info).read()
                for info in tar.getmembers()
                if not info.name.endswith(cifar.TEST_BATCH)
            }
        path = write_members(tmp_path / ARCHIVE, members)
    else:
        batch = {
            b"labels": [12] if case == "labels" else [1],
            b"data": np.zeros((1, 3000 if case == "rows" else 3072), np.uint8),
        }
        content = pickle.dumps(batch, protocol=2)
        path = doctored(
            good,
            tmp_path,
            cifar.TEST_BATCH,
            content[: len(content) // 2] if case == "truncated" else content,
        )
    with pytest.raises(ConfigError) as error:
        cifar.read_archive(path)
    assert str(error.value).startswith(str(path)) and expected in str(error.value)


@pytest.mark.slow
def test_cifar10_from_a_local_copy_plans_in_colour_and_makes_its_data(archive, tmp_path):
    """data.set: cifar10 with the archive in data.local_dir: the workflow plans the default
    network on 32x32x3 images (no data.image_shape to set), and the data stage writes them."""
    local = tmp_path / "local"
    local.mkdir()
    (local / ARCHIVE).write_bytes(archive[0].read_bytes())
    workdir = tmp_path / "work"
    workdir.mkdir()
    config = {
        "data": {"set": "cifar10", "local_dir": str(local)},
        "defaults": TINY_DEFAULTS,
        "runs": {"tiny": {}},
    }
    jobs = {rule for rule, _run in planned(workdir, config, REPO, "results/cifar10/tiny/gallery")}
    assert {"get_mnist", "train", "dump_activations", "gallery"} <= jobs
    snakemake(workdir, config, "resources/cifar10/provenance.json")
    resources = workdir / "resources" / "cifar10"
    for key, array in archive[1].items():
        np.testing.assert_array_equal(read_idx(resources / FILES[key]), array)
