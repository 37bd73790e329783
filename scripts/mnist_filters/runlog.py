"""Send a stage's output to its Snakemake log without TensorFlow's start-up banners, keep the
terminal for progress lines, record where the stage ran, and report errors clearly.

results/<data set>/{run}/provenance/<rule>.json (resources/<data set>/provenance.json for
the data stage): `stage`, `hostname`, `slurm_job_id` (null off a cluster), `pid`, `python`,
and `started_at` and `finished_at` in UTC (ISO 8601)."""

from __future__ import annotations

import datetime
import logging
import os
import platform
import socket
import sys
from collections.abc import Callable
from typing import TextIO

from mnist_filters.atomic import write_json_atomic
from mnist_filters.errors import (
    ConfigError,
    DiskFull,
    Diverged,
    DownloadError,
    IdxFormatError,
    Interrupted,
)
from mnist_filters.log_filter import QuietOutput

log = logging.getLogger("mnist_filters")

# Errors whose message says all a user needs; anything else also gets its traceback.
QUIET_ERRORS = (
    DiskFull,
    IdxFormatError,
    DownloadError,
    ConfigError,
    Interrupted,
    Diverged,
)  # their message says it all
USER_ERRORS = (*QUIET_ERRORS, ValueError, FileNotFoundError)


def provenance() -> dict:
    """Where and when this stage ran (on SLURM, the job id too)."""
    return {
        "hostname": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "started_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


_terminal: TextIO | None = None


def terminal() -> TextIO:
    """Where a stage's progress lines go: the terminal (or job output) the stage was started
    from."""
    return _terminal or sys.stderr


def run_stage(
    name: str,
    log_path: str | None,
    main: Callable[[], None],
    provenance_path: str | None = None,
    *,
    gpus_wanted: bool = False,
) -> None:
    """Run `main` with output in `log_path`; on failure log it and tell the terminal, then exit 1.

    On success, `provenance_path` (when given) records where and when the stage ran.
    `gpus_wanted`: the job asked for GPUs, so a failure to reach one is no banner.
    """
    global _terminal
    output = None
    if log_path:
        with open(log_path, "ab") as handle:
            output = QuietOutput(handle, gpus_wanted)
    _terminal = output.terminal if output else sys.stderr
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    where = provenance()
    log.info(
        "stage %s on host %s (SLURM job %s, pid %d)",
        name,
        where["hostname"],
        where["slurm_job_id"] or "none",
        where["pid"],
    )
    try:
        main()
    except DiskFull as error:
        log.error("%s failed: %s", name, error)
        print(f"{name} failed: {error}", file=terminal(), flush=True)
        if output:
            output.close()
        logging.shutdown()
        # Straight out: HDF5 files whose close failed on the full disk make the interpreter's
        # teardown crash (SIGSEGV) when h5py frees them. Nothing is left to clean up: the
        # partial output is gone (mnist_filters.atomic), and the space it held is freed as the
        # process ends.
        os._exit(1)
    except USER_ERRORS as error:
        log.error("%s failed: %s", name, error, exc_info=not isinstance(error, QUIET_ERRORS))
        print(f"{name} failed: {error}", file=terminal(), flush=True)
        raise SystemExit(1) from None
    except SystemExit:
        log.exception("%s failed", name)
        raise
    except BaseException as error:
        log.exception("%s failed", name)
        print(
            f"{name} failed: {type(error).__name__}: {error} (traceback in {log_path})",
            file=terminal(),
            flush=True,
        )
        raise SystemExit(1) from None
    else:
        if provenance_path:
            finished = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
            write_json_atomic(provenance_path, {"stage": name, **where, "finished_at": finished})
        log.info("stage %s done", name)
    finally:
        if output:
            output.close()
            _terminal = None
