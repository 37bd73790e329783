"""Which training images each step sees: a pure function of (seed, step).

Each epoch is a fresh permutation drawn from a generator seeded by (seed, epoch); its
first floor(n / batch) * batch images form that epoch's batches, in order (the
remainder is dropped, as the notebook's loader reshuffled when a batch would not fit).
So a resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import numpy as np


def batches_per_epoch(n: int, batch_size: int) -> int:
    if batch_size <= 0 or batch_size > n:
        raise ValueError(f"batch size {batch_size} does not fit a training set of {n} images")
    return n // batch_size


def epoch_order(seed: int, epoch: int, n: int, batch_size: int) -> np.ndarray:
    """(batches_per_epoch, batch_size) training-set rows of one epoch."""
    per_epoch = batches_per_epoch(n, batch_size)
    permutation = np.random.default_rng([seed, epoch]).permutation(n)
    return permutation[: per_epoch * batch_size].reshape(per_epoch, batch_size)


def step_batches(seed: int, start: int, stop: int, n: int, batch_size: int) -> np.ndarray:
    """(stop - start, batch_size) training-set rows of steps start..stop-1."""
    per_epoch = batches_per_epoch(n, batch_size)
    rows = []
    for epoch in range(start // per_epoch, (max(stop, start + 1) - 1) // per_epoch + 1):
        order = epoch_order(seed, epoch, n, batch_size)
        first = max(start - epoch * per_epoch, 0)
        last = min(stop - epoch * per_epoch, per_epoch)
        rows.append(order[first:last])
    return np.concatenate(rows)[: stop - start].astype(np.int32)
