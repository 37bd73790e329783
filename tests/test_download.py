"""Downloads against a real HTTP server on 127.0.0.1 serving generated files."""

import hashlib
import http.server
import threading
import time

import numpy as np
import pytest

from mnist_filters.dataset import FILES
from mnist_filters.download import Expected, download
from mnist_filters.errors import DownloadError
from mnist_filters.idx import read_idx


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    hits: dict[str, int] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        _, mode, name = self.path.split("/", 2)
        Handler.hits[mode] = Handler.hits.get(mode, 0) + 1
        body = Handler.files.get(name)
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
    options = {"timeout": 0.5, "retries": 2, "retry_wait": 0.0, "expected": expected(NAME), **kwargs}
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
        ("badsum", "md5"), ("missing", "HTTP 404"), ("truncated", "truncated body"),
        ("stall", "timed out"), ("loop", "HTTP 302"),
    ]:
        line = next(line for line in message.splitlines() if f"/{mode}/" in line)
        assert why in line, line
    assert "mnist.local_dir" in message
    assert not (tmp_path / NAME).exists()
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_unreachable_mirror(tmp_path):
    with pytest.raises(DownloadError, match="cannot connect"):
        download(NAME, ["http://127.0.0.1:9"], tmp_path / NAME, timeout=0.5, retries=1)


def test_data_stage_downloads_checks_and_writes_all_four(server, tmp_path, monkeypatch):
    from mnist_filters.stages import data

    monkeypatch.setattr(data, "CANONICAL", {n: (e.size, e.md5) for n in FILES.values() for e in [expected(n)]})
    outputs = {key: str(tmp_path / "out" / name) for key, name in FILES.items()}
    digests = data.get_mnist(outputs, local_dir=None, mirrors=[f"{server}/missing", f"{server}/good"],
                             timeout=1, retries=1, retry_wait=0, image_shape=(28, 28))
    for key, name in FILES.items():
        body = (tmp_path / "out" / name).read_bytes()
        assert body == Handler.files[name]
        assert digests[name] == hashlib.sha256(body).hexdigest()


def test_data_stage_leaves_nothing_when_one_file_fails(server, tmp_path, monkeypatch):
    from mnist_filters.stages import data

    canonical = {n: (e.size, e.md5) for n in FILES.values() for e in [expected(n)]}
    canonical[FILES["test_labels"]] = (1, "0" * 32)  # no mirror can satisfy this one
    monkeypatch.setattr(data, "CANONICAL", canonical)
    outputs = {key: str(tmp_path / "out" / name) for key, name in FILES.items()}
    with pytest.raises(DownloadError):
        data.get_mnist(outputs, local_dir=None, mirrors=[f"{server}/good"], timeout=1, retries=1,
                       retry_wait=0, image_shape=(28, 28))
    assert list((tmp_path / "out").iterdir()) == []


def test_local_copy_is_checked_where_it_lies(tiny_mnist, tmp_path):
    from mnist_filters.stages.data import get_mnist
    from mnist_filters.errors import IdxFormatError
    from mnist_filters.idx import write_idx

    bad = tmp_path / "bad"
    bad.mkdir()
    for name in FILES.values():
        (bad / name).write_bytes((tiny_mnist / name).read_bytes())
    write_idx(bad / FILES["train_labels"], np.full(2000, 11, np.uint8))
    outputs = {key: str(tmp_path / "out" / name) for key, name in FILES.items()}
    with pytest.raises(IdxFormatError) as error:
        get_mnist(outputs, local_dir=str(bad), mirrors=[], timeout=1, retries=1, retry_wait=0,
                  image_shape=(28, 28))
    assert str(bad / FILES["train_labels"]) in str(error.value) and "outside 0..9" in str(error.value)
    assert list((tmp_path / "out").iterdir()) == []
