"""Many figures of one kind, fast: each layout built once and redrawn per item, by several
processes.

Building a figure's axes costs more than drawing into them, so a `Sheet` keeps its axes
and only its images and texts change from item to item; items of equal layout share one.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from mnist_filters.stages.figures.style import plt, save


class Sheet:
    """A figure built for one layout and redrawn for each item of that layout."""

    figure: plt.Figure

    @staticmethod
    def layout_of(*content) -> Hashable:
        """What a sheet must be built for to draw `content` (items with equal layouts share a
        sheet)."""
        raise NotImplementedError

    def __init__(self, layout: Hashable):
        raise NotImplementedError

    def draw(self, *content) -> None:
        raise NotImplementedError


def _draw_share(
    kind: type[Sheet], folder: Path, dpi: int, sheets: Sequence[tuple[str, tuple]]
) -> None:
    built: dict[Hashable, Sheet] = {}
    for name, content in sheets:
        layout = kind.layout_of(*content)
        if layout not in built:
            built[layout] = kind(layout)
        built[layout].draw(*content)
        save(built[layout].figure, folder / name, dpi, close=False)
    for sheet in built.values():
        plt.close(sheet.figure)


def draw_sheets(
    kind: type[Sheet],
    folder: Path,
    dpi: int,
    sheets: Sequence[tuple[str, tuple]],
    *,
    workers: int = 1,
    meanwhile: Callable[[], None] = lambda: None,
) -> None:
    """Each (file name, content) of `sheets` drawn by a `kind` sheet into `folder`, by `workers`
    processes, this one included, which also calls `meanwhile` (other figures) after its share.
    The files are the same for any number of workers."""
    if workers == 1:
        _draw_share(kind, folder, dpi, sheets)
        meanwhile()
        return
    # fork: the workers start with matplotlib imported and drawing begins at once
    with ProcessPoolExecutor(workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
        drawn = [
            pool.submit(_draw_share, kind, folder, dpi, sheets[i::workers])
            for i in range(1, workers)
        ]
        _draw_share(kind, folder, dpi, sheets[::workers])
        meanwhile()
        for future in drawn:
            future.result()
