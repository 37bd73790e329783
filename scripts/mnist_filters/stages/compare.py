"""The comparison table of a sweep (or of the `runs:` map): runs.csv, and its terminal view.

runs.csv has one row per run, in the sweep's order: the run's name, the settings that
differ among the runs (one column each, named by their dotted path), then what each run
measured (MEASURES): test_accuracy, test_loss, best_validation_accuracy and
best_validation_step (from training_log.csv), train_seconds, train_examples_per_second
and weights_sha256 (from metrics.json). Plain CSV: floats exact, lists as JSON, missing
values empty.

`python -m mnist_filters.stages.compare results/*/sweeps/*/runs.csv` (`make compare`)
prints each table aligned and sorted by test accuracy, best first.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Any

from mnist_filters.atomic import write_text_atomic
from mnist_filters.formats.training_log import read_training_log
from mnist_filters.sweeps import short_keys

# Column titles of the terminal table (runs.csv keeps the full names).
SHORT_TITLES = {
    "test_accuracy": "test acc",
    "test_loss": "test loss",
    "best_validation_accuracy": "best val acc",
    "best_validation_step": "at step",
    "train_seconds": "train s",
    "train_examples_per_second": "ex/s",
    "weights_sha256": "weights sha256",
}
MEASURES = (
    "test_accuracy",
    "test_loss",
    "best_validation_accuracy",
    "best_validation_step",
    "train_seconds",
    "train_examples_per_second",
    "weights_sha256",
)


def cell(value: Any) -> str:
    """A value as a CSV field: floats by their shortest exact repr, lists as JSON, None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def best_validation(training_log: str) -> tuple[float | None, int | None]:
    """The highest validation accuracy in a run's training_log.csv and its first step (None
    without validation)."""
    best, at = None, None
    for row in read_training_log(training_log):
        if row.has_validation and (best is None or row.validation_accuracy > best):
            best, at = row.validation_accuracy, row.step
    return best, at


def compare_runs(
    metrics: list[str], training_logs: list[str], output: str, *, swept: dict[str, dict]
) -> None:
    """Write runs.csv for the runs named by `swept` (run -> {setting: value}); the inputs are in
    its order."""
    runs = list(swept)
    if len(metrics) != len(runs) or len(training_logs) != len(runs):
        raise ValueError(
            f"{len(runs)} runs but {len(metrics)} metrics.json and {len(training_logs)} training "
            f"logs"
        )
    settings = list(dict.fromkeys(key for values in swept.values() for key in values))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["run", *settings, *MEASURES])
    for run, metrics_path, log_path in zip(runs, metrics, training_logs):
        for path in (metrics_path, log_path):
            if Path(path).parent.name != run:
                raise ValueError(
                    f"{path} is not an output of run {run}: the inputs are out of order"
                )
        measured = json.loads(Path(metrics_path).read_text())
        best, step = best_validation(log_path)
        values = {**measured, "best_validation_accuracy": best, "best_validation_step": step}
        writer.writerow(
            [
                run,
                *(cell(swept[run].get(key)) for key in settings),
                *(cell(values.get(key)) for key in MEASURES),
            ]
        )
    write_text_atomic(output, buffer.getvalue())


def read_table(path: str | Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _shown(column: str, text: str) -> str:
    """A field as the terminal table shows it: measures rounded, digests shortened."""
    if not text:
        return "-"
    if column == "weights_sha256":
        return text[:12]
    if column in ("test_accuracy", "best_validation_accuracy", "test_loss"):
        return f"{float(text):.4f}"
    if column in ("train_seconds", "train_examples_per_second"):
        return f"{float(text):,.0f}" if float(text) >= 100 else f"{float(text):.1f}"
    return text


def aligned_table(columns: list[str], rows: list[dict[str, str]]) -> str:
    """The table as aligned text, best test accuracy first (as `dvc exp show`): numbers
    right-aligned."""
    ordered = sorted(
        rows, key=lambda row: -float(row["test_accuracy"]) if row["test_accuracy"] else math.inf
    )
    cells = [[_shown(column, row[column]) for column in columns] for row in ordered]
    numeric = [
        column != "run" and all(_is_number(line[i]) for line in cells)
        for i, column in enumerate(columns)
    ]

    settings = short_keys([c for c in columns if c != "run" and c not in MEASURES])
    titles = [SHORT_TITLES.get(column, settings.get(column, column)) for column in columns]
    widths = [max(len(title), *(len(line[i]) for line in cells)) for i, title in enumerate(titles)]

    def line(fields):
        return "  ".join(
            f.rjust(w) if right else f.ljust(w) for f, w, right in zip(fields, widths, numeric)
        ).rstrip()

    return "\n".join(
        [line(titles), line(["-" * w for w in widths]), *(line(fields) for fields in cells)]
    )


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return text == "-"
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Print comparison tables (runs.csv) aligned, best test accuracy first."
    )
    parser.add_argument(
        "tables",
        nargs="*",
        type=Path,
        help="runs.csv files (results/<data set>/sweeps/<name>/runs.csv)",
    )
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.tables if not path.is_file()]
    if missing:
        print(
            f"No comparison table at {', '.join(missing)}: is the name right, and has `make run` "
            f"made it?",
            file=sys.stderr,
        )
        return 1
    tables = args.tables
    if not tables:
        print(
            "No comparison yet: `make run` writes results/<data set>/sweeps/<sweep>/runs.csv for "
            "each sweep in the config "
            "(and for `runs:` when it has two or more runs).",
            file=sys.stderr,
        )
        return 1
    for number, path in enumerate(tables):
        columns, rows = read_table(path)
        print(("\n" if number else "") + f"{path.parent.name}: {len(rows)} runs ({path})")
        print(aligned_table(columns, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
