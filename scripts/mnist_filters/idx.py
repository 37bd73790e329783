"""The one reader (and writer) of IDX files, the format MNIST ships in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the items in C order. MNIST
ships them gzip-compressed; plain files are read too.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mnist_filters.atomic import atomic_output
from mnist_filters.errors import IdxFormatError

# IDX type code -> big-endian NumPy dtype
DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CODES = {
    dtype.newbyteorder(">") if dtype.itemsize > 1 else dtype: code for code, dtype in DTYPES.items()
}
GZIP_MAGIC = b"\x1f\x8b"


@contextlib.contextmanager
def _gzip_errors_named(path: str | os.PathLike) -> Iterator[None]:
    """A cut-short or corrupt gzip stream read in the block, as an IdxFormatError naming `path`."""
    try:
        yield
    except EOFError:
        raise IdxFormatError(
            path, "gzip stream is truncated (the download or copy was cut short)"
        ) from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise IdxFormatError(path, f"gzip stream is corrupt ({error})") from None


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IdxFormatError(path, "file not found") from None
    except IsADirectoryError:
        raise IdxFormatError(path, "is a directory, not an IDX file") from None
    if not raw:
        raise IdxFormatError(path, "file is empty")
    if raw[:2] != GZIP_MAGIC:
        return raw
    with _gzip_errors_named(path):
        data = gzip.decompress(raw)
    if not data:
        raise IdxFormatError(path, "gzip stream holds no data")
    return data


def parse_header(path: str | os.PathLike, data: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    """Return (dtype, dims, offset of the first item) or raise IdxFormatError."""
    if len(data) < 4:
        raise IdxFormatError(path, f"too short for an IDX header ({len(data)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in DTYPES:
        raise IdxFormatError(
            path,
            f"wrong magic number 0x{data[:4].hex()} (an IDX file starts with 0x0000, "
            f"a type code in {sorted(hex(c) for c in DTYPES)} and the number of dimensions)",
        )
    if ndim == 0:
        raise IdxFormatError(path, "header declares zero dimensions")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise IdxFormatError(
            path, f"header declares {ndim} dimensions but the file ends inside the header"
        )
    dims = struct.unpack(f">{ndim}I", data[4:offset])
    return DTYPES[code], dims, offset


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a (possibly gzipped) IDX file into a native-endian array, checking its length."""
    path = Path(path)
    data = _read_bytes(path)
    dtype, dims, offset = parse_header(path, data)
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - offset
    if actual != expected:
        shape = "x".join(map(str, dims))
        relation = "exceeds" if expected > actual else "is less than"
        raise IdxFormatError(
            path,
            f"header declares {dims[0]} items of shape {shape} ({expected} bytes), which "
            f"{relation} "
            f"the {actual} bytes of data the file holds",
        )
    array = np.frombuffer(data, dtype=dtype, offset=offset).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False)


def read_idx_dims(path: str | os.PathLike) -> tuple[int, ...]:
    """The dimensions in an IDX file's header, reading only the header (cheap on big files)."""
    stream = iter_idx(path, 1)
    try:
        return next(stream)[1]
    finally:
        stream.close()


def iter_idx(path: str | os.PathLike, rows: int):
    """Yield (dtype, dims) first, then successive arrays of up to `rows` items, streaming.

    Memory stays at one batch however large the file; the length checks of read_idx are
    made as the data arrives (a short file fails at its end, a long one after the last item).
    """
    path = Path(path)
    try:
        with open(path, "rb") as probe:
            magic = probe.read(2)
    except FileNotFoundError:
        raise IdxFormatError(path, "file not found") from None
    if not magic:
        raise IdxFormatError(path, "file is empty")
    opener = gzip.open if magic == GZIP_MAGIC else open
    with _gzip_errors_named(path):
        with opener(path, "rb") as handle:
            head = handle.read(4)
            ndim = head[3] if len(head) == 4 else 0
            head += handle.read(4 * ndim)
            dtype, dims, _ = parse_header(path, head)
            yield dtype, dims
            row_bytes = int(np.prod(dims[1:], dtype=np.int64)) * dtype.itemsize
            for start in range(0, dims[0], rows):
                count = min(rows, dims[0] - start)
                data = handle.read(count * row_bytes)
                if len(data) != count * row_bytes:
                    got = start * row_bytes + len(data)
                    raise IdxFormatError(
                        path,
                        f"header declares {dims[0]} items ({dims[0] * row_bytes} bytes), "
                        f"which exceeds the {got} bytes of data the file holds",
                    )
                array = np.frombuffer(data, dtype=dtype).reshape(count, *dims[1:])
                yield array.astype(dtype.newbyteorder("="), copy=False)
            if handle.read(1):
                raise IdxFormatError(
                    path, f"holds more data than the {dims[0]} items its header declares"
                )


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes (uncompressed) of an array."""
    big_endian = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if big_endian not in CODES:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    header = struct.pack(">HBB", 0, CODES[big_endian], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=big_endian).tobytes()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write `array` as a gzipped IDX file, atomically. mtime=0 keeps the bytes reproducible."""
    with atomic_output(path) as temporary, open(temporary, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as handle:
            handle.write(encode_idx(array))
