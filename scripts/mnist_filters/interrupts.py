"""Turn the signals that end a job (Ctrl-C, `kill`, SLURM's time-limit warning) into a flag.

Training polls the flag between chunks of steps, saves a checkpoint and stops, instead
of dying mid-write. SIGKILL cannot be caught; the periodic checkpoints cover it.
"""

from __future__ import annotations

import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)


class StopSignals:
    """Within `with StopSignals() as stop:`, `stop.received` names the first stop signal caught."""

    def __init__(self, signals=STOP_SIGNALS):
        self.signals = signals
        self.received: str | None = None
        self._previous = {}

    def _handle(self, signum, frame):
        if self.received is None:
            self.received = signal.Signals(signum).name

    def __enter__(self) -> StopSignals:
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
