"""Changing one thing reruns exactly what depends on it (asserted on Snakemake's own plan)."""

import copy
import shutil

import pytest

from conftest import REPO, snakemake, tiny_config

pytestmark = pytest.mark.slow
FIGURES = {"plot_samples", "plot_filters", "plot_top_patches", "plot_training_curve"}
AFTER_TRAINING = {"train", "dump_activations", "rank_patches", "plot_filters", "plot_top_patches", "plot_training_curve"}


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """A copy of the workflow's own files, so that a test may edit a script."""
    copy_ = tmp_path_factory.mktemp("workflow") / "mnist-filters"
    shutil.copytree(REPO, copy_, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".snakemake", "results", "resources", "logs", "benchmarks", "checkpoints", "bench",
        "tests", "__pycache__", "report.html"))
    return copy_


@pytest.fixture(scope="module")
def base_config(tiny_mnist):
    return tiny_config(tiny_mnist, runs={"tiny": {}, "other": {"seed": 1}})


@pytest.fixture(scope="module")
def done(workflow, base_config, tmp_path_factory):
    """A workdir where both runs are complete."""
    workdir = tmp_path_factory.mktemp("two-runs")
    snakemake(workdir, base_config, snakefile=workflow / "Snakefile")
    return workdir


def planned(workdir, config, workflow):
    """{(rule, run)} of the jobs Snakemake would run, from its --summary table."""
    result = snakemake(workdir, config, "--summary", snakefile=workflow / "Snakefile")
    jobs = set()
    for line in result.stdout.splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) == 6 and fields[5] == "update pending":
            path = fields[0]
            run = path.split("/")[1] if path.startswith("results/") else None
            jobs.add((fields[2], run))
    return jobs


def changed(config, **runs):
    config = copy.deepcopy(config)
    for name, overrides in runs.items():
        config["runs"][name] = overrides
    return config


def test_a_complete_workflow_plans_nothing(done, base_config, workflow):
    assert planned(done, base_config, workflow) == set()
    result = snakemake(done, base_config, "-n", snakefile=workflow / "Snakefile")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_top_k_reranks_and_redraws_patches_only(done, base_config, workflow):
    config = changed(base_config, tiny={"ranking": {"top_k": 6}})
    assert planned(done, config, workflow) == {("rank_patches", "tiny"), ("plot_top_patches", "tiny")}


def test_changing_one_figure_setting_redraws_only_that_figure(done, base_config, workflow):
    config = changed(base_config, tiny={"figures": {"filters": {"dpi": 50}}})
    assert planned(done, config, workflow) == {("plot_filters", "tiny")}
    config = changed(base_config, other={"seed": 1, "figures": {"samples": {"count": 9}}})
    assert planned(done, config, workflow) == {("plot_samples", "other")}


def test_changing_one_runs_learning_rate_reruns_that_run_from_training_on(done, base_config, workflow):
    config = changed(base_config, other={"seed": 1, "training": {"learning_rate": 3e-4}})
    assert planned(done, config, workflow) == {(rule, "other") for rule in AFTER_TRAINING}


def test_adding_a_run_makes_only_the_new_run(done, base_config, workflow):
    config = changed(base_config, third={"seed": 2})
    assert planned(done, config, workflow) == {(rule, "third") for rule in AFTER_TRAINING | FIGURES}


def test_touching_a_plotting_script_redraws_without_retraining(done, base_config, workflow):
    """Snakemake reruns a `script:` rule when its script is newer than the outputs (mtime)."""
    (workflow / "scripts" / "plot_training_curve.py").touch()
    assert planned(done, base_config, workflow) == {("plot_training_curve", "tiny"), ("plot_training_curve", "other")}
