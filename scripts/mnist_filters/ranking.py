"""Top-k positions per filter over a stream of activation blocks, in O(k) state per filter.

The notebook ranks with np.argsort(H[..., f], axis=None)[-k:]: the k largest activations
of filter f over all test images and positions. We do the same, streaming (N, H, W, C)
blocks in image order, with ties broken deterministically: higher activation first, then
lower image index, then lower row, then lower column, i.e. lower flat position.

Because blocks arrive in increasing position order, once a filter holds k candidates a
new value must be strictly greater than its k-th best to enter (an equal value has a
larger position and loses the tie), so most of each block is dismissed by one vectorised
comparison against all filters' thresholds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np


class NonFiniteActivation(ValueError):
    """A filter's activations hold NaN or infinity (a diverged model): nothing to rank."""

    def __init__(self, filter: int, image: int, value: float):
        self.filter, self.image, self.value = filter, image, value
        super().__init__(f"filter {filter} has activation {value} (test image row {image})")


@dataclass(frozen=True)
class Hit:
    filter: int
    rank: int  # 1 = strongest
    image: int  # row of the streamed data (0-based)
    row: int
    col: int
    activation: float


def _best(values: np.ndarray, positions: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best (value desc, position asc) of the given candidates."""
    order = np.lexsort((positions, -values.astype(np.float64)))[:k]
    return values[order], positions[order]


def column_max(values: np.ndarray, group: int = 64) -> np.ndarray:
    """values.max(axis=0) of an (m, c) array, about 10x faster for small c.

    NumPy reduces a C-ordered array along axis 0 one short row at a time; folding `group`
    rows into one long row first lets it use wide vector instructions.
    """
    m, c = values.shape
    whole = m // group * group
    result = np.full(c, -np.inf, dtype=values.dtype)
    if whole:
        folded = np.ascontiguousarray(values[:whole]).reshape(whole // group, group * c)
        result = np.maximum(result, folded.max(axis=0).reshape(group, c).max(axis=0))
    if whole < m:
        result = np.maximum(result, values[whole:].max(axis=0))
    return result


def _largest(column: np.ndarray, k: int) -> np.ndarray:
    """Indices (ascending) of the k largest values; ties at the cut go to lower indices."""
    if len(column) <= k:
        return np.arange(len(column))
    cut = column[np.argpartition(column, len(column) - k)[len(column) - k :]].min()
    greater = np.flatnonzero(column > cut)
    equal = np.flatnonzero(column == cut)[: k - len(greater)]
    return np.sort(np.concatenate([greater, equal]))


class TopK:
    """Running top-k of every filter; feed blocks in image order, then call `hits`."""

    def __init__(
        self, k: int, filters: list[int], spatial: tuple[int, int], one_per_image: bool = False
    ):
        if k < 1:
            raise ValueError(f"top_k must be at least 1, got {k}")
        self.k = k
        self.filters = list(filters)
        self.height, self.width = spatial
        self.one_per_image = one_per_image
        self.images_seen = 0
        self.values = [np.empty(0, np.float32) for _ in self.filters]
        self.positions = [np.empty(0, np.int64) for _ in self.filters]

    def _thresholds(self) -> np.ndarray:
        return np.array(
            [v[-1] if len(v) == self.k else -np.inf for v in self.values], dtype=np.float64
        )

    def update(self, block: np.ndarray) -> None:
        """`block`: (n, H, W, C) activations of the next n images, all channels."""
        n = block.shape[0]
        first = self.images_seen
        self.images_seen += n
        everything = self.filters == list(range(block.shape[-1]))
        selected = block if everything else block[..., self.filters]
        per_image = self.height * self.width
        if self.one_per_image:
            flat = selected.reshape(n, per_image, len(self.filters))
            within = flat.argmax(axis=1)  # first maximum: lowest row, then col
            values = np.take_along_axis(flat, within[:, None, :], axis=1)[:, 0, :]
            positions = (first + np.arange(n, dtype=np.int64))[:, None] * per_image + within
        else:
            values = selected.reshape(n * per_image, len(self.filters))
            positions = None
        thresholds = self._thresholds()
        # One pass finds the filters this block can change at all; usually few once warm.
        maxima = column_max(values)
        # NaN and +inf show in the maxima; -inf in the minimum. A NaN would otherwise lose
        # every comparison and silently drop its filter from the ranking.
        if not (np.isfinite(maxima).all() and np.isfinite(selected.min())):
            self._refuse_non_finite(selected, first)
        for j in np.flatnonzero(maxima > thresholds):
            column = np.ascontiguousarray(values[:, j])
            if np.isfinite(thresholds[j]):
                where = np.flatnonzero(column > thresholds[j])
                if len(where) > self.k:
                    where = where[_largest(column[where], self.k)]
            else:
                where = _largest(column, self.k)
            if positions is None:
                candidate_positions = first * per_image + where.astype(np.int64)
            else:
                candidate_positions = positions[where, j]
            self.values[j], self.positions[j] = _best(
                np.concatenate([self.values[j], column[where]]),
                np.concatenate([self.positions[j], candidate_positions]),
                self.k,
            )

    def _refuse_non_finite(self, block: np.ndarray, first: int) -> None:
        bad = ~np.isfinite(block)
        image, row, col, j = (int(i[0]) for i in np.nonzero(bad))
        raise NonFiniteActivation(self.filters[j], first + image, float(block[image, row, col, j]))

    def hits(self) -> Iterator[Hit]:
        available = self.images_seen * (1 if self.one_per_image else self.height * self.width)
        if available < self.k:
            raise ValueError(
                f"top_k is {self.k} but only {available} positions exist "
                f"({self.images_seen} "
                f"images{'' if self.one_per_image else f' x {self.height}x{self.width}'})"
            )
        for j, f in enumerate(self.filters):
            for rank, (value, position) in enumerate(
                zip(self.values[j], self.positions[j]), start=1
            ):
                image, rest = divmod(int(position), self.height * self.width)
                row, col = divmod(rest, self.width)
                yield Hit(f, rank, image, row, col, float(value))


def top_k(
    blocks: Iterable[np.ndarray],
    k: int,
    filters: list[int],
    spatial: tuple[int, int],
    one_per_image: bool = False,
) -> list[Hit]:
    ranker = TopK(k, filters, spatial, one_per_image)
    for block in blocks:
        ranker.update(block)
    return list(ranker.hits())
