"""TensorFlow's start-up banners left out of a stage's log and of the terminal, by exact
pattern: the filter process that every stage's output passes through (QuietOutput).

It can change no output of the workflow, only what a log shows, so the code digests leave it
out (CHANGES_NO_OUTPUT): an edit to a pattern reruns nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

# The code digests leave this module out (mnist_filters/code_digest.py): nothing it does
# reaches a rule's outputs.
CHANGES_NO_OUTPUT = True

# Lines TensorFlow's C++ side prints on every start of a CPU-only process, before and after
# absl's logging starts (TF_CPP_MIN_LOG_LEVEL cannot reach the former, and would hide real
# warnings too). Each pattern is a whole line: anything else, W and E lines included, is kept.
_NATIVE = r"[IWE]\d{4} \S+\s+\d+ "
STARTUP_NOISE = re.compile(
    "|".join(
        [
            r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to "
            r"STDERR",
            _NATIVE + r"cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, "
            r"GPU will not be used\.",
            _NATIVE
            + r"cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized to use available "
            r"CPU instructions in performance-critical operations\.",
            r"To enable the following instructions: [\w ,.-]+, in other operations, rebuild "
            r"TensorFlow with the appropriate compiler flags\.",
            _NATIVE + r"port\.cc:\d+\] oneDNN custom operations are on\. .*",
            _NATIVE + r"service\.cc:\d+\] (XLA service 0x[0-9a-f]+ initialized for platform Host .*"
            r"|  StreamExecutor (\[\d+\]|device \(\d+\)): Host, Default Version.*)",
            _NATIVE
            + r"device_compiler\.h:\d+\] Compiled cluster using XLA!  This line is logged at "
            r"most once for the lifetime of the process\.",
            _NATIVE + r"dump_mlir_util\.cc:\d+\] disabling MLIR crash reproducer, .*",
            _NATIVE
            + r"mlir_graph_optimization_pass\.cc:\d+\] MLIR V1 optimization pass is not enabled",
            _NATIVE + r"\w+\.cc:\d+\] Unable to register cu(DNN|FFT|BLAS) factory: Attempting to "
            r"register factory for plugin cu\w+ when one has already been registered",
            _NATIVE + r"computation_placer\.cc:\d+\] computation placer already registered\. .*",
        ]
    )
)
# On a machine without a GPU driver, cuInit's failure is noise too; kept when a job asked for GPUs.
NO_GPU = re.compile(
    _NATIVE + r"cuda_(platform|driver|executor)\.cc:\d+\] failed call to cuInit: .*"
)


def is_startup_noise(line: str, gpus_wanted: bool = False) -> bool:
    line = line.rstrip("\r\n")
    return bool(STARTUP_NOISE.fullmatch(line) or (not gpus_wanted and NO_GPU.fullmatch(line)))


def copy_without_noise(source: BinaryIO, destination: BinaryIO, gpus_wanted: bool = False) -> None:
    """Copy `source` to `destination` line by line as it comes, leaving out TensorFlow's start-up
    banners."""
    for line in source:
        if not is_startup_noise(line.decode("utf-8", "replace"), gpus_wanted):
            destination.write(line)
            destination.flush()


class QuietOutput:
    """`fds` (1 and 2: Python's and native libraries' output) sent to `destination` through a
    filter process that leaves out the start-up banners (see copy_without_noise).

    A process, not a thread: when this one dies abruptly (a native abort, a kill), the filter
    still reads what was written before, so the last words reach the log. It ignores the
    signals meant for the stage (STOP_SIGNALS), which must be able to log how it stopped.
    """

    def __init__(
        self, destination: BinaryIO, gpus_wanted: bool = False, fds: tuple[int, ...] = (1, 2)
    ):
        self.terminal = os.fdopen(os.dup(2), "w", buffering=1)
        package_root = str(Path(__file__).resolve().parents[1])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [package_root, os.environ.get("PYTHONPATH")])
            ),
        }
        self.filter = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mnist_filters.log_filter",
                *(["--gpus-wanted"] if gpus_wanted else []),
            ],
            stdin=subprocess.PIPE,
            stdout=destination,
            stderr=self.terminal,
            env=env,
            start_new_session=True,
        )
        sys.stdout.flush()
        sys.stderr.flush()
        self.saved = {fd: os.dup(fd) for fd in fds}
        for fd in fds:
            os.dup2(self.filter.stdin.fileno(), fd)
        self.filter.stdin.close()
        if 1 in fds:
            sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
        if 2 in fds:
            sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)

    def close(self) -> None:
        """Hand the fds back to what they were and wait for the filter to finish."""
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in self.saved.items():
            os.dup2(saved, fd)
            os.close(saved)
        try:
            self.filter.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.filter.kill()


@contextlib.contextmanager
def startup_noise_left_out():
    """Stderr without TensorFlow's start-up banners, for a process that is no stage (make
    verify)."""
    with os.fdopen(os.dup(2), "wb") as stderr:
        output = QuietOutput(stderr, fds=(2,))
    try:
        yield
    finally:
        output.close()


# What a terminal, Snakemake or SLURM (--signal=USR1@90, scancel, a time limit) sends a job
# to stop it: the filter outlives them all, so that the stage's last lines reach the log.
STOP_SIGNALS = (
    "SIGINT",
    "SIGTERM",
    "SIGHUP",
    "SIGQUIT",
    "SIGUSR1",
    "SIGUSR2",
    "SIGALRM",
    "SIGXCPU",
)

if __name__ == "__main__":  # the filter process of QuietOutput
    for name in STOP_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    parser = argparse.ArgumentParser(
        description="stdin to stdout without TensorFlow's start-up banners"
    )
    parser.add_argument("--gpus-wanted", action="store_true")
    copy_without_noise(sys.stdin.buffer, sys.stdout.buffer, parser.parse_args().gpus_wanted)
