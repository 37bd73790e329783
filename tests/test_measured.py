"""The pages' measured figures have one source, docs/measured.json, and stay true to it: a hand
edit of a figure, in a page or in that file, fails the documentation check."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import REPO
from mnist_filters.formats.training_log import LogRow, write_training_log


def module(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_{name}", REPO / "docs" / f"{name}.py")
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


measured = module("measured")
generate = module("generate")


def docs_copy(target: Path) -> Path:
    """What `docs/generate.py` reads, copied, so that a test may edit it."""
    for name in ("README.md", "docs", "schemas", "scripts"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target / name)
    return target


def check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(root / "docs" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_figure_edited_in_a_page_fails_the_check(tmp_path):
    root = docs_copy(tmp_path)
    assert check(root).returncode == 0, check(root).stderr
    readme = root / "README.md"
    text = readme.read_text()
    block = generate.MEASURED_BLOCK.search(text)
    assert block, "the README quotes no measured figure"
    readme.write_text(text[: block.start("body")] + "0.9999" + text[block.end("body") :])
    result = check(root)
    assert result.returncode == 1 and "README.md" in result.stderr, result.stderr


def test_a_figure_edited_in_measured_json_fails_the_check(tmp_path):
    root = docs_copy(tmp_path)
    path = root / "docs" / "measured.json"
    content = json.loads(path.read_text())
    content["runs"]["seed"]["test_accuracy"] = 0.9999
    path.write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")
    result = check(root)
    assert result.returncode == 1 and "edited by hand" in result.stderr, result.stderr


def test_a_page_quoting_a_figure_nobody_measures_fails():
    figures = measured.figures(measured.load())
    with pytest.raises(KeyError, match="seed.no_such_figure"):
        generate.fill_measured("<!-- measured: seed.no_such_figure -->1<!-- /measured -->", figures)


def test_run_figures_are_quoted_only_from_measured_json():
    """The figures a test can keep true appear in no page outside a measured block (the
    speed page's per-CPU figures are measurements of its own, with their CPUs)."""
    content = measured.load()
    quoted = [measured.figures(content)[f"{run}.test_accuracy"] for run in content["runs"]]
    quoted.append(measured.figures(content)["own_model.test_accuracy"])
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for page in pages:
        if page.name in ("speed.md", "settings.md"):
            continue
        name = page.relative_to(REPO)
        outside = generate.MEASURED_BLOCK.sub("", page.read_text())
        for figure in quoted:
            assert figure not in outside, f"{name} quotes {figure} outside a measured block"


def test_the_sweeps_notebook_point_is_the_seed_run():
    """docs/output.md says the optimiser sweep's adam/1e-4 run is the seed run, bit for bit."""
    content = measured.load()
    (point,) = [
        row
        for row in content["sweep"]["rows"]
        if row["training.optimizer"] == "adam" and float(row["training.learning_rate"]) == 1e-4
    ]
    assert point["weights_sha256"] == content["runs"]["seed"]["weights_sha256"]


def write_rows(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def results_folder(root: Path) -> Path:
    """A results folder with what docs/measured.py reads, of made-up but consistent runs."""
    for number, name in enumerate(("seed", "deeper")):
        folder = root / name
        folder.mkdir(parents=True)
        metrics = {
            "test_accuracy": 0.97 + number / 100,
            "test_images": 10000,
            "train_images": 14690,
            "steps": 2000,
            "batch_size": 50,
            "validation_images": 5000,
            "weights_sha256": f"{number}" * 64,
            "cpu": {"model": "Some CPU", "flags": ["avx2", "fma"]},
            "kernels": "onednn",
            "tensorflow_version": "2.21.0",
            "input_sha256": {"t10k-images-idx3-ubyte.gz": "ab" * 32},
        }
        (folder / "metrics.json").write_text(json.dumps(metrics))
        log = [
            LogRow(step, 0.5 + step / 5000, 1.0, step / 2500, step, step)
            for step in range(0, 2001, 100)
        ]
        write_training_log(str(folder / "training_log.csv"), log)
        mistakes = [
            {
                "rank": i + 1,
                "image_index": 40 - i,
                "label": 7,
                "predicted": 2,
                "probability_predicted": 0.9 - i / 100,
            }
            for i in range(7 + number)
        ]
        write_rows(folder / "mistakes.csv", mistakes)
        confusion = [  # label 1 read as 0 three times; 0 as 2 and 2 as 1 twice
            {"label": 0, "accuracy": 0.97, "predicted_0": 97, "predicted_1": 1, "predicted_2": 2},
            {"label": 1, "accuracy": 0.96, "predicted_0": 3, "predicted_1": 96, "predicted_2": 0},
            {"label": 2, "accuracy": 0.98, "predicted_0": 0, "predicted_1": 2, "predicted_2": 98},
        ]
        write_rows(folder / "confusion.csv", confusion)
        with h5py.File(folder / "features.h5", "w") as features:
            features["logits/objective"] = [2.0, 3.0, 4.0, 1.0]
            features["logits/best_test_value"] = [1.0, 2.0, 2.0, 2.0]
    measures = {
        "test_loss": "0.1",
        "best_validation_accuracy": "0.9",
        "best_validation_step": "2000",
        "train_seconds": "40",
        "train_examples_per_second": "2500",
    }
    write_rows(
        root / "sweeps" / "optimizers" / "runs.csv",
        [
            {
                "run": "a",
                "training.optimizer": "adam",
                "training.learning_rate": "0.0001",
                "test_accuracy": "0.97",
                **measures,
                "weights_sha256": "0" * 64,
            },
            {
                "run": "b",
                "training.optimizer": "sgd",
                "training.learning_rate": "0.001",
                "test_accuracy": "0.89",
                **measures,
                "weights_sha256": "c" * 64,
            },
        ],
    )
    transfer = [
        {"network": "baseB", "treatment": "baseB", "n": 0, "seed": 1, "test_accuracy": 0.984}
    ]
    for treatment, n, seed, accuracy in [
        ("AnB", 1, 1, 0.986),
        ("AnB", 1, 2, 0.983),
        ("AnB", 2, 1, 0.985),
        ("AnB", 2, 2, 0.981),
        ("BnB", 1, 1, 0.982),
        ("BnB", 1, 2, 0.982),
        ("BnB", 2, 1, 0.950),
        ("BnB", 2, 2, 0.944),
    ]:
        transfer.append(
            {
                "network": f"{treatment}-n{n}-s{seed}",
                "treatment": treatment,
                "n": n,
                "seed": seed,
                "test_accuracy": accuracy,
            }
        )
    write_rows(root / "transfer" / "transfer.csv", transfer)
    write_rows(
        root / "transfer" / "few_shot.csv",
        [
            {
                "network": f"k{k}-s{seed}-{kind}",
                "kind": kind,
                "examples_per_class": k,
                "seed": seed,
                "test_accuracy": accuracy,
            }
            for k, seed, kind, accuracy in [
                (1, 1, "transferred", 0.5),
                (1, 2, "transferred", 0.6),
                (1, 1, "scratch", 0.4),
                (1, 2, "scratch", 0.45),
            ]
        ],
    )
    analyses(root / "seed")
    imported = root / "keras-io-convnet"
    imported.mkdir()
    (imported / "metrics.json").write_text(
        json.dumps(
            {
                "test_accuracy": 0.9461,
                "test_images": 10000,
                "weights_sha256": "c" * 64,
                "model_file_sha256": "d" * 64,
                "largest_probability_difference": 1.98e-7,
            }
        )
    )
    return root


def analyses(folder: Path) -> None:
    """The seed run's Zeiler & Fergus analyses, as examples/zeiler-fergus.yaml leaves them."""
    evolution = []
    for step, units in (
        (0, [(5, 1, 1), (6, 2, 2)]),
        (1000, [(5, 1, 1), (7, 0, 0)]),
        (2000, [(5, 1, 1), (8, 3, 3)]),
    ):
        for number, (image, row, col) in enumerate(units):
            evolution.append(
                {
                    "layer": "conv1",
                    "filter": number,
                    "step": step,
                    "image_index": image,
                    "row": row,
                    "col": col,
                    "activation": step / 1000 + number,
                }
            )
    write_rows(folder / "evolution.csv", evolution)
    initial = np.random.default_rng(0).normal(size=(4, 4, 1, 2))
    with h5py.File(folder / "snapshots.h5", "w") as snapshots:
        snapshots["conv1/kernel"] = np.stack([initial, initial * 2, -initial])
    with h5py.File(folder / "occlusion.h5", "w") as occlusion:
        occlusion["test_index"] = [9009, 0]
        occlusion["label"] = [7, 7]
        occlusion["unoccluded/predicted"] = [2, 7]
        occlusion["unoccluded/probability_label"] = [0.002, 0.99]
        occlusion["strongest_filter"] = [54, 3]
        # image 9009 becomes a 7 at one position of four; image 0 at none
        occlusion["predicted"] = [[[2, 7], [2, 2]], [[7, 7], [7, 7]]]
        occlusion["probability_label"] = [[[0.1, 0.9], [0.0, 0.0]], [[0.8, 0.9], [0.95, 0.99]]]
    invariance = [
        {
            "transformation": transformation,
            "value": value,
            "test_index": index,
            "label": 1,
            "conv1_distance": abs(value) / 4,
            "fc1_distance": abs(value) / 8,
            "predicted": 1 if index < 4 - abs(value) else 0,
        }
        for transformation in ("horizontal_shift", "vertical_shift")
        for value in (-2.0, 0.0, 2.0)
        for index in range(4)
    ]
    write_rows(folder / "invariance.csv", invariance)


def test_the_figures_are_what_the_results_say(tmp_path):
    content = measured.measure(results_folder(tmp_path / "mnist"))
    assert content["seal"] == measured.seal({k: v for k, v in content.items() if k != "seal"})
    figures = measured.figures(content)
    assert figures["seed.test_accuracy"] == "0.9700" and figures["deeper.test_accuracy"] == "0.9800"
    assert figures["seed.mistakes"] == "7" and figures["deeper.mistakes"] == "8"
    assert figures["own_model.test_accuracy"] == "0.9461"
    assert figures["own_model.probability_difference"] == "2e-07"
    assert figures["seed.validation_accuracy@500"] == "0.200"
    assert figures["seed.weakest_classes"] == "1 (96.0 %) and 0 (97.0 %)"
    assert figures["seed.commonest_confusions"] == "1 read as 0 (3), 0 as 2 (2) and 2 as 1 (2)"
    assert figures["seed.most_confident_mistake.image_index"] == "40"
    assert figures["seed.most_confident_mistake.probability_predicted"] == "0.900"
    assert figures["seed.late_batch_accuracy"] == "0.70 and 0.90"
    assert figures["cpu"] == "Some CPU (AVX2, FMA)"
    terminal = figures["seed.terminal"].splitlines()
    assert terminal[2] == (
        "seed train: step 100/2000, batch accuracy 0.520, validation accuracy 0.0400, "
        "50 examples/s, 31 min 40 s left"
    )
    assert terminal[4:] == ["...", terminal[-2], "```"] and "step 2000/2000" in terminal[-2]
    assert figures["seed.evolution.conv1@1000.final_unit_already"] == "1 of 2"
    assert figures["seed.evolution.conv1@0.median_activation"] == "0.50"  # of 0 and 1
    assert figures["seed.evolution.conv1_weights.correlation"] == "-1.00"  # ends at -initial
    assert figures["seed.evolution.conv1_weights.change"] == "2.00"
    assert figures["seed.occlusion.first.positions_unchanged"] == "75 %"
    assert figures["seed.occlusion.first.best_probability_label"] == "0.90"
    assert figures["seed.occlusion.correct.changed"] == "0 %"
    assert figures["seed.occlusion.correct.lowest_probability"] == "0.80"
    assert figures["seed.invariance.shift@±2.accuracy"] == "0.50"  # 2 of 4 at every ±2
    assert figures["seed.invariance.horizontal_shift@0.accuracy"] == "1.00"
    assert figures["seed.invariance.vertical_shift@±2.conv1"] == "0.50"
    assert figures["seed.features.logits.beat"] == "3 of 4"
    assert figures["seed.features.logits.median"] == "1.75x"  # of 2, 1.5, 2, 0.5
    assert figures["seed.features.logits.range"] == "0.50x to 2.00x"
    assert figures["transfer.baseB"] == "0.984"
    assert figures["transfer.AnB.n12"] == "0.981 to 0.986"
    assert figures["transfer.BnB.n2"] == "0.944 and 0.950"
    assert figures["transfer.BnB.n1"] == "0.982"
    assert figures["transfer.BnB.n2.points_below_baseB"] == f"{100 * (0.984 - 0.947):.1f}"
    assert figures["few_shot.transferred.k1"] == f"{statistics.mean([0.5, 0.6]):.3f}"
    assert figures["few_shot.k1"] == "0.400 to 0.600"
    assert figures["sweep.sgd@0.001"] == "0.890"
    table = figures["sweep.optimizers"].splitlines()
    assert table[0] == "```text" and table[-1] == "```"
    assert re.match(r"a +adam +0\.0001 +0\.9700", table[4]) and table[5].startswith("b ")
    rows = figures["transfer.table"].splitlines()
    assert rows[0] == "| treatment | n = 1 | n = 2 |"
    assert rows[2] == "| AnB | 0.986 / 0.983 | 0.985 / 0.981 |"
    assert (
        figures["few_shot.table"].splitlines()[2]
        == "| 1 | 0.500 / 0.600 | 0.550 | 0.400 / 0.450 | 0.425 |"
    )


def test_measure_names_what_is_missing(tmp_path):
    results = results_folder(tmp_path / "mnist")
    (results / "transfer" / "few_shot.csv").unlink()
    with pytest.raises(measured.MeasuredError, match="few_shot.csv is missing: make it with"):
        measured.measure(results)
