"""Changing one thing reruns exactly what depends on it (asserted on Snakemake's own plan)."""

import copy
import os
import shutil

import pytest

from conftest import (
    ANALYSES_ON,
    ONE_THREAD_TRAINING,
    copy_of_the_workflow,
    planned,
    snakemake,
    tiny_config,
)
from helpers import edited
from mnist_filters.settings import deep_merge

pytestmark = pytest.mark.slow
SUBSET = [8, 1, 3, 5]  # the classes `tiny` trains on, in the order of its output units
FIGURES = {"plot_samples", "plot_filters", "plot_top_patches", "plot_training_curve"}
# what follows the ranking: the patch figures, the projections, their figures and the gallery
AFTER_RANKING = {"plot_top_patches", "project_patches", "plot_projections", "gallery"}
MISTAKES = {"tally_mistakes", "plot_confusion", "plot_mistakes"}
AFTER_TRAINING = (
    {"train", "dump_activations", "rank_patches", "plot_filters", "plot_training_curve"}
    | AFTER_RANKING
    | MISTAKES
)
# the analyses the run `tiny` turns on (OPTIONAL), each a stage and its figures
OPTIONAL = ANALYSES_ON
OCCLUSION = {"occlude", "plot_occlusion"}
INVARIANCE = {"measure_invariance", "plot_invariance"}
EVOLUTION = {"trace_evolution", "plot_evolution"}
FEATURES = {"visualise_features", "plot_feature_visualisation"}
ANALYSES = OCCLUSION | INVARIANCE | EVOLUTION | FEATURES
# the comparison of the two runs of `runs:` (results/mnist/sweeps/runs/)
COMPARED = {
    (rule, "sweeps/runs")
    for rule in (
        "compare_runs",
        "plot_comparison_curves",
        "plot_comparison_effects",
        "plot_comparison_filters",
    )
}


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """A copy of the workflow's own files, so that a test may edit a script."""
    return copy_of_the_workflow(tmp_path_factory.mktemp("workflow") / "mnist-filters")


@pytest.fixture(scope="module")
def base_config(tiny_mnist):
    # `tiny` classifies four of the ten classes, every analysis on; `other` trains on 100
    # images of each class (a learning curve's point)
    return tiny_config(
        tiny_mnist,
        runs={
            "tiny": {**copy.deepcopy(OPTIONAL), "training": {"classes": SUBSET}},
            "other": {"seed": 1, "training": {"examples_per_class": 100}},
        },
    )


@pytest.fixture(scope="module")
def done(workflow, base_config, tmp_path_factory):
    """A workdir where both runs are complete."""
    workdir = tmp_path_factory.mktemp("two-runs")
    # one thread per training job: the two runs train at once
    snakemake(workdir, base_config, *ONE_THREAD_TRAINING, snakefile=workflow / "Snakefile")
    return workdir


def changed(config, **runs):
    """`config` with each named run's settings updated (deep-merged) by the given overrides."""
    config = copy.deepcopy(config)
    for name, overrides in runs.items():
        config["runs"][name] = deep_merge(config["runs"].get(name, {}), overrides)
    return config


def test_a_run_trains_on_its_examples_per_class(done):
    import json

    metrics = json.loads((done / "results" / "mnist" / "other" / "metrics.json").read_text())
    assert metrics["train_images"] == 1000 and metrics["validation_images"] == 200
    assert metrics["settings"]["training"]["examples_per_class"] == 100


def test_a_class_subset_is_trained_and_tested_on_those_classes_only(done, tiny_mnist):
    import csv
    import json

    import h5py
    import numpy as np

    from mnist_filters.dataset import FILES
    from mnist_filters.idx import read_idx
    from mnist_filters.stages.mistakes import read_confusion, read_mistakes

    run = done / "results" / "mnist" / "tiny"
    labels = read_idx(tiny_mnist / FILES["test_labels"])
    members = np.flatnonzero(np.isin(labels, SUBSET))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["classes"] == SUBSET
    assert metrics["test_images"] == len(members)  # exactly the labels file's count
    assert sorted(metrics["test_accuracy_per_class"]) == sorted(map(str, SUBSET))
    with h5py.File(run / "activations.h5") as h5:
        np.testing.assert_array_equal(h5["image_index"][:], members)
        np.testing.assert_array_equal(h5["labels"][:], labels[members])
        assert h5["logits"].shape == (len(members), len(SUBSET))
        assert h5.attrs["classes"].tolist() == SUBSET
    matrix, rows, names = read_confusion(str(run / "confusion.csv"))
    assert rows == SUBSET and names == [str(c) for c in SUBSET]
    assert matrix.sum() == len(members)
    accuracy = np.trace(matrix) / matrix.sum()
    assert accuracy == pytest.approx(metrics["test_accuracy"], abs=1 / len(members))
    for mistake in read_mistakes(str(run / "mistakes.csv")):
        assert mistake["label"] in SUBSET and mistake["predicted"] in SUBSET
        assert labels[mistake["image_index"]] == mistake["label"]
    with open(run / "rankings.csv", newline="") as handle:
        assert {int(row["image_index"]) for row in csv.DictReader(handle)} <= set(members)
    with open(run / "invariance.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {int(row["test_index"]) for row in rows} <= set(members)
    assert {int(row["predicted"]) for row in rows} <= set(SUBSET)
    with h5py.File(run / "occlusion.h5") as h5:
        assert set(h5["test_index"][:].tolist()) <= set(members)
        assert set(np.unique(h5["predicted"][:]).tolist()) <= set(SUBSET)
    with h5py.File(run / "features.h5") as h5:
        assert [n.decode() for n in h5["logits/unit_names"][:]] == [str(c) for c in SUBSET]
        for layer in h5:
            assert set(h5[layer]["best_test_index"][:].tolist()) <= set(members)


def test_another_number_of_examples_per_class_retrains_that_run_only(done, base_config, workflow):
    config = changed(base_config, other={"training": {"examples_per_class": 50}})
    assert {run for _rule, run in planned(done, config, workflow)} == {"other", "sweeps/runs"}
    assert ("train", "other") in planned(done, config, workflow)


def test_a_complete_workflow_plans_nothing(done, base_config, workflow):
    assert planned(done, base_config, workflow) == set()
    result = snakemake(done, base_config, "-n", snakefile=workflow / "Snakefile")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_changing_top_k_reranks_and_redoes_what_follows_only(done, base_config, workflow):
    config = changed(base_config, tiny={"ranking": {"top_k": 6}})
    assert planned(done, config, workflow) == {
        (rule, "tiny") for rule in {"rank_patches"} | AFTER_RANKING
    }


def test_changing_one_figure_setting_redraws_only_that_figure(done, base_config, workflow):
    config = changed(base_config, tiny={"figures": {"filters": {"dpi": 50}}})
    assert planned(done, config, workflow) == {("plot_filters", "tiny")}
    config = changed(base_config, other={"seed": 1, "figures": {"samples": {"count": 9}}})
    assert planned(done, config, workflow) == {("plot_samples", "other")}


def test_changing_one_runs_learning_rate_reruns_that_run_from_training_on(
    done, base_config, workflow
):
    config = changed(base_config, other={"seed": 1, "training": {"learning_rate": 3e-4}})
    assert (
        planned(done, config, workflow) == {(rule, "other") for rule in AFTER_TRAINING} | COMPARED
    )


def test_changing_the_third_layer_retrains_that_run_only(done, base_config, workflow):
    """pool2, the third layer of the notebook's list, changed by its name: that run retrains,
    and everything after; the other run, nothing."""
    config = changed(base_config, other={"seed": 1, "model": {"pool2": {"padding": "valid"}}})
    assert (
        planned(done, config, workflow) == {(rule, "other") for rule in AFTER_TRAINING} | COMPARED
    )


def test_a_layer_named_as_its_selector_resolves_to_plans_nothing(done, base_config, workflow):
    """The defaults name layers by place (last_convolution, convolutions); naming the same
    layers, or writing the notebook's list out whole, changes no params."""
    config = changed(
        base_config,
        tiny={"occlusion": {"layer": "conv2"}, "evolution": {"layers": ["conv1", "conv2"]}},
        other={"seed": 1, "model": {"conv1": {"filters": 25, "strides": 2}}},
    )
    assert planned(done, config, workflow) == set()


def test_adding_a_run_makes_only_the_new_run(done, base_config, workflow):
    config = changed(base_config, third={"seed": 2})
    assert (
        planned(done, config, workflow)
        == {(rule, "third") for rule in AFTER_TRAINING | FIGURES} | COMPARED
    )


def test_the_notebook_target_makes_the_notebooks_outputs_only(done, base_config, workflow):
    """`make notebook`: metrics.json, samples.png, filters.png and the top patches, with the
    stages they need, and nothing of the analyses, the gallery or the comparison."""
    assert planned(done, base_config, workflow, "notebook") == set()
    config = changed(base_config, third={"seed": 2})
    needed = {"train", "dump_activations", "rank_patches"}
    drawn = {"plot_samples", "plot_filters", "plot_top_patches"}
    assert planned(done, config, workflow, "notebook") == {
        (rule, "third") for rule in needed | drawn
    }


def test_touching_a_plotting_script_redraws_without_retraining(done, base_config, workflow):
    """Snakemake reruns a `script:` rule when its script is newer than the outputs (mtime)."""
    script = workflow / "scripts" / "plot_training_curve.py"
    before = script.stat()
    script.touch()
    try:
        assert planned(done, base_config, workflow) == {
            ("plot_training_curve", "tiny"),
            ("plot_training_curve", "other"),
        }
    finally:  # leave the workflow as the other tests expect it
        os.utime(script, ns=(before.st_atime_ns, before.st_mtime_ns))


LIBRARY = ("scripts", "mnist_filters")


def test_editing_the_ranking_code_reranks_and_redoes_what_follows_only(done, base_config, workflow):
    """The ranking code also ranks the test set through training (where a run traces it)."""
    with edited(workflow.joinpath(*LIBRARY, "ranking.py"), "group: int = 64", "group: int = 32"):
        assert planned(done, base_config, workflow) == {
            (rule, run) for rule in {"rank_patches"} | AFTER_RANKING for run in ("tiny", "other")
        } | {(rule, "tiny") for rule in EVOLUTION}


def test_editing_the_model_code_retrains_every_run(done, base_config, workflow):
    with edited(
        workflow.joinpath(*LIBRARY, "network", "build.py"),
        "return ops.max(blocks, axis=(2, 4))",
        "return ops.max(ops.max(blocks, axis=4), axis=2)",
    ):
        assert planned(done, base_config, workflow) == {
            (rule, run) for rule in AFTER_TRAINING for run in ("tiny", "other")
        } | COMPARED | {(rule, "tiny") for rule in ANALYSES}


@pytest.mark.parametrize(
    "setting, rules",
    [
        ({"occlusion": {"size": 6}}, OCCLUSION | {"gallery"}),
        ({"occlusion": {"images": [1, 2]}}, OCCLUSION | {"gallery"}),
        ({"figures": {"occlusion": {"dpi": 50}}}, {"plot_occlusion", "gallery"}),
        ({"figures": {"mistakes": {"count": 4}}}, {"plot_mistakes"}),
        (
            {"invariance": {"rotation": {"min": -45, "max": 45, "count": 7}}},
            INVARIANCE | {"gallery"},
        ),
        ({"figures": {"invariance": {"dpi": 50}}}, {"plot_invariance", "gallery"}),
        ({"evolution": {"layers": ["conv1"]}}, EVOLUTION | {"gallery"}),
        ({"figures": {"evolution": {"dpi": 50}}}, {"plot_evolution"}),
        ({"feature_visualisation": {"total_variation": 0.5}}, FEATURES | {"gallery"}),
        ({"feature_visualisation": {"jitter": 0}}, FEATURES | {"gallery"}),
        ({"figures": {"feature_visualisation": {"dpi": 50}}}, {"plot_feature_visualisation"}),
    ],
    ids=[
        "occluder-size",
        "occluded-images",
        "occlusion-figures",
        "mistakes-shown",
        "rotation-range",
        "invariance-figures",
        "evolution-layers",
        "evolution-figures",
        "feature-regulariser",
        "feature-jitter",
        "feature-figures",
    ],
)
def test_an_analysis_setting_reruns_only_its_stage_and_figures(
    done, base_config, workflow, setting, rules
):
    config = changed(base_config, tiny=setting)
    assert planned(done, config, workflow) == {(rule, "tiny") for rule in rules}


def test_turning_an_analysis_on_makes_only_it(done, base_config, workflow):
    config = changed(base_config, other={"seed": 1, **OPTIONAL})
    assert planned(done, config, workflow) == {(rule, "other") for rule in ANALYSES | {"gallery"}}


def test_other_kept_steps_retrain_that_run(done, base_config, workflow):
    """The snapshots are an output of training: another list retrains (to the same final
    weights)."""
    config = changed(base_config, tiny={"evolution": {"steps": [0, 300]}})
    assert (
        planned(done, config, workflow)
        == {(rule, "tiny") for rule in AFTER_TRAINING | ANALYSES} | COMPARED
    )


def test_editing_one_figures_code_redraws_only_that_figure(done, base_config, workflow):
    with edited(
        workflow.joinpath(*LIBRARY, "stages", "figures", "filters.py"), "fontsize=8", "fontsize=9"
    ):
        assert planned(done, base_config, workflow) == {
            ("plot_filters", "tiny"),
            ("plot_filters", "other"),
        }


def test_editing_the_gallery_page_remakes_only_the_galleries(done, base_config, workflow):
    """The page template is no Python module, so no code digest covers it: its own sha256 does."""
    page = workflow.joinpath(*LIBRARY, "stages", "gallery.html")
    with edited(page, "margin: 1em 2em;", "margin: 1em 3em;"):
        assert planned(done, base_config, workflow) == {("gallery", "tiny"), ("gallery", "other")}


@pytest.mark.parametrize(
    "module, old, new",
    [
        ("ranking.py", "import numpy as np\n", "import numpy as np  # arrays\n\n\n"),
        (
            "network/build.py",
            "def layer_seeds(",
            "# Why: each layer gets its own stream.\ndef layer_seeds(",
        ),
        ("stages/figures/style.py", '"""What every figure shares', '"""What all the figures share'),
        # modules marked CHANGES_NO_OUTPUT: a real edit, and still nothing to redo
        ("log_filter.py", r"cudart_stub\.cc", r"cudart_stubs?\.cc"),
        ("progress.py", "PROGRESS_AFTER_SECONDS = 3.0", "PROGRESS_AFTER_SECONDS = 5.0"),
    ],
    ids=["comment-ranking", "comment-model", "docstring-figures", "log-filter", "progress"],
)
def test_comment_layout_and_docstring_edits_plan_nothing(
    done, base_config, workflow, module, old, new
):
    with edited(workflow.joinpath(*LIBRARY, *module.split("/")), old, new):
        assert planned(done, base_config, workflow) == set()


@pytest.mark.parametrize(
    "setting",
    [
        {"data": {"timeout_seconds": 5}},
        {"data": {"retries": 7}},
        {"data": {"retry_wait_seconds": 0.5}},
        {"data": {"mirrors": {"mnist": ["http://127.0.0.1:9/mnist"]}}},
        {"checkpoints": {"dir": "elsewhere"}},
        {"checkpoints": {"every": 7}},
        {"checkpoints": {"keep": True}},
    ],
    ids=lambda s: ".".join([*s, *next(iter(s.values()))]),
)
def test_settings_that_cannot_change_an_output_plan_nothing(done, base_config, workflow, setting):
    config = copy.deepcopy(base_config)
    for block, values in setting.items():
        config.setdefault(block, {}).update(values)
    assert planned(done, config, workflow) == set()


def test_a_byte_identical_copy_of_the_data_elsewhere_plans_nothing(
    done, base_config, workflow, tiny_mnist, tmp_path
):
    copy_ = tmp_path / "same-bytes"
    shutil.copytree(tiny_mnist, copy_)  # new folder, new modification times, same bytes
    config = copy.deepcopy(base_config)
    config["data"]["local_dir"] = str(copy_)
    assert planned(done, config, workflow) == set()


def test_other_bytes_in_the_data_rerun_everything(
    done, base_config, workflow, tiny_mnist, tmp_path
):
    from mnist_filters.dataset import FILES
    from mnist_filters.idx import read_idx, write_idx

    other = tmp_path / "other-bytes"
    shutil.copytree(tiny_mnist, other)
    labels = read_idx(other / FILES["train_labels"]).copy()
    labels[0] = (labels[0] + 1) % 10
    write_idx(other / FILES["train_labels"], labels)
    config = copy.deepcopy(base_config)
    config["data"]["local_dir"] = str(other)
    jobs = planned(done, config, workflow)
    assert ("get_mnist", None) in jobs
    assert {(rule, run) for rule in AFTER_TRAINING | FIGURES for run in ("tiny", "other")} <= jobs
