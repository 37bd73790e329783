"""Write outputs so that a killed job never leaves a valid-looking partial file, and so that a
full disk is one clear error (DiskFull: the file, what it needed, what was free), not a
library's raw one."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from mnist_filters.errors import DiskFull

# The errno of a write that found no room: no space left, or the user's quota used up.
NO_ROOM = (errno.ENOSPC, errno.EDQUOT)


def partial_path(path: Path) -> Path:
    """A hidden sibling of `path` with the same suffix (Keras and h5py look at it)."""
    return path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def free_bytes(path: str | os.PathLike) -> int:
    """Bytes free for this user on the file system that holds `path` (or would hold it)."""
    folder = Path(path).absolute()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def require_space(path: str | os.PathLike, needed: int) -> None:
    """Refuse, before writing, an output of about `needed` bytes that its disk cannot hold."""
    free = free_bytes(path)
    if needed > free:
        raise DiskFull(path, free, needed=needed)


def require_room_to_finish(
    temporary: str | os.PathLike, final: str | os.PathLike, done: int, total: int
) -> None:
    """While writing `final` (to `temporary`) in `total` like parts: refuse as soon as the
    `done` parts' share of the disk, scaled to the whole, would not fit, instead of waiting
    for the disk to fill (for a compressed file, whose size only its first parts can tell)."""
    used = used_bytes(temporary)
    if used and done < total:
        needed = used * total // done
        free = free_bytes(final) + used
        if needed > free:
            raise DiskFull(final, free, needed=needed)


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` is a write that found no room: an OSError's errno, or HDF5's message
    (h5py reports the C library's failure as text)."""
    if isinstance(error, DiskFull):
        return False  # already worded
    if isinstance(error, OSError) and error.errno in NO_ROOM:
        return True
    text = str(error)
    return (
        any(f"errno = {number}," in text for number in NO_ROOM) or os.strerror(errno.ENOSPC) in text
    )


def used_bytes(path: str | os.PathLike) -> int:
    """Bytes a file (or a folder's files) takes on its disk: its blocks, not its apparent size."""
    path = Path(path)
    files = (
        [p for p in path.rglob("*") if p.is_file()]
        if path.is_dir()
        else [path]
        if path.exists()
        else []
    )
    return sum(p.stat().st_blocks * 512 for p in files)


@contextlib.contextmanager
def _no_room_named(final: Path, temporaries: list[Path]) -> Iterator[None]:
    """A write that found no room, raised in the block, as DiskFull naming `final`, what had
    been written and what was free when the block began."""
    free = free_bytes(final)
    try:
        yield
    except Exception as error:
        if not is_disk_full(error):
            raise
        written = sum(used_bytes(t) for t in temporaries)
        raise DiskFull(final, free, written=written) from None


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to `path` only if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = partial_path(final)
    try:
        with _no_room_named(final, [temporary]):
            yield temporary
            _fsync(temporary)
            os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_outputs(paths: list[str | os.PathLike]) -> Iterator[list[Path]]:
    """Several outputs of one step: none is renamed into place unless all were written."""
    finals = [Path(p) for p in paths]
    temporaries = [partial_path(p) for p in finals]
    for final in finals:
        final.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _no_room_named(finals[0].parent, temporaries):
            yield temporaries
            for temporary in temporaries:
                _fsync(temporary)
            for temporary, final in zip(temporaries, finals):
                os.replace(temporary, final)
    finally:
        for temporary in temporaries:
            temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary folder; it replaces `path` only if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.partial-{os.getpid()}")
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    try:
        with _no_room_named(final, [temporary]):
            yield temporary
            shutil.rmtree(final, ignore_errors=True)
            os.replace(temporary, final)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    with atomic_output(path) as temporary:
        temporary.write_bytes(data)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: object) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
