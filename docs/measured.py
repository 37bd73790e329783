"""The documentation's measured figures: one file, docs/measured.json, and the figures it names.

Every figure in the pages that describes a run on real data (the `seed` run's accuracy,
mistakes, curve and analyses, the deeper network's accuracy, the imported keras-io model's,
the optimiser sweep, the transfer and few-shot tables) is a
`<!-- measured: KEY -->...<!-- /measured -->` block, which `make docs` (docs/generate.py)
fills from docs/measured.json; its check, which the suite runs, fails when a block differs.
docs/measured.json is written from a results folder only, never by hand, by
`make measure DATA=../shared/data/mnist-subset`, which makes the runs of
`examples/sweep-optimizers.yaml`, `examples/transfer.yaml`, `examples/zeiler-fergus.yaml`,
`examples/deeper.yaml` and `examples/own-model.yaml` (after `examples/own_model.py` has
trained its model) and then calls

    .venv/bin/python docs/measured.py results/mnist

The file carries a seal, the sha256 of the rest of its content, so that a hand edit of a
figure there fails the check as a hand edit of a page does. The real-data test compares a
fresh `seed` run with it.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MEASURED = REPO / "docs" / "measured.json"
sys.path.insert(0, str(REPO / "scripts"))

from mnist_filters.formats.training_log import (  # noqa: E402
    examples_per_second,
    progress_fields,
    read_training_log,
)
from mnist_filters.progress import Progress  # noqa: E402
from mnist_filters.stages.compare import aligned_table  # noqa: E402

# The training-curve steps the pages quote.
CURVE_STEPS = (100, 500, 1000, 2000)
MISTAKE = ("image_index", "label", "predicted", "probability_predicted")
SWEEP = "optimizers"
# The run of examples/own-model.yaml: keras-io's convnet, trained by examples/own_model.py.
OWN_MODEL = "keras-io-convnet"
MAKES = "`make measure DATA=...` (docs/development.md, Measured figures)"


class MeasuredError(Exception):
    """docs/measured.json cannot be written or read as it is."""


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _required(path: Path) -> Path:
    if not path.is_file():
        raise MeasuredError(f"{path} is missing: make it with {MAKES}")
    return path


def _run(folder: Path) -> dict:
    """What the pages quote of one run's results folder."""
    metrics = json.loads(_required(folder / "metrics.json").read_text())
    log = _rows(_required(folder / "training_log.csv"))
    validation = {int(row["step"]): float(row["validation_accuracy"]) for row in log}
    missing = [step for step in CURVE_STEPS if step not in validation]
    if missing:
        raise MeasuredError(f"{folder}/training_log.csv has no row for steps {missing}")
    late = [float(row["train_batch_accuracy"]) for row in log if int(row["step"]) >= 1000]
    confusion = _rows(_required(folder / "confusion.csv"))
    mistakes = _rows(_required(folder / "mistakes.csv"))
    confusions = [
        (int(row["label"]), int(column.removeprefix("predicted_")), int(count))
        for row in confusion
        for column, count in row.items()
        if column.startswith("predicted_") and column != f"predicted_{row['label']}"
    ]
    confusions.sort(key=lambda confused: (-confused[2], confused[0], confused[1]))
    weakest = sorted(confusion, key=lambda row: float(row["accuracy"]))[:2]
    return {
        "features": _features(folder / "features.h5"),
        "test_accuracy": metrics["test_accuracy"],
        "test_images": metrics["test_images"],
        "train_images": metrics["train_images"],
        "steps": metrics["steps"],
        "weights_sha256": metrics["weights_sha256"],
        "mistakes": len(mistakes),
        "most_confident_mistake": {key: mistakes[0][key] for key in MISTAKE} if mistakes else None,
        "commonest_confusions": confusions[:3],
        "weakest_classes": [[int(row["label"]), float(row["accuracy"])] for row in weakest],
        "validation_accuracy": {str(step): validation[step] for step in CURVE_STEPS},
        "late_batch_accuracy": [min(late), max(late)],
        "terminal": _terminal_lines(folder, folder.name, metrics),
    }


def _imported(folder: Path) -> dict:
    """What the pages quote of a run whose model came from a file (examples/own-model.yaml)."""
    metrics = json.loads(_required(folder / "metrics.json").read_text())
    return {
        key: metrics[key]
        for key in ("test_accuracy", "test_images", "weights_sha256", "model_file_sha256")
    } | {"probability_difference": metrics["largest_probability_difference"]}


def _terminal_lines(folder: Path, name: str, metrics: dict) -> list[str]:
    """Training's progress lines on the terminal for the log's rows, as the train stage printed
    them, its clock read from the log's elapsed seconds."""
    rows = read_training_log(str(folder / "training_log.csv"))
    now = [0.0]
    terminal = io.StringIO()
    progress = Progress(f"{name} train", metrics["steps"], terminal, clock=lambda: now[0])
    for before, row in zip([None, *rows], rows):
        now[0] = row.elapsed_seconds
        speed = examples_per_second(before, row, metrics["batch_size"]) if before else None
        validation = bool(metrics["validation_images"])
        progress.update(row.step, *progress_fields(row, metrics["steps"], speed, validation))
    return terminal.getvalue().splitlines()


def _features(path: Path) -> dict:
    """Per visualised layer: how each unit's optimised image compares with its best test image
    (the objective reached over the best test image's)."""
    import h5py
    import numpy as np

    with h5py.File(_required(path), "r") as features:
        out = {}
        for layer, group in features.items():
            ratio = group["objective"][:] / group["best_test_value"][:]
            out[layer] = {
                "units": int(ratio.size),
                "beat_best_test_image": int((ratio > 1).sum()),
                "ratio": [float(np.median(ratio)), float(ratio.min()), float(ratio.max())],
            }
    return out


def _evolution(folder: Path) -> dict:
    """Per traced layer and kept step: how many filters' strongest test unit is already the
    final one, and the median strongest activation; conv1's change from its initial weights."""
    import h5py
    import numpy as np

    rows = _rows(_required(folder / "evolution.csv"))
    out = {}
    for layer in sorted({row["layer"] for row in rows}):
        traced = [row for row in rows if row["layer"] == layer]
        last = max(int(row["step"]) for row in traced)
        where = lambda row: (row["image_index"], row["row"], row["col"])  # noqa: E731
        final = {row["filter"]: where(row) for row in traced if int(row["step"]) == last}
        out[layer] = {}
        for step in sorted({int(row["step"]) for row in traced}):
            at = [row for row in traced if int(row["step"]) == step]
            out[layer][str(step)] = {
                "filters": len(at),
                "final_unit_already": sum(where(row) == final[row["filter"]] for row in at),
                "median_activation": statistics.median(float(row["activation"]) for row in at),
            }
    with h5py.File(_required(folder / "snapshots.h5"), "r") as snapshots:
        kernel = snapshots["conv1/kernel"][:]
    first, final = (k.reshape(-1, k.shape[-1]).astype(np.float64) for k in (kernel[0], kernel[-1]))
    correlation = [np.corrcoef(first[:, i], final[:, i])[0, 1] for i in range(first.shape[1])]
    out["conv1_weights"] = {
        "correlation_with_initial": [float(min(correlation)), float(max(correlation))],
        "change_over_initial_norm": float(np.linalg.norm(final - first) / np.linalg.norm(first)),
        "largest_weight": [float(np.abs(first).max()), float(np.abs(final).max())],
    }
    return out


def _occlusion(folder: Path) -> dict:
    """Per occluded image: its label, what it is read as, and what occluding changes."""
    import h5py

    with h5py.File(_required(folder / "occlusion.h5"), "r") as occlusion:
        predicted, label = occlusion["predicted"][:], occlusion["label"][:]
        probability = occlusion["probability_label"][:]
        return [
            {
                "test_index": int(occlusion["test_index"][i]),
                "label": int(label[i]),
                "predicted": int(occlusion["unoccluded/predicted"][i]),
                "probability_label": float(occlusion["unoccluded/probability_label"][i]),
                "best_probability_label": float(probability[i].max()),
                "lowest_probability_label": float(probability[i].min()),
                "positions_unchanged": float(
                    (predicted[i] == occlusion["unoccluded/predicted"][i]).mean()
                ),
                "strongest_filter": int(occlusion["strongest_filter"][i]),
            }
            for i in range(len(label))
        ]


def _invariance(folder: Path) -> dict:
    """Per transformation and value: accuracy on the sample and each layer's mean distance."""
    rows = _rows(_required(folder / "invariance.csv"))
    layers = [column for column in rows[0] if column.endswith("_distance")]
    out: dict = {}
    for row in rows:
        out.setdefault(row["transformation"], {}).setdefault(f"{float(row['value']):g}", []).append(
            row
        )
    return {
        transformation: {
            value: {
                "images": len(at),
                "accuracy": sum(r["predicted"] == r["label"] for r in at) / len(at),
                **{
                    layer.removesuffix("_distance"): statistics.mean(float(r[layer]) for r in at)
                    for layer in layers
                },
            }
            for value, at in values.items()
        }
        for transformation, values in out.items()
    }


def measure(results: Path) -> dict:
    """docs/measured.json's content, from results/<set>/ of the runs in the docstring."""
    results = Path(results)
    seed_metrics = json.loads(_required(results / "seed" / "metrics.json").read_text())
    sweep = results / "sweeps" / SWEEP / "runs.csv"
    with open(_required(sweep), newline="") as handle:
        reader = csv.DictReader(handle)
        sweep_columns, sweep_rows = list(reader.fieldnames or []), list(reader)
    seed = results / "seed"
    analyses = {
        "evolution": _evolution(seed),
        "occlusion": _occlusion(seed),
        "invariance": _invariance(seed),
    }
    body = {
        "analyses": analyses,
        "about": "Written by docs/measured.py from a results folder; do not edit by hand.",
        "data_set": results.name,
        "cpu": seed_metrics["cpu"],
        "kernels": seed_metrics["kernels"],
        "tensorflow_version": seed_metrics["tensorflow_version"],
        "input_sha256": seed_metrics["input_sha256"],
        "runs": {name: _run(results / name) for name in ("seed", "deeper")},
        "own_model": _imported(results / OWN_MODEL),
        "sweep": {"name": SWEEP, "columns": sweep_columns, "rows": sweep_rows},
        "transfer": _rows(_required(results / "transfer" / "transfer.csv")),
        "few_shot": _rows(_required(results / "transfer" / "few_shot.csv")),
    }
    return {**body, "seal": seal(body)}


def seal(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def load(path: Path = MEASURED) -> dict:
    """docs/measured.json, its seal checked."""
    measured = json.loads(path.read_text())
    body = {key: value for key, value in measured.items() if key != "seal"}
    if measured.get("seal") != seal(body):
        raise MeasuredError(
            f"{path} was edited by hand (its seal does not match its "
            f"content): write it with `python docs/measured.py results/<set>`"
        )
    return measured


def _acc(value: float | str, places: int = 3) -> str:
    return f"{float(value):.{places}f}"


def _spread(values: list[float], places: int = 3, unit: str = "") -> str:
    """Several figures as the prose quotes them: one, "a and b", or "lowest to highest"."""
    shown = [f"{value:.{places}f}{unit}" for value in sorted(values)]
    if shown[0] == shown[-1]:
        return shown[0]
    if len(shown) == 2:
        return f"{shown[0]} and {shown[1]}"
    return f"{shown[0]} to {shown[-1]}"


def _analysis_figures(analyses: dict) -> dict[str, str]:
    """The figures of the seed run's Zeiler & Fergus analyses (examples/zeiler-fergus.yaml)."""
    out = {}
    evolution = dict(analyses["evolution"])
    weights = evolution.pop("conv1_weights")
    for layer, steps in evolution.items():
        for step, at in steps.items():
            key = f"evolution.{layer}@{step}"
            out[f"{key}.final_unit_already"] = f"{at['final_unit_already']} of {at['filters']}"
            out[f"{key}.median_activation"] = f"{at['median_activation']:.2f}"
    out["evolution.conv1_weights.correlation"] = _spread(weights["correlation_with_initial"], 2)
    out["evolution.conv1_weights.change"] = f"{weights['change_over_initial_norm']:.2f}"
    before, after = weights["largest_weight"]
    out["evolution.conv1_weights.largest_before"] = f"{before:.3f}"
    out["evolution.conv1_weights.largest_after"] = f"{after:.3f}"

    occluded = analyses["occlusion"]
    first = occluded[0]
    for key in ("test_index", "label", "predicted", "strongest_filter"):
        out[f"occlusion.first.{key}"] = str(first[key])
    out["occlusion.first.probability_label"] = f"{first['probability_label']:.3f}"
    out["occlusion.first.best_probability_label"] = f"{first['best_probability_label']:.2f}"
    out["occlusion.first.positions_unchanged"] = f"{100 * first['positions_unchanged']:.0f} %"
    correct = [image for image in occluded if image["predicted"] == image["label"]]
    changed = [100 * (1 - image["positions_unchanged"]) for image in correct]
    out["occlusion.correct.images"] = str(len(correct))
    out["occlusion.correct.changed"] = _spread(changed, 0, " %")
    lowest = [image["lowest_probability_label"] for image in correct]
    out["occlusion.correct.lowest_probability"] = _spread(lowest, 2)

    invariance = analyses["invariance"]
    groups: dict[str, list[dict]] = {}
    for transformation, values in invariance.items():
        for value, at in values.items():
            magnitude = value.lstrip("-")
            groups[f"{transformation}@{value}"] = [at]
            groups.setdefault(f"{transformation}@±{magnitude}", []).append(at)
            if transformation.endswith("_shift"):
                groups.setdefault(f"shift@±{magnitude}", []).append(at)
    for group, members in groups.items():
        for measure in members[0]:
            if measure != "images":
                out[f"invariance.{group}.{measure}"] = _spread([m[measure] for m in members], 2)
    return out


def _cpu(cpu: dict) -> str:
    flags = [flag.upper().replace("_", "-") for flag in cpu.get("flags", [])]
    return f"{cpu['model']} ({', '.join(flags)})" if flags else cpu["model"]


def transfer_table(rows: list[dict]) -> str:
    """Test accuracy on B, a row per treatment, a column per number of layers copied."""
    base = {row["treatment"]: row for row in rows if row["treatment"].startswith("base")}
    treatments = sorted(
        {r["treatment"] for r in rows} - set(base), key=["AnB", "AnB+", "BnB", "BnB+"].index
    )
    depths = sorted({int(r["n"]) for r in rows if r["treatment"] in treatments})
    lines = [
        "| treatment | " + " | ".join(f"n = {n}" for n in depths) + " |",
        "|---|" + "---|" * len(depths),
    ]
    for treatment in treatments:
        cells = []
        for n in depths:
            seeds = sorted(
                (r for r in rows if r["treatment"] == treatment and int(r["n"]) == n),
                key=lambda r: int(r["seed"]),
            )
            cells.append(" / ".join(_acc(r["test_accuracy"]) for r in seeds))
        lines.append(f"| {treatment} | " + " | ".join(cells) + " |")
    if "baseB" in base:
        lines.append(
            f"| baseB (n = 0) | {_acc(base['baseB']['test_accuracy'])} |" + " |" * (len(depths) - 1)
        )
    return "\n".join(lines)


def few_shot_table(rows: list[dict]) -> str:
    """Test accuracy on B per number of images per class: both kinds, each seed and the mean."""
    ks = sorted({int(r["examples_per_class"]) for r in rows})
    lines = [
        "| images per class | over A's features (seeds) | mean | from scratch (seeds) | mean |",
        "|---|---|---|---|---|",
    ]
    for k in ks:
        cells = []
        for kind in ("transferred", "scratch"):
            values = [
                float(r["test_accuracy"])
                for r in sorted(rows, key=lambda r: int(r["seed"]))
                if r["kind"] == kind and int(r["examples_per_class"]) == k
            ]
            cells += [" / ".join(map(_acc, values)), _acc(statistics.mean(values))]
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figures(measured: dict) -> dict[str, str]:
    """Every figure the pages may quote, by the key of its `<!-- measured: KEY -->` block."""
    out = {"cpu": _cpu(measured["cpu"])}
    own = measured["own_model"]
    out["own_model.test_accuracy"] = _acc(own["test_accuracy"], 4)
    out["own_model.probability_difference"] = f"{own['probability_difference']:.0e}"
    for name, run in measured["runs"].items():
        out[f"{name}.test_accuracy"] = _acc(run["test_accuracy"], 4)
        out[f"{name}.test_images"] = f"{run['test_images']:,}"
        out[f"{name}.train_images"] = f"{run['train_images']:,}"
        out[f"{name}.mistakes"] = f"{run['mistakes']:,}"
        out[f"{name}.weights"] = run["weights_sha256"][:12]
        for step, accuracy in run["validation_accuracy"].items():
            out[f"{name}.validation_accuracy@{step}"] = _acc(accuracy)
        classes = [
            f"{label} ({100 * accuracy:.1f} %)" for label, accuracy in run["weakest_classes"]
        ]
        out[f"{name}.weakest_classes"] = " and ".join(classes)
        confused = [
            f"{label} {'' if i else 'read '}as {predicted} ({count})"
            for i, (label, predicted, count) in enumerate(run["commonest_confusions"])
        ]
        out[f"{name}.commonest_confusions"] = ", ".join(confused[:-1]) + " and " + confused[-1]
        if run["most_confident_mistake"]:
            for key, value in run["most_confident_mistake"].items():
                out[f"{name}.most_confident_mistake.{key}"] = (
                    _acc(value) if key.startswith("probability") else value
                )
        for layer, seen in run["features"].items():
            median, low, high = seen["ratio"]
            key = f"{name}.features.{layer}"
            out[f"{key}.beat"] = f"{seen['beat_best_test_image']} of {seen['units']}"
            out[f"{key}.median"] = f"{median:.2f}x"
            out[f"{key}.range"] = f"{low:.2f}x to {high:.2f}x"
        shown = [*run["terminal"][:3], "...", run["terminal"][-1]]
        out[f"{name}.terminal"] = "```\n" + "\n".join(shown) + "\n```"
        low, high = run["late_batch_accuracy"]
        out[f"{name}.late_batch_accuracy"] = f"{low:.2f} and {high:.2f}"

    out.update(
        {f"seed.{key}": value for key, value in _analysis_figures(measured["analyses"]).items()}
    )
    sweep = measured["sweep"]
    out[f"sweep.{sweep['name']}"] = (
        f"```text\n{sweep['name']}: {len(sweep['rows'])} runs "
        f"(results/{measured['data_set']}/sweeps/{sweep['name']}/runs.csv)\n"
        + aligned_table(sweep["columns"], sweep["rows"])
        + "\n```"
    )
    for row in sweep["rows"]:
        point = f"{row['training.optimizer']}@{float(row['training.learning_rate']):g}"
        out[f"sweep.{point}"] = _acc(row["test_accuracy"])
        out[f"sweep.{point}.weights"] = row["weights_sha256"][:12]

    transfer = measured["transfer"]
    out["transfer.table"] = transfer_table(transfer)
    treatments = {row["treatment"] for row in transfer}
    depths = sorted({row["n"] for row in transfer if row["n"] != "0"})
    base_b = [float(r["test_accuracy"]) for r in transfer if r["treatment"] == "baseB"]
    out["transfer.baseB"] = _spread(base_b)
    for treatment in treatments - {"baseA", "baseB"}:
        chosen = [r for r in transfer if r["treatment"] == treatment]
        out[f"transfer.{treatment}"] = _spread([float(r["test_accuracy"]) for r in chosen])
        # every run of consecutive depths: n1, n12, n123, n2, n23, n3
        for first in range(len(depths)):
            for last in range(first, len(depths)):
                span = depths[first : last + 1]
                values = [float(r["test_accuracy"]) for r in chosen if r["n"] in span]
                out[f"transfer.{treatment}.n{''.join(span)}"] = _spread(values)
                if len(span) == 1:
                    cost = statistics.mean(base_b) - statistics.mean(values)
                    out[f"transfer.{treatment}.n{span[0]}.points_below_baseB"] = f"{100 * cost:.1f}"

    few_shot = measured["few_shot"]
    out["few_shot.table"] = few_shot_table(few_shot)
    for k in {row["examples_per_class"] for row in few_shot}:
        at_k = [r for r in few_shot if r["examples_per_class"] == k]
        out[f"few_shot.k{k}"] = _spread([float(r["test_accuracy"]) for r in at_k])
        for kind in ("transferred", "scratch"):
            values = [float(r["test_accuracy"]) for r in at_k if r["kind"] == kind]
            out[f"few_shot.{kind}.k{k}"] = _acc(statistics.mean(values))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="results/<set>, as the docstring's runs left it")
    args = parser.parse_args(argv)
    try:
        measured = measure(args.results)
    except MeasuredError as error:
        print(error, file=sys.stderr)
        return 1
    MEASURED.write_text(json.dumps(measured, indent=1, sort_keys=True) + "\n")
    print(f"wrote {MEASURED.relative_to(REPO)}; now `make docs`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
