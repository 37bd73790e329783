"""Progress lines on the terminal while a stage runs: how far it is, how fast, and how long is left.

A stage's own output goes to its log (see mnist_filters.runlog); these lines go to the
terminal Snakemake runs in (under SLURM, to the job's output file), as

    seed train: step 300/2000, batch accuracy 0.940, validation accuracy 0.9012, 2150 examples/s, 21
    s left

Each line names its run and stage, so that jobs running side by side stay readable, and
each is a whole line written at once. A terminal gets the same plain lines as a pipe: a
job cannot know whether Snakemake or another job writes to the terminal too, and either
would break a line that updates in place.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

# The code digests leave this module out (mnist_filters/code_digest.py): it decides
# what the terminal shows while a stage runs, nothing a rule writes.
CHANGES_NO_OUTPUT = True

# A stage that ends within this many seconds prints no progress; a longer one, a line this often.
PROGRESS_AFTER_SECONDS = 3.0
PROGRESS_EVERY_SECONDS = 2.0


def duration(seconds: float) -> str:
    """'7 s', '3 min 05 s', '1 h 02 min'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class Progress:
    """One line per update of a task that counts up to `total`, with the time left at the pace so
    far.

    Lines start `after_seconds` into the task (a task that ends sooner prints none) and come at
    most every `every_seconds`; once any line is printed, the last update (done == total) prints
    too.
    `start` is where the count begins (a resumed training's first step).
    """

    def __init__(
        self,
        label: str,
        total: int,
        stream: TextIO | None = None,
        *,
        start: int = 0,
        after_seconds: float = 0.0,
        every_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label, self.total, self.start = label, total, start
        self.stream = stream or sys.stderr
        self.after_seconds, self.every_seconds, self.clock = after_seconds, every_seconds, clock
        self.started = clock()
        self.last_line: float | None = None

    def per_second(self, done: int) -> float | None:
        """Counts per second since the start, or None before there is a pace."""
        elapsed = self.clock() - self.started
        return (done - self.start) / elapsed if done > self.start and elapsed > 0 else None

    def update(self, done: int, *fields: str) -> bool:
        """Print `<label>: <fields>, <time> left` if a line is due; say whether one was printed."""
        now = self.clock()
        final = done >= self.total
        if self.last_line is None:
            due = now - self.started >= self.after_seconds
        else:
            due = final or now - self.last_line >= self.every_seconds
        if not due:
            return False
        pace = self.per_second(done)
        left = (
            "0 s left"
            if final
            else f"{duration((self.total - done) / pace)} left"
            if pace
            else "time left unknown"
        )
        self.stream.write(f"{self.label}: {', '.join((*fields, left))}\n")
        self.stream.flush()
        self.last_line = now
        return True

    def count(self, done: int, unit: str) -> bool:
        """`update` with `<done>/<total> <unit>, <rate> <unit>/s`."""
        pace = self.per_second(done)
        return self.update(
            done, f"{done}/{self.total} {unit}", f"{pace:.0f} {unit}/s" if pace else f"-- {unit}/s"
        )


def stage_progress(run: str, stage: str, total: int, stream: TextIO | None = None) -> Progress:
    """Progress of a stage that is often quick: silent for its first PROGRESS_AFTER_SECONDS, then
    a line every PROGRESS_EVERY_SECONDS, each named `<run> <stage>`."""
    return Progress(
        f"{run} {stage}" if run else stage,
        total,
        stream,
        after_seconds=PROGRESS_AFTER_SECONDS,
        every_seconds=PROGRESS_EVERY_SECONDS,
    )
