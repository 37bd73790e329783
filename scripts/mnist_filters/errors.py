"""The errors whose message tells a user all they need: the file or setting, and the problem.

They live in one small module so that every stage can recognise them without importing
the modules that raise them (a rule's code digest then covers only what it really runs).
"""

from __future__ import annotations

import os


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
