"""A sweep through the workflow: ordinary runs, their comparison, exact reruns, and `verify`."""

import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import matplotlib.colors
import matplotlib.pyplot as plt
import numpy as np
import pytest

from conftest import ONE_THREAD_TRAINING, REPO, planned, snakemake, sweep_config, write_config
from helpers import metrics, model_weights
from mnist_filters.network.build import weights_sha256

pytestmark = pytest.mark.slow
RUNS = [
    "lr_learning_rate~0.0001_seed~0",
    "lr_learning_rate~0.0001_seed~1",
    "lr_learning_rate~0.0003_seed~0",
    "lr_learning_rate~0.0003_seed~1",
]
COMPARISON = [
    "compare_runs",
    "plot_comparison_curves",
    "plot_comparison_effects",
    "plot_comparison_filters",
]
PER_RUN = {
    "train",
    "dump_activations",
    "rank_patches",
    "plot_samples",
    "plot_filters",
    "plot_top_patches",
    "plot_training_curve",
    "project_patches",
    "plot_projections",
    "gallery",
    "tally_mistakes",
    "plot_confusion",
    "plot_mistakes",
}


def rows(workdir, name="lr"):
    with open(workdir / "results" / "mnist" / "sweeps" / name / "runs.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_each_grid_point_is_an_ordinary_run(tiny_sweep):
    for run in RUNS:
        folder = tiny_sweep / "results" / "mnist" / run
        for name in (
            "model.keras",
            "metrics.json",
            "rankings.csv",
            "figures/filters.png",
            "figures/top_patches",
        ):
            assert (folder / name).exists(), (run, name)
    settings = metrics(tiny_sweep, RUNS[3])["settings"]
    assert settings["seed"] == 1 and settings["training"]["learning_rate"] == 3e-4


def test_runs_csv_agrees_with_each_runs_own_outputs(tiny_sweep):
    table = rows(tiny_sweep)
    assert [row["run"] for row in table] == RUNS
    assert list(table[0]) == [
        "run",
        "training.learning_rate",
        "seed",
        "test_accuracy",
        "test_loss",
        "best_validation_accuracy",
        "best_validation_step",
        "train_seconds",
        "train_examples_per_second",
        "weights_sha256",
    ]
    for row in table:
        measured = metrics(tiny_sweep, row["run"])
        for key in ("test_accuracy", "test_loss", "train_seconds", "train_examples_per_second"):
            assert float(row[key]) == measured[key], (row["run"], key)
        weights = model_weights(tiny_sweep / "results" / "mnist" / row["run"] / "model.keras")
        assert row["weights_sha256"] == measured["weights_sha256"] == weights_sha256(weights)
        with open(
            tiny_sweep / "results" / "mnist" / row["run"] / "training_log.csv", newline=""
        ) as handle:
            log = [
                (float(r["validation_accuracy"]), int(r["step"])) for r in csv.DictReader(handle)
            ]
        best = max(accuracy for accuracy, _step in log)
        assert float(row["best_validation_accuracy"]) == best
        assert int(row["best_validation_step"]) == next(
            step for accuracy, step in log if accuracy == best
        )
        settings = measured["settings"]
        assert (float(row["training.learning_rate"]), int(row["seed"])) == (
            settings["training"]["learning_rate"],
            settings["seed"],
        )
    assert len({row["weights_sha256"] for row in table}) == 4


def line_colours(path, colours, box):
    """Which of `colours` appear as at least 40 pixels in `box` (fractions x0, y0, x1, y1) of a
    PNG."""
    image = plt.imread(path)[..., :3]
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    part = image[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)]
    found = []
    for colour in colours:
        distance = np.abs(part - np.array(matplotlib.colors.to_rgb(colour))).max(axis=-1)
        if (distance < 0.03).sum() >= 40:
            found.append(colour)
    return found


# tab10 without its grey, which grid lines and anti-aliased text also make
TAB10 = [plt.get_cmap("tab10")(i) for i in range(10) if i != 7]


def test_the_curves_show_one_line_per_setting_with_its_seeds_as_a_band(tiny_sweep):
    """Two learning rates x two seeds: two lines (colours), each run's seed folded into a band."""
    figure = tiny_sweep / "results" / "mnist" / "sweeps" / "lr" / "curves.png"
    assert line_colours(figure, TAB10, (0.05, 0.05, 0.5, 0.8)) == TAB10[:2]


def test_the_curves_show_as_many_lines_as_runs_without_seeds(tmp_path):
    from mnist_filters.formats.training_log import LogRow, write_training_log
    from mnist_filters.stages.figures.comparison import curves

    logs = []
    for number in range(3):
        path = tmp_path / f"log{number}.csv"
        accuracy = [0.1, 0.5 + 0.1 * number, 0.8 + 0.05 * number]
        write_training_log(
            str(path),
            [LogRow(step, a, 1.0, a, 1.0, 0.5) for step, a in zip((0, 100, 200), accuracy)],
        )
        logs.append(str(path))
    swept = {f"s_lr~{rate!r}": {"training.learning_rate": rate} for rate in (1e-4, 3e-4, 1e-3)}
    curves(logs, str(tmp_path / "curves.png"), swept=swept, dpi=60)
    assert line_colours(tmp_path / "curves.png", TAB10, (0.05, 0.05, 0.5, 0.8)) == TAB10[:3]


def test_every_comparison_figure_is_a_real_picture(tiny_sweep):
    folder = tiny_sweep / "results" / "mnist" / "sweeps" / "lr"
    for name in ("curves.png", "effects.png", "filters.png"):
        image = plt.imread(folder / name)
        assert image.shape[0] > 200 and image.shape[1] > 300, name
        assert image[..., :3].std() > 0.05, f"{name} is blank"


def test_the_report_has_a_comparison_category_with_captions(tiny_sweep):
    config = sweep_config_of(tiny_sweep)
    snakemake(tiny_sweep, config, "--report", "report.html")
    html = (tiny_sweep / "report.html").read_text(errors="replace")
    assert "comparison: lr" in html
    for name in ("runs.csv", "curves.png", "effects.png", "filters.png"):
        assert name in html, name
    text = " ".join(
        html.replace("\\n", " ").split()
    )  # captions sit in JSON strings, newlines escaped
    for caption in (
        "Runs that differ only in their seed",
        "each point is the mean over the seeds",
        "Each run has its own symmetric grey scale",
        "sha256 of the trained weights",
    ):
        assert caption in text, caption


def sweep_config_of(workdir):
    import yaml

    return yaml.safe_load((workdir / "config.yaml").read_text())


@pytest.fixture(autouse=True)
def sweep_config_restored(tiny_sweep, tiny_mnist):
    """planned() writes the config it plans with into the workdir: put the sweep's back."""
    yield
    write_config(tiny_sweep, sweep_config(tiny_mnist))


def test_a_complete_sweep_plans_nothing(tiny_sweep):
    assert planned(tiny_sweep, sweep_config_of(tiny_sweep)) == set()


def test_adding_a_grid_value_trains_only_the_new_runs_and_redoes_the_comparison(tiny_sweep):
    config = sweep_config_of(tiny_sweep)
    config["sweeps"]["lr"]["grid"]["training.learning_rate"].append(1e-3)
    new = ["lr_learning_rate~0.001_seed~0", "lr_learning_rate~0.001_seed~1"]
    assert planned(tiny_sweep, config) == {(rule, run) for rule in PER_RUN for run in new} | {
        (rule, "sweeps/lr") for rule in COMPARISON
    }


def test_removing_a_grid_value_retrains_nothing_and_redoes_the_comparison(tiny_sweep):
    config = sweep_config_of(tiny_sweep)
    config["sweeps"]["lr"]["grid"]["seed"] = [0]
    assert planned(tiny_sweep, config) == {(rule, "sweeps/lr") for rule in COMPARISON}


@pytest.mark.parametrize("figure", ["curves", "effects", "filters"])
def test_a_comparison_figure_setting_redraws_only_that_figure(tiny_sweep, figure):
    config = sweep_config_of(tiny_sweep)
    config["comparison"] = {figure: {"dpi": 50}}
    assert planned(tiny_sweep, config) == {(f"plot_comparison_{figure}", "sweeps/lr")}


def test_compare_prints_the_table_best_first(tiny_sweep):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_filters.stages.compare",
            str(tiny_sweep / "results" / "mnist" / "sweeps" / "lr" / "runs.csv"),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=python_env(),
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("lr: 4 runs")
    assert lines[1].split()[:4] == ["run", "learning_rate", "seed", "test"]
    accuracies = [float(line.split()[3]) for line in lines[3:]]
    assert len(accuracies) == 4 and accuracies == sorted(accuracies, reverse=True)


def python_env():
    return {**os.environ, "PYTHONPATH": str(REPO / "scripts"), "TF_CPP_MIN_LOG_LEVEL": "2"}


def verify(workdir, run, *arguments):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_filters.verify",
            run,
            "--directory",
            str(workdir),
            "--",
            "--configfile",
            str(workdir / "config.yaml"),
            *arguments,
        ],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=900,
    )


def digests(folder):
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.iterdir())
        if path.is_file()
    }


def test_verify_reproduces_a_run_bit_for_bit_and_leaves_it_untouched(tiny_sweep):
    run = RUNS[1]
    before = digests(tiny_sweep / "results" / "mnist" / run)
    result = verify(tiny_sweep, run, *ONE_THREAD_TRAINING)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    for what in ("weights", "activations", "rankings"):
        assert any(
            line.split()[:2] == [what, "identical"] for line in result.stdout.splitlines()
        ), result.stdout
    assert f"sha256 {metrics(tiny_sweep, run)['weights_sha256']}" in result.stdout
    assert digests(tiny_sweep / "results" / "mnist" / run) == before
    assert not (tiny_sweep / ".snakemake" / "mnist-filters" / "verify" / run).exists()


def test_verify_says_where_a_tampered_run_differs(tiny_run, tmp_path):
    import h5py
    import keras

    workdir = tmp_path / "copy"
    shutil.copytree(tiny_run, workdir)
    cached = workdir / "results" / "mnist" / "tiny"
    # one weight, one activation and one ranked value changed, each file then newer than its input
    model = keras.saving.load_model(cached / "model.keras")
    kernel = model.get_layer("conv2").kernel
    changed = kernel.numpy()
    changed[1, 2, 3, 4] += 1
    kernel.assign(changed)
    model.save(cached / "model.keras")
    with h5py.File(cached / "activations.h5", "r+") as h5:
        h5["conv1"][7, 1, 2, 3] += 1
    text = (cached / "rankings.csv").read_text().splitlines()
    fields = text[5].split(",")
    fields[7] = "123.5"
    (cached / "rankings.csv").write_text("\n".join([*text[:5], ",".join(fields), *text[6:]]) + "\n")
    # Snakemake sees edited inputs as updated and would remake their outputs; a cache that
    # differs for other reasons (another machine or library) would not be: --touch says so.
    snakemake(
        workdir,
        None,
        "--configfile",
        str(workdir / "config.yaml"),
        "--touch",
        *(
            f"results/mnist/tiny/{name}"
            for name in ("model.keras", "activations.h5", "rankings.csv")
        ),
    )
    before = digests(cached)
    result = verify(workdir, "tiny")
    assert result.returncode == 1, result.stdout + result.stderr[-3000:]
    out = result.stdout
    assert "weights      DIFFERENT  conv2/kernel first differs at index (1, 2, 3, 4)" in out, out
    assert "activations  DIFFERENT  conv1 first differs at index (7, 1, 2, 3)" in out, out
    assert "rankings     DIFFERENT  line 6, column activation: '123.5' (cached)" in out, out
    assert digests(cached) == before
    scratch = workdir / ".snakemake" / "mnist-filters" / "verify" / "mnist" / "tiny"
    assert (scratch / "results" / "mnist" / "tiny" / "model.keras").is_file()


def test_verify_refuses_results_older_than_the_config(tiny_run, tmp_path):
    workdir = tmp_path / "copy"
    shutil.copytree(tiny_run, workdir)
    config = sweep_config_of(workdir)
    config["defaults"]["ranking"] = {"top_k": 5}
    (workdir / "config.yaml").write_text(json.dumps(config))
    result = verify(workdir, "tiny")
    assert result.returncode == 2
    assert "not up to date with the configuration" in result.stderr
    assert not (workdir / ".snakemake" / "mnist-filters" / "verify").exists()


def test_a_sweep_with_only_plain_runs_compares_them_too(tiny_mnist, tmp_path):
    """`runs:` with two runs is compared under results/mnist/sweeps/runs/, settings that differ
    only."""
    config = sweep_config(tiny_mnist, {})
    config["runs"] = {"a": {}, "b": {"training": {"steps": 200}}}
    result = snakemake(tmp_path, config, "-n")
    planned_rules = re.findall(r"^(\w+)\s+\d+$", result.stdout, re.M)  # the job stats table
    for rule in COMPARISON:
        assert rule in planned_rules, (rule, result.stdout[-3000:])
    assert "results/mnist/sweeps/runs/runs.csv" in result.stdout
