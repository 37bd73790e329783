"""Figures comparing the runs of a sweep: curves, effects of each setting, conv1 filters side by
side.

Every figure takes `swept` (run -> {dotted setting: value}, the settings that differ
among the runs, in the sweep's order). Runs that differ only in `seed` form one group:
its curves are drawn as one band, its accuracies as one mean with a spread.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict

import h5py
import numpy as np

from mnist_filters.formats.training_log import read_training_log
from mnist_filters.stages.figures.style import bare, filter_mosaic, grid, plt, save, show_filters
from mnist_filters.sweeps import short_keys, value_token

SEED = "seed"
# The zoomed panel of curves.png shows the groups whose final accuracy is this close to the best.
ZOOM_WITHIN = 0.05


def groups(swept: dict[str, dict]) -> dict[tuple, list[str]]:
    """Runs by their settings other than the seed (a tuple of (setting, value)), in first-seen
    order."""
    by_settings = defaultdict(list)
    for run, settings in swept.items():
        by_settings[
            tuple((key, repr(value)) for key, value in settings.items() if key != SEED)
        ].append(run)
    return dict(by_settings)


def label(run_settings: dict, keys: list[str]) -> str:
    """`optimizer=adam, learning_rate=0.0001` for the given settings (short names)."""
    short = short_keys(list(run_settings))
    return ", ".join(f"{short[key]}={_text(run_settings[key])}" for key in keys)


def _text(value) -> str:
    try:
        return value_token(value)
    except ValueError:
        return str(value)


def _colours(count: int):
    palette = plt.get_cmap("tab10" if count <= 10 else "tab20")
    return [palette(i % palette.N) for i in range(count)]


def read_curve(training_log: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Steps and validation accuracy of a run (training-batch accuracy when it held out no
    validation)."""
    rows = read_training_log(training_log)
    steps = np.array([row.step for row in rows])
    if not any(row.has_validation for row in rows):
        return (
            steps,
            np.array([row.train_batch_accuracy for row in rows]),
            "training-batch accuracy",
        )
    return steps, np.array([row.validation_accuracy for row in rows]), "validation accuracy"


def curves(training_logs: list[str], output: str, *, swept: dict[str, dict], dpi: int) -> None:
    """Accuracy against step for every run; each group's seeds as a mean line in a min-to-max band.

    Two panels: all steps, and the second half of training with its own y range, where
    the runs' differences are visible.
    """
    runs = list(swept)
    curve = dict(zip(runs, map(read_curve, training_logs)))
    kinds = {kind for _steps, _accuracy, kind in curve.values()}
    kind = kinds.pop() if len(kinds) == 1 else "validation (or training-batch) accuracy"
    by_group = groups(swept)
    keys = [key for key in dict.fromkeys(k for s in swept.values() for k in s) if key != SEED]
    legend_columns = 1 if len(by_group) <= 4 else 2 if len(by_group) <= 12 else 3
    legend_inches = 0.22 * math.ceil(len(by_group) / legend_columns) + 0.25
    figure, (full, late) = plt.subplots(1, 2, figsize=(12, 4.4 + legend_inches))
    zoom = []  # per group: final mean, lowest and highest value in the second half
    for colour, members in zip(_colours(len(by_group)), by_group.values()):
        steps = curve[members[0]][0]
        if any(not np.array_equal(curve[run][0], steps) for run in members):
            raise ValueError(
                f"runs {', '.join(members)} differ only in seed but logged different steps"
            )
        accuracy = np.stack([curve[run][1] for run in members])
        mean = accuracy.mean(axis=0)
        text = label(swept[members[0]], keys) or members[0]
        if len(members) > 1:
            text += f" ({len(members)} seeds: mean, band min to max)"
        for axes in (full, late):
            axes.plot(steps, mean, "-", color=colour, lw=1.6, label=text)
            if len(members) > 1:
                axes.fill_between(
                    steps,
                    accuracy.min(axis=0),
                    accuracy.max(axis=0),
                    color=colour,
                    alpha=0.25,
                    lw=0,
                )
        second_half = steps >= steps[-1] / 2
        zoom.append((mean[-1], accuracy[:, second_half].min(), accuracy[:, second_half].max()))
    last = max(curve[run][0][-1] for run in runs)
    late.set_xlim(last / 2, last * 1.01)
    best = max(final for final, _low, _high in zoom)
    leading = [(low, high) for final, low, high in zoom if final >= best - ZOOM_WITHIN]
    low, high = min(low for low, _high in leading), max(high for _low, high in leading)
    margin = max((high - low) * 0.08, 0.002)
    late.set_ylim(low - margin, min(1.0, high + margin) + margin / 2)
    full.set_ylim(0, 1.02)
    full.set_title("all steps")
    late.set_title(f"second half, y zoomed on the runs ending within {ZOOM_WITHIN:g} of the best")
    for axes in (full, late):
        axes.set_xlabel("step")
        axes.set_ylabel(kind)
        axes.grid(alpha=0.3)
    handles, labels = full.get_legend_handles_labels()
    figure.legend(
        handles, labels, loc="lower center", ncol=legend_columns, fontsize=9, frameon=False
    )
    figure.suptitle(f"{kind} against step, {len(runs)} runs in {len(by_group)} groups")
    figure.tight_layout(rect=(0, legend_inches / figure.get_figheight(), 1, 1))
    save(figure, output, dpi)


def effects(table: str, output: str, *, swept: dict[str, dict], dpi: int) -> None:
    """Test accuracy against each swept setting: one panel per setting, one line per combination
    of the other settings, each point the mean over seeds with a min-to-max bar."""
    with open(table, newline="") as handle:
        accuracy = {row["run"]: float(row["test_accuracy"]) for row in csv.DictReader(handle)}
    keys = [key for key in dict.fromkeys(k for s in swept.values() for k in s) if key != SEED] or [
        SEED
    ]
    short = short_keys(keys)
    # values compared by repr (1 and 1.0 are different settings), shown as in run names
    shown = {(key, repr(s.get(key))): _text(s.get(key)) for s in swept.values() for key in keys}
    figure, panels = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 4.6), squeeze=False)
    for key, axes in zip(keys, panels[0]):
        values = list(dict.fromkeys(repr(s.get(key)) for s in swept.values()))
        others = [k for k in keys if k != key]
        series = defaultdict(lambda: defaultdict(list))
        for run, settings in swept.items():
            series[tuple((k, repr(settings.get(k))) for k in others)][
                repr(settings.get(key))
            ].append(accuracy[run])
        for colour, (other, by_value) in zip(_colours(len(series)), series.items()):
            positions = [i for i, value in enumerate(values) if value in by_value]
            points = [by_value[values[i]] for i in positions]
            name = ", ".join(f"{short[k]}={shown[(k, v)]}" for k, v in other) or "mean over seeds"
            axes.plot(
                positions, [float(np.mean(p)) for p in points], "o-", color=colour, label=name, ms=5
            )
            for position, here in zip(positions, points):
                if len(here) > 1:
                    axes.vlines(position, min(here), max(here), color=colour, lw=2, alpha=0.6)
                    axes.plot([position] * len(here), here, "_", color=colour, ms=8)
        axes.set_xticks(range(len(values)), [shown[(key, v)] for v in values])
        axes.set_xlim(-0.5, len(values) - 0.5)
        axes.set_xlabel(key)
        axes.set_ylabel("test accuracy")
        axes.grid(alpha=0.3)
        if others:
            axes.legend(fontsize=8, loc="best")
    seeds = {repr(s[SEED]) for s in swept.values() if SEED in s}
    note = (
        f"\npoints: mean over {len(seeds)} seeds; bars: their lowest to highest"
        if len(seeds) > 1
        else ""
    )
    figure.suptitle(
        f"test accuracy against each swept setting ({len(swept)} runs){note}", fontsize=11
    )
    figure.tight_layout()
    save(figure, output, dpi)


def filters(
    activations: list[str], output: str, *, swept: dict[str, dict], layers: list[str], dpi: int
) -> None:
    """Each run's first convolution's filters (`layers`: its name, run by run) as one mosaic,
    each run on its own symmetric scale, grey or, for an RGB input, colour."""
    runs = list(swept)
    keys = list(dict.fromkeys(k for s in swept.values() for k in s))
    rows, columns = grid(len(runs), 4 if len(runs) > 6 else 3)
    figure = plt.figure(figsize=(columns * 3.6, rows * 4.0 + 0.8))
    for number, (run, path, layer) in enumerate(zip(runs, activations, layers)):
        with h5py.File(path, "r") as h5:
            kernel = h5[f"weights/{layer}/kernel"][:]
        if kernel.shape[2] not in (1, 3):
            raise ValueError(
                f"{path}: {layer} has {kernel.shape[2]} input channels; only filters of a "
                "greyscale or an RGB input draw"
            )
        limit = float(np.abs(kernel).max()) or 1.0
        axes = figure.add_subplot(rows, columns, number + 1)
        bare(axes)
        show_filters(axes, filter_mosaic(kernel), limit)
        described = label(swept[run], keys).replace(", ", "\n") or run
        axes.set_title(
            f"{described}\n{kernel.shape[3]} of {kernel.shape[0]}x{kernel.shape[1]}, "
            f"scale ±{limit:.3f}",
            fontsize=8,
        )
    scale = (
        "grey scale\n(black = -scale, mid-grey = 0, white = +scale of that run"
        if kernel.shape[2] == 1
        else "scale\n(each channel's weight as its colour's intensity: none = -scale,\n"
        "mid-grey = 0, full = +scale of that run"
    )
    figure.suptitle(
        f"{' / '.join(dict.fromkeys(layers))} filters of each run; each run on its own "
        f"{scale}; blue: gaps between filters)",
        fontsize=10,
    )
    figure.tight_layout()
    save(figure, output, dpi)
