"""What a finished workflow run prints last: where to look (Snakemake's onsuccess hook).

Without it a run ends in Snakemake's listing of the `all` rule's inputs, some forty paths,
with no word on which to open.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

# The command that writes the report; `make demo` names its own (it writes one itself).
REPORT_ENV = "MNIST_FILTERS_REPORT"
REPORT = "report.html, written by `make report` (with this run's CONFIG=, SET= and DATA=)"


def where_to_look(
    galleries: Mapping[str, str | os.PathLike],
    folders: Sequence[str | os.PathLike] = (),
    report: str | None = None,
) -> str:
    """The closing lines: each run's gallery (run -> index.html) and each comparison's or
    experiment's folder, those that exist (a run asked for one file makes no gallery),
    then where the HTML report is or will be."""
    lines = []
    shown = {run: path for run, path in galleries.items() if Path(path).is_file()}
    if shown:
        lines.append("Each run's gallery, to open in a browser:")
        width = max(map(len, shown))
        lines += [f"  {run:<{width}}  {path}" for run, path in shown.items()]
    made = [str(folder) for folder in folders if Path(folder).is_dir()]
    if made:
        lines.append("The comparisons' tables and figures: " + ", ".join(made))
    lines.append(
        "The HTML report of every result: " + (report or os.environ.get(REPORT_ENV) or REPORT)
    )
    return "\n".join(lines)
