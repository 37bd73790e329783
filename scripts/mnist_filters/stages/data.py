"""The data stage: a data set's four files in resources/<set>/, downloaded, copied,
generated or made from your own images, always checked.

resources/<data set>/train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz: the set's files, byte for byte as
downloaded (size and md5 checked against the canonical files) or copied from
`data.local_dir` (checked structurally: gzip, IDX magic, counts, image size, labels), or,
for `synthetic`, drawn by mnist_filters/synthetic.py (the same bytes on every machine with
the pinned packages). A set served as one archive (CIFAR-10) is downloaded or read from
`data.local_dir`, checked against its canonical md5, and read (mnist_filters/cifar.py) into
those four files: colour images are IDX files of (N, rows, cols, 3).
resources/<data set>/provenance.json: where and when the stage ran (mnist_filters/runlog.py).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from mnist_filters import cifar, own_images
from mnist_filters.atomic import atomic_outputs
from mnist_filters.dataset import (
    FILES,
    DataSet,
    check_mnist_files,
    local_files,
    md5_file,
    sha256_file,
)
from mnist_filters.download import Expected, download
from mnist_filters.errors import ConfigError, IdxFormatError
from mnist_filters.idx import write_idx
from mnist_filters.synthetic import write_digits

log = logging.getLogger(__name__)


def get_mnist(
    outputs: dict[str, str],
    *,
    data_set: DataSet,
    local_dir: str | None,
    mirrors: list[str],
    timeout: float,
    retries: int,
    retry_wait: float,
    image_shape: tuple[int, int],
    content_md5: dict[str, str] | None = None,
    local_dir_key: str = "data.local_dir",
    own: tuple[str, str, str] | None = None,
) -> dict[str, str]:
    """Fill `outputs` (key -> path, keys as in FILES) with `data_set`'s files; return each one's
    sha256.

    Downloads from `mirrors` are checked against the data set's canonical sizes and md5s.

    Files are written under temporary names and renamed into place only after all four
    pass the structural checks (and, given `content_md5` (file name -> md5), hold exactly
    those bytes), so a bad copy leaves nothing behind. `local_dir_key` names the setting
    `local_dir` comes from, for the errors. `own`: (data.format, data.path, the sha256 of
    their content planned with) of your own images (mnist_filters/own_images.py), read and
    written as IDX files instead.
    """
    keys = list(FILES)
    archive = data_set is not None and data_set.archive
    with atomic_outputs([outputs[k] for k in keys]) as temporaries:
        staged = dict(zip(keys, temporaries))
        if own is not None:
            fmt, path, planned = own
            log.info("reading your own images from %s (data.format: %s)", path, fmt)
            layout, arrays = own_images.read(fmt, path)
            if own_images.content_digest(fmt, path, None) != planned:
                raise ConfigError(
                    f"data.path {path}: changed while the workflow ran (its sha256 is not the "
                    "one planned with); run the workflow again"
                )
            for key, array in arrays.items():
                write_idx(staged[key], array)
            counts = check_mnist_files(staged, layout.image_shape, len(layout.classes))
            title = path
        elif archive:
            title = data_set.title
            if local_dir:
                source = _local_archive(data_set, local_dir, content_md5, local_dir_key)
                counts = _write_archive(data_set, source, staged, image_shape)
            else:  # downloaded beside the staged files, and gone once they are written
                with tempfile.TemporaryDirectory(dir=Path(staged["train_images"]).parent) as folder:
                    source = Path(folder) / data_set.archive
                    download(
                        data_set.archive,
                        mirrors,
                        source,
                        timeout=timeout,
                        retries=retries,
                        retry_wait=retry_wait,
                        expected=Expected(*data_set.canonical[data_set.archive]),
                        local_dir_key=local_dir_key,
                    )
                    counts = _write_archive(data_set, source, staged, image_shape)
        elif local_dir:
            title = data_set.title
            sources = local_files(local_dir)
            for source in sources.values():
                if not source.is_file():
                    raise FileNotFoundError(
                        f"{source}: not found; {local_dir_key} must hold "
                        + ", ".join(FILES.values())
                    )
            # Checked where they lie, so that an error names the user's file.
            counts = check_mnist_files(sources, image_shape)
            for key, source in sources.items():
                log.info("copying %s", source)
                shutil.copyfile(source, staged[key])
        elif data_set.generated is not None:
            title = data_set.title
            log.info("generating %d training and %d test images", *data_set.counts)
            write_digits(staged, *data_set.counts, **data_set.generated)
            counts = check_mnist_files(staged, image_shape)
        else:
            title = data_set.title
            for key in keys:
                size, md5 = data_set.canonical[FILES[key]]
                download(
                    FILES[key],
                    mirrors,
                    staged[key],
                    timeout=timeout,
                    retries=retries,
                    retry_wait=retry_wait,
                    expected=Expected(size, md5),
                    local_dir_key=local_dir_key,
                )
            counts = check_mnist_files(staged, image_shape)
        log.info(
            "%s checked: %d training and %d test images",
            title,
            counts["train"],
            counts["test"],
        )
        # downloads were checked against the canonical md5 already; a local copy is
        # checked against the md5 the workflow was planned with
        for key, name in FILES.items() if local_dir and content_md5 and not archive else ():
            if md5_file(staged[key]) != content_md5[name]:
                raise IdxFormatError(
                    local_files(local_dir)[key],
                    "changed while the workflow ran (its md5 is "
                    "not the one planned with); run the workflow again",
                )
        digests = {FILES[k]: sha256_file(staged[k]) for k in keys}
    for name, digest in digests.items():
        log.info("sha256 %s  %s", digest, name)
    return digests


def _local_archive(data_set: DataSet, local_dir, content_md5, local_dir_key) -> Path:
    """A set's archive in `local_dir`, holding the bytes the workflow was planned with."""
    source = data_set.source_files(local_dir)[data_set.archive]
    if not source.is_file():
        raise FileNotFoundError(f"{source}: not found; {local_dir_key} must hold it")
    planned = (content_md5 or {}).get(data_set.archive)
    if planned and md5_file(source) != planned:
        raise ConfigError(
            f"{source}: changed while the workflow ran (its md5 is not the one planned with); "
            "run the workflow again"
        )
    return source


def _write_archive(data_set: DataSet, source: Path, staged, image_shape) -> dict[str, int]:
    """The archive `source` read (mnist_filters/cifar.py) into the four files `staged`."""
    log.info("reading %s", source)
    classes, arrays = cifar.read_archive(source)
    if classes != data_set.classes:
        log.warning(
            "the archive names its classes %s; the workflow uses %s", classes, data_set.classes
        )
    for key, array in arrays.items():
        write_idx(staged[key], array)
    return check_mnist_files(staged, image_shape, len(data_set.classes))
