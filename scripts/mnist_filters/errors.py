"""The errors whose message tells a user all they need: the file or setting, and the problem.

They live in one small module so that every stage can recognise them without importing
the modules that raise them (a rule's code digest then covers only what it really runs).
"""

from __future__ import annotations

import os


def did_you_mean(word: str, known) -> str:
    """ "did you mean 'x'? " for the closest of `known` to a mistyped `word`, or nothing."""
    import difflib

    guess = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"did you mean {guess[0]!r}? " if guess else ""


class ConfigError(ValueError):
    """A setting in the config is unusable; the message names it."""


class IdxFormatError(ValueError):
    """A file is not a well-formed IDX file; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class DownloadError(RuntimeError):
    """No mirror served an intact copy of a file."""


class Interrupted(RuntimeError):
    """Training stopped on a signal after saving a checkpoint."""


class Diverged(RuntimeError):
    """Training produced a non-finite loss: the run's settings make it diverge."""


def size_text(count: int) -> str:
    """A byte count as a person reads it: '70.3 MB', '512 kB' (powers of 1000, as df -H)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return (
                f"{count / scale:.1f} {unit}"
                if count < 100 * scale
                else f"{count / scale:.0f} {unit}"
            )
    return f"{count} bytes"


class DiskFull(OSError):
    """An output does not fit on its disk: the message names the file, about how much it needs
    (or had written when the disk filled) and how much is free."""

    def __init__(
        self,
        path: str | os.PathLike,
        free: int,
        needed: int | None = None,
        written: int | None = None,
    ):
        self.path, self.free, self.needed, self.written = str(path), free, needed, written
        if needed is not None:
            detail = f"it needs about {size_text(needed)} and {size_text(free)} are free"
        else:
            detail = (
                f"it needed more than the {size_text(free)} that were free when it began "
                f"(the disk filled after {size_text(written or 0)} of it)"
            )
        super().__init__(f"no space left on the disk for {path}: {detail}")
