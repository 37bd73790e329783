"""Downloads against a real HTTP server on 127.0.0.1 serving generated files."""

import copy
import dataclasses
import hashlib
import http.server
import shutil
import threading
import time

import numpy as np
import pytest

from conftest import ANALYSES_ON, snakemake, tiny_config
from mnist_filters.dataset import DATA_SETS, FILES, DataSet, label_text
from mnist_filters.download import Expected, download
from mnist_filters.errors import DownloadError
from mnist_filters.idx import read_idx


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    hits: dict[str, int] = {}
    zeros: dict[str, int] = {}  # name -> size of the all-zero body mode "zeros" serves

    def log_message(self, *args):
        pass

    def do_GET(self):
        _, mode, name = self.path.split("/", 2)
        Handler.hits[mode] = Handler.hits.get(mode, 0) + 1
        body = (
            bytes(Handler.zeros[name])
            if mode == "zeros" and name in Handler.zeros
            else Handler.files.get(name)
        )
        if mode == "missing" or body is None:
            self.send_error(404)
            return
        if mode == "loop":
            self.send_response(302)
            self.send_header("Location", self.path)
            self.end_headers()
            return
        if mode == "flaky" and Handler.hits[mode] == 1:
            self.send_error(503)
            return
        if mode == "stall":
            time.sleep(2)
        if mode == "badsum":
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if mode == "truncated" else body)


@pytest.fixture(scope="module")
def server(tiny_mnist):
    Handler.files = {name: (tiny_mnist / name).read_bytes() for name in FILES.values()}
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(autouse=True)
def reset_hits():
    Handler.hits = {}


def expected(name):
    body = Handler.files[name]
    return Expected(len(body), hashlib.md5(body).hexdigest())


NAME = "t10k-labels-idx1-ubyte.gz"


def fetch(server, tmp_path, *modes, **kwargs):
    destination = tmp_path / NAME
    options = {
        "timeout": 0.5,
        "retries": 2,
        "retry_wait": 0.0,
        "expected": expected(NAME),
        **kwargs,
    }
    used = download(NAME, [f"{server}/{m}" for m in modes], destination, **options)
    return used, destination


def test_good_mirror(server, tmp_path):
    used, destination = fetch(server, tmp_path, "good")
    assert used == f"{server}/good/{NAME}"
    assert destination.read_bytes() == Handler.files[NAME]
    assert read_idx(destination).shape == (500,)


@pytest.mark.parametrize("bad", ["badsum", "missing", "truncated", "stall", "loop"])
def test_bad_mirror_is_skipped_for_the_next(server, tmp_path, bad):
    used, destination = fetch(server, tmp_path, bad, "good")
    assert used == f"{server}/good/{NAME}"
    assert destination.read_bytes() == Handler.files[NAME]


def test_transient_failure_is_retried_on_the_same_mirror(server, tmp_path):
    used, _ = fetch(server, tmp_path, "flaky")
    assert used == f"{server}/flaky/{NAME}" and Handler.hits["flaky"] == 2


def test_permanent_failures_are_not_retried(server, tmp_path):
    with pytest.raises(DownloadError):
        fetch(server, tmp_path, "missing", "badsum", retries=3)
    assert Handler.hits == {"missing": 1, "badsum": 1}


def test_every_mirror_failing_names_each_mirror_and_why(server, tmp_path):
    with pytest.raises(DownloadError) as error:
        fetch(server, tmp_path, "badsum", "missing", "truncated", "stall", "loop")
    message = str(error.value)
    for mode, why in [
        ("badsum", "md5"),
        ("missing", "HTTP 404"),
        ("truncated", "truncated body"),
        ("stall", "timed out"),
        ("loop", "HTTP 302"),
    ]:
        line = next(line for line in message.splitlines() if f"/{mode}/" in line)
        assert why in line, line
    assert "data.local_dir" in message
    assert not (tmp_path / NAME).exists()
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_unreachable_mirror(tmp_path):
    with pytest.raises(DownloadError, match="cannot connect"):
        download(NAME, ["http://127.0.0.1:9"], tmp_path / NAME, timeout=0.5, retries=1)


def served_as(name: str, **changes) -> DataSet:
    """Data set `name` with the generated files' sizes and md5s as its canonical ones."""
    canonical = {n: (e.size, e.md5) for n in FILES.values() for e in [expected(n)]}
    return dataclasses.replace(DATA_SETS[name], canonical={**canonical, **changes})


# the sets served as the four IDX files (CIFAR-10's archive: tests/test_cifar.py)
DOWNLOADED = sorted(
    name
    for name, data_set in DATA_SETS.items()
    if data_set.generated is None and data_set.archive is None
)


@pytest.mark.parametrize("name", DOWNLOADED)
def test_data_stage_downloads_checks_and_writes_all_four(server, tmp_path, name):
    from mnist_filters.stages.data import get_mnist

    outputs = {key: str(tmp_path / "out" / file) for key, file in FILES.items()}
    digests = get_mnist(
        outputs,
        data_set=served_as(name),
        local_dir=None,
        mirrors=[f"{server}/missing", f"{server}/good"],
        timeout=1,
        retries=1,
        retry_wait=0,
        image_shape=(28, 28),
    )
    for file in FILES.values():
        body = (tmp_path / "out" / file).read_bytes()
        assert body == Handler.files[file]
        assert digests[file] == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("name", DOWNLOADED)
def test_each_data_set_checks_its_own_canonical_sums(server, tmp_path, name):
    """The generated files are served where the real ones would be: each set's own md5 refuses
    them."""
    from mnist_filters.stages.data import get_mnist

    outputs = {key: str(tmp_path / "out" / file) for key, file in FILES.items()}
    with pytest.raises(DownloadError) as error:
        get_mnist(
            outputs,
            data_set=DATA_SETS[name],
            local_dir=None,
            mirrors=[f"{server}/good"],
            timeout=1,
            retries=1,
            retry_wait=0,
            image_shape=(28, 28),
        )
    size, md5 = DATA_SETS[name].canonical[FILES["train_images"]]
    assert f"expected {size}" in str(error.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_a_wrong_checksum_is_refused_with_both_sums(server, tmp_path):
    from mnist_filters.stages.data import get_mnist

    name = FILES["test_labels"]
    wanted = "0123456789abcdef0123456789abcdef"
    data_set = served_as("fashion-mnist", **{name: (len(Handler.files[name]), wanted)})
    outputs = {key: str(tmp_path / "out" / file) for key, file in FILES.items()}
    with pytest.raises(DownloadError) as error:
        get_mnist(
            outputs,
            data_set=data_set,
            local_dir=None,
            mirrors=[f"{server}/good"],
            timeout=1,
            retries=1,
            retry_wait=0,
            image_shape=(28, 28),
        )
    assert f"md5 {hashlib.md5(Handler.files[name]).hexdigest()}, expected {wanted}" in str(
        error.value
    )
    assert list((tmp_path / "out").iterdir()) == []  # the three good files are not kept either


def test_data_sets_are_drop_ins_with_their_own_sums_and_names():
    assert sorted(DATA_SETS) == ["cifar10", "fashion-mnist", "kmnist", "mnist", "synthetic"]
    sums = [md5 for data_set in DATA_SETS.values() for _size, md5 in data_set.canonical.values()]
    assert len(set(sums)) == 13 and all(len(md5) == 32 for md5 in sums)
    assert DOWNLOADED == ["fashion-mnist", "kmnist", "mnist"]
    for data_set in map(DATA_SETS.get, DOWNLOADED):
        assert set(data_set.canonical) == set(FILES.values()) and len(data_set.classes) == 10
        assert data_set.mirrors and all(
            url.startswith(("http://", "https://")) for url in data_set.mirrors
        )
    assert label_text(9, DATA_SETS["mnist"].classes) == "label 9"
    assert label_text(9, DATA_SETS["fashion-mnist"].classes) == "label 9 (Ankle boot)"
    assert label_text(3, DATA_SETS["kmnist"].classes) == "label 3 (tsu)"


def test_local_copy_is_checked_where_it_lies(tiny_mnist, tmp_path):
    from mnist_filters.errors import IdxFormatError
    from mnist_filters.idx import write_idx
    from mnist_filters.stages.data import get_mnist

    bad = tmp_path / "bad"
    bad.mkdir()
    for name in FILES.values():
        (bad / name).write_bytes((tiny_mnist / name).read_bytes())
    write_idx(bad / FILES["train_labels"], np.full(2000, 11, np.uint8))
    outputs = {key: str(tmp_path / "out" / name) for key, name in FILES.items()}
    with pytest.raises(IdxFormatError) as error:
        get_mnist(
            outputs,
            data_set=DATA_SETS["mnist"],
            local_dir=str(bad),
            mirrors=[],
            timeout=1,
            retries=1,
            retry_wait=0,
            image_shape=(28, 28),
        )
    assert str(bad / FILES["train_labels"]) in str(error.value) and "outside 0..9" in str(
        error.value
    )
    assert list((tmp_path / "out").iterdir()) == []


def test_another_data_set_is_made_apart_with_its_own_sums(tiny_mnist, tiny_run, server, tmp_path):
    """With data.set fashion-mnist beside a finished MNIST run: its own download and runs, and the
    rule checks Fashion-MNIST's sums; switching back finds MNIST's run untouched and complete."""
    workdir = tmp_path / "work"
    shutil.copytree(tiny_run, workdir)
    mnist = tiny_config(tiny_mnist, runs={"tiny": copy.deepcopy(ANALYSES_ON)})  # tiny_run's own
    fashion = copy.deepcopy(mnist)
    fashion["data"] = {
        "set": "fashion-mnist",
        "mirrors": {"fashion-mnist": [f"{server}/zeros"]},
        "retries": 1,
        "timeout_seconds": 10,
    }
    plan = snakemake(workdir, fashion, "-n").stdout
    assert (
        "resources/fashion-mnist/train-images-idx3-ubyte.gz" in plan
        and "results/fashion-mnist/tiny/" in plan
    )
    assert "results/mnist/" not in plan and "resources/mnist/" not in plan

    fashion_md5 = DATA_SETS["fashion-mnist"].canonical[FILES["train_images"]]
    Handler.zeros = {FILES["train_images"]: fashion_md5[0]}  # the right size, so the md5 decides
    result = snakemake(workdir, fashion, "--until", "get_mnist", check=False)
    log = (workdir / "logs" / "fashion-mnist" / "get_mnist.log").read_text()
    assert result.returncode != 0
    assert (
        f"md5 {hashlib.md5(bytes(fashion_md5[0])).hexdigest()}, expected {fashion_md5[1]}" in log
    ), log[-2000:]
    assert not (workdir / "resources" / "fashion-mnist" / FILES["train_images"]).exists()

    assert "Nothing to be done" in snakemake(workdir, mnist, "-n").stdout


def test_the_generated_set_is_made_here_the_same_bytes_each_time(tmp_path):
    """`synthetic` needs no mirror: the data stage draws it, checks it, and draws the same
    bytes again (its params are the generator's arguments, not the files' sums)."""
    from mnist_filters.dataset import load_split, sha256_file
    from mnist_filters.stages.data import get_mnist

    data_set = DATA_SETS["synthetic"]
    sums = []
    for attempt in ("a", "b"):
        outputs = {key: str(tmp_path / attempt / name) for key, name in FILES.items()}
        digests = get_mnist(
            outputs,
            data_set=data_set,
            local_dir=None,
            mirrors=[],
            timeout=1,
            retries=1,
            retry_wait=0,
            image_shape=(28, 28),
        )
        assert digests == {name: sha256_file(tmp_path / attempt / name) for name in FILES.values()}
        sums.append(digests)
    assert sums[0] == sums[1]
    test = load_split(tmp_path / "a" / FILES["test_images"], tmp_path / "a" / FILES["test_labels"])
    assert len(test) == data_set.counts[1] and set(test.labels.tolist()) == set(range(10))
