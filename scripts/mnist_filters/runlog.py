"""Send a stage's output to its Snakemake log, record where it ran, and report errors clearly."""

from __future__ import annotations

import datetime
import logging
import os
import platform
import socket
import sys
from typing import Callable

from mnist_filters.atomic import write_json_atomic
from mnist_filters.errors import ConfigError, Diverged, DownloadError, IdxFormatError, Interrupted

log = logging.getLogger("mnist_filters")

# Errors whose message says all a user needs; anything else also gets its traceback.
QUIET_ERRORS = (IdxFormatError, DownloadError, ConfigError, Interrupted, Diverged)  # their message says it all
USER_ERRORS = (*QUIET_ERRORS, ValueError, FileNotFoundError)


def provenance() -> dict:
    """Where and when this stage ran (on SLURM, the job id too)."""
    return {
        "hostname": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "started_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _redirect(log_path: str):
    """Point fds 1 and 2 (Python's and native libraries' output) at the log; keep the old stderr."""
    console = os.fdopen(os.dup(2), "w", buffering=1)
    handle = open(log_path, "a", buffering=1)
    os.dup2(handle.fileno(), 1)
    os.dup2(handle.fileno(), 2)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    return console


def run_stage(name: str, log_path: str | None, main: Callable[[], None], provenance_path: str | None = None) -> None:
    """Run `main` with output in `log_path`; on failure log it and tell the console, then exit 1.

    On success, `provenance_path` (when given) records where and when the stage ran.
    """
    console = _redirect(log_path) if log_path else sys.stderr
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    where = provenance()
    log.info("stage %s on host %s (SLURM job %s, pid %d)", name, where["hostname"],
             where["slurm_job_id"] or "none", where["pid"])
    try:
        main()
    except USER_ERRORS as error:
        log.error("%s failed: %s", name, error, exc_info=not isinstance(error, QUIET_ERRORS))
        print(f"{name} failed: {error}", file=console, flush=True)
        sys.exit(1)
    except BaseException as error:
        log.exception("%s failed", name)
        if not isinstance(error, SystemExit):
            print(f"{name} failed: {type(error).__name__}: {error} (traceback in {log_path})", file=console, flush=True)
        raise
    if provenance_path:
        finished = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        write_json_atomic(provenance_path, {"stage": name, **where, "finished_at": finished})
    log.info("stage %s done", name)
