"""A full disk: one line that names the file, about how much it needs and how much is free;
nothing partial left behind, and no crash (h5py's objects used to end the dump with SIGSEGV).
On a real, small file system (the `small_disk` fixture); the training side is in
test_training_stops.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conftest import REPO, leave_free
from mnist_filters.atomic import free_bytes, write_bytes_atomic
from mnist_filters.errors import DiskFull, size_text

ONE_LINE = r"^{stage} failed: no space left on the disk for {path}: {detail}$"


def run_stage_script(body: str, log, *arguments):
    """`body` (defining main()) run as a stage in a fresh Python, as a rule script runs it."""
    script = (
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(REPO / "scripts")!r})
        from mnist_filters.runlog import run_stage
    """)
        + textwrap.dedent(body)
        + f"\nrun_stage('probe', {str(log)!r}, main)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script, *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def files_left(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_the_message_says_what_is_needed_and_free():
    assert str(DiskFull("out/a.h5", 5_200_000, needed=70_300_000)) == (
        "no space left on the disk for out/a.h5: it needs about 70.3 MB and 5.2 MB are free"
    )
    assert str(DiskFull("out/a.h5", 5_200_000, written=5_100_000)) == (
        "no space left on the disk for out/a.h5: it needed more than the 5.2 MB that were free "
        "when it began (the disk filled after 5.1 MB of it)"
    )
    assert [size_text(n) for n in (900, 1500, 250_000, 123_456_789_012)] == [
        "900 bytes",
        "1.5 kB",
        "250 kB",
        "123 GB",
    ]


def test_a_plain_file_that_does_not_fit_leaves_nothing(small_disk):
    leave_free(small_disk, 200_000)
    with pytest.raises(DiskFull, match=r"the disk filled after .* of it") as refused:
        write_bytes_atomic(small_disk / "out" / "big.bin", bytes(1_000_000))
    assert refused.value.free <= 200_000 + 8192
    assert files_left(small_disk) == ["ballast"]


HDF5_STAGE = """
import h5py, numpy as np
from mnist_filters.atomic import atomic_output

def main():
    with atomic_output(sys.argv[1]) as temporary, h5py.File(temporary, "w") as h5:
        values = h5.create_dataset("values", shape=(250, 1000), dtype="float32", chunks=(10, 1000))
        for start in range(0, 250, 10):
            values[start : start + 10] = 1.0
"""


def test_an_hdf5_file_filling_the_disk_is_one_line_and_no_crash(small_disk, tmp_path):
    """The disk fills inside HDF5's writes and close: the stage ends with exit code 1 (not a
    signal), its terminal says one line, and the partial file is gone."""
    leave_free(small_disk, 300_000)
    output = small_disk / "out" / "values.h5"
    result = run_stage_script(HDF5_STAGE, tmp_path / "stage.log", output)
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()], result.stderr
    detail = (
        r"it needed more than the .* that were free when it began "
        r"\(the disk filled after .* of it\)"
    )
    assert_one_line(result.stderr, "probe", output, detail)
    assert "Exception ignored" not in result.stderr and "Traceback" not in result.stderr
    assert files_left(small_disk) == ["ballast"]
    assert free_bytes(small_disk) > 250_000  # the partial file's space came back


def assert_one_line(text, stage, path, detail):
    import re

    pattern = ONE_LINE.format(stage=stage, path=re.escape(str(path)), detail=detail)
    assert re.fullmatch(pattern, text.strip()), text


DUMP_STAGE = """
from mnist_filters.stages.activations import dump_activations

def main():
    model, images, labels, output, compression = sys.argv[1:]
    dump_activations(model, images, labels, output, layers=["conv1"], batch_size=100,
                     compression=compression, chunk_bytes=1 << 20)
"""


@pytest.mark.slow
@pytest.mark.parametrize("compression", ["none", "lzf"])
def test_the_dump_refuses_early_what_cannot_fit(tiny_run, small_disk, tmp_path, compression):
    """500 test images of conv1: 4.1 MB before compression. Refused before writing when its size
    is known (no compression), otherwise as soon as its first chunks on the disk, scaled to the
    whole file, show that it cannot fit (2 MB free: room for them, not for the rest)."""
    leave_free(small_disk, 2_000_000)
    resources = tiny_run / "resources" / "mnist"
    output = small_disk / "out" / "activations.h5"
    result = run_stage_script(
        DUMP_STAGE,
        tmp_path / "stage.log",
        tiny_run / "results" / "mnist" / "tiny" / "model.keras",
        resources / "t10k-images-idx3-ubyte.gz",
        resources / "t10k-labels-idx1-ubyte.gz",
        output,
        compression,
    )
    assert result.returncode == 1, result.stderr
    needed = "4.1 MB" if compression == "none" else r"\d+(\.\d)? MB"
    assert_one_line(result.stderr, "probe", output, rf"it needs about {needed} and .* are free")
    assert files_left(small_disk) == ["ballast"]


def test_a_checkpoint_that_does_not_fit_is_refused_before_it_is_written(small_disk):
    from test_checkpoints import KEY, checkpoint

    from mnist_filters.checkpoints import CheckpointStore

    leave_free(small_disk, 200_000)
    store = CheckpointStore(small_disk / "checkpoints", KEY)
    with pytest.raises(
        DiskFull, match=r"step-000000100\.h5: it needs about 5\d\d kB and 19\d kB are free"
    ):
        store.save(checkpoint(100))  # 64x1024 float32 weights, and their optimiser's moments
    assert not list(store.folder.iterdir())
