"""The workflow used from a user's own project as a Snakemake module, as the module docs show:
their Snakefile, their config, their folder; our files found from the module's own place."""

import pytest
import yaml

from conftest import NOTEBOOK_CONV1, copy_of_the_workflow, planned, snakemake, tiny_config
from helpers import edited

pytestmark = pytest.mark.slow

# docs/usage.md's "Use it from your own project" Snakefile, plus a rule override as the module docs
# show.
USER_SNAKEFILE = """configfile: "config.yaml"


module mnist_filters:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from mnist_filters as mf_*


use rule train from mnist_filters as mf_train with:
    threads: 1
    resources:
        mem_mb=2100,
"""
AFTER_RANKING = {
    "rank_patches",
    "plot_top_patches",
    "project_patches",
    "plot_projections",
    "gallery",
}


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """A copy of the workflow's files, as a user's clone, so that a test may edit a library
    module."""
    return copy_of_the_workflow(tmp_path_factory.mktemp("clone") / "mnist-filters")


@pytest.fixture(scope="module")
def project(workflow, tiny_mnist, tmp_path_factory):
    """A user's project folder, run from data to every output with plain `snakemake --cores 2`."""
    folder = tmp_path_factory.mktemp("my-project")
    (folder / "Snakefile").write_text(USER_SNAKEFILE.format(snakefile=workflow / "Snakefile"))
    config = tiny_config(
        tiny_mnist
    )  # data, a few settings of `defaults`, runs: every other default is the schemas'
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake(folder, None, snakefile=folder / "Snakefile")
    return folder


def test_every_output_lands_in_the_users_folder(project, workflow):
    run = project / "results" / "mnist" / "tiny"
    for path in [
        "model.keras",
        "metrics.json",
        "activations.h5",
        "rankings.csv",
        "projections.h5",
        "figures/samples.png",
        "figures/filters.png",
        "figures/training_curve.png",
        "figures/top_patches/conv1_overview.png",
        "gallery/index.html",
    ]:
        assert (run / path).is_file(), path
    assert (project / "logs" / "mnist" / "tiny" / "train.log").is_file()
    assert (project / "benchmarks" / "mnist" / "tiny" / "train.tsv").is_file()
    assert not [
        name
        for name in ("results", "resources", "logs", "benchmarks", "checkpoints", ".snakemake")
        if (workflow / name).exists()
    ]
    settings = yaml.safe_load((run / "metrics.json").read_text())["settings"]
    assert settings["model"]["layers"][0] == NOTEBOOK_CONV1


def test_a_finished_project_plans_nothing(project):
    assert planned(project, None, project) == set()


def test_an_edited_library_module_replans_what_runs_it(project, workflow):
    with edited(
        workflow / "scripts" / "mnist_filters" / "ranking.py", "group: int = 64", "group: int = 32"
    ):
        assert planned(project, None, project) == {(f"mf_{rule}", "tiny") for rule in AFTER_RANKING}


def test_a_rule_override_reaches_the_job(project):
    """`threads: 1` (the rule's own is 2) is what training ran with; the `resources:` given
    replace the rule's whole block (Snakemake's `with:`), `gpu` included, and training still
    runs."""
    metrics = yaml.safe_load((project / "results" / "mnist" / "tiny" / "metrics.json").read_text())
    assert metrics["threads"] == 1


def test_the_report_is_made_from_the_users_folder(project):
    snakemake(project, None, "--report", "report.html", snakefile=project / "Snakefile")
    html = (project / "report.html").read_text(errors="replace")
    for name in [
        "samples.png",
        "filters.png",
        "training_curve.png",
        "conv1_overview.png",
        "metrics.json",
    ]:
        assert name in html, name
