"""Config checks: bad values are rejected with a clear message before any job starts.

Most cases call settings.load, the one entry the workflow itself calls as it parses
(rules/common.smk); a few dry runs show the workflow's wiring of it.
"""

import copy
import re
import shutil

import pytest
import yaml

from conftest import NOTEBOOK_CONV1, REPO, snakemake, tiny_config
from helpers import make_run
from mnist_filters.errors import ConfigError
from mnist_filters.schema import coerce_scalars
from mnist_filters.settings import deep_merge, load, resolve_runs, unknown_keys

RUN_SCHEMA = yaml.safe_load((REPO / "schemas" / "run.schema.yaml").read_text())


def loaded(config, config_files=()):
    """settings.load as the workflow calls it, on a copy of `config`."""
    return load(copy.deepcopy(config), config_files, REPO / "schemas")


def refusal(config, config_files=()) -> str:
    with pytest.raises(ConfigError) as refused:
        loaded(config, config_files)
    return str(refused.value)


def test_deep_merge_overrides_nested_keys_only():
    base = {"a": 1, "training": {"steps": 10, "batch_size": 5}}
    assert deep_merge(base, {"training": {"steps": 3}}) == {
        "a": 1,
        "training": {"steps": 3, "batch_size": 5},
    }
    assert base["training"]["steps"] == 10


def test_unknown_keys_get_a_suggestion():
    messages = unknown_keys({"training": {"stpes": 3}, "sede": 1}, RUN_SCHEMA, "runs.x")
    assert "runs.x.training: unknown key 'stpes'; did you mean 'steps'?" in messages
    assert "runs.x: unknown key 'sede'; did you mean 'seed'?" in messages


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "x" * 129, 3, "sweeps"])
def test_unsafe_run_names_are_rejected(name):
    with pytest.raises(ConfigError, match="not a usable run name"):
        resolve_runs({"defaults": {}, "runs": {name: {}}}, RUN_SCHEMA)


def test_shipped_config_reproduces_the_notebook():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert list(config["runs"]) == ["seed"] and config["runs"]["seed"] == {}
    d = loaded(config).runs["seed"]
    conv1, conv2, pool2, fc1 = d["model"]["layers"]
    assert conv1 == NOTEBOOK_CONV1
    assert conv2 == {
        "name": "conv2",
        "kind": "conv",
        "filters": 64,
        "kernel_size": 5,
        "strides": 1,
        "padding": "same",
        "dilation": 1,
        "activation": "relu",
    }
    assert pool2 == {
        "name": "pool2",
        "kind": "max_pool",
        "pool_size": 2,
        "strides": None,
        "padding": "same",
    }
    assert fc1 == {"name": "fc1", "kind": "dense", "units": 1024, "activation": "relu"}
    assert (d["model"]["init_stddev"], d["model"]["bias_init"]) == (0.05, 0.1)
    # the analyses' defaults, written by place in the network, are the notebook's layers
    assert d["activations"]["layers"] == ["conv1"] and d["occlusion"]["layer"] == "conv2"
    assert d["evolution"]["layers"] == ["conv1", "conv2"]
    assert d["invariance"]["layers"] == ["conv1", "pool2", "fc1"]
    assert d["feature_visualisation"]["layers"] == ["conv1", "conv2", "logits"]
    t = d["training"]
    assert (t["optimizer"], t["learning_rate"], t["batch_size"], t["steps"]) == (
        "adam",
        1e-4,
        50,
        2000,
    )
    assert t["validation_size"] == 5000 and t["precision"] == "float32"


@pytest.mark.parametrize(
    "defaults, runs, message",
    [
        ({"training": {"steps": -5}}, None, "-5 is less than the minimum of 1"),
        ({"training": {"steps": 0}}, None, "0 is less than the minimum of 1"),
        (
            {"training": {"optimizer": "adagrad"}},
            None,
            "'adagrad' is not one of ['adam', 'sgd', 'rmsprop']",
        ),
        (
            {"training": {"batch_size": 1900}},
            None,
            "training.batch_size is 1900, larger than the 1800 training images",
        ),
        (
            {"training": {"validation_size": 2000}},
            None,
            "validation_size is 2000 but the training set holds only 2000",
        ),
        ({"training": {"learning_rate": "fast"}}, None, "'fast' is not of type 'number'"),
        (
            {"training": {"stepz": 3}},
            None,
            "defaults.training: unknown key 'stepz'; did you mean 'steps'?",
        ),
        (
            {},
            {"ok": {"training": {"stepz": 3}}},
            "runs.ok.training: unknown key 'stepz'; did you mean 'steps'?",
        ),
        ({}, {"../escape": {}}, "../escape"),
        (
            {"training": {"batch_size": 0}},
            None,
            "training.batch_size: 0 is less than the minimum of 1",
        ),
        (
            {"ranking": {"top_k": 40501}},
            None,
            "ranking.top_k is 40501 but layer conv1 has only 40500 positions",
        ),
        (
            {"ranking": {"top_k": 501, "one_per_image": True}},
            None,
            "ranking.top_k is 501 but layer conv1 has only 500",
        ),
        (
            {"ranking": {"filters": [3, 25]}},
            None,
            "ranking.filters [25] out of range: layer conv1 has 25 filters (0..24)",
        ),
        (
            {"ranking": {"filters": [-1]}},
            None,
            "ranking.filters.0: -1 is less than the minimum of 0",
        ),
        (
            {"activations": {"layers": ["conv3"]}},
            None,
            "activations.layers: the network has no layer 'conv3'; did you mean 'conv2'? the "
            "layers with a spatial output are: conv1, conv2, pool2",
        ),
        (
            {"model": {"conv1": {"kernel_size": 40}}},
            None,
            "runs.tiny: model.layers: layer conv1 (conv): its 40x40 window (valid) does not fit "
            "the 28x28 images",
        ),
        (
            {"model": {"conv2": {"kernel_size": 12, "padding": "valid"}}},
            None,
            "runs.tiny: model.layers: layer conv2 (conv): its 12x12 window (valid) does not fit "
            "conv1's 9x9 output",
        ),
        (
            {
                "model": {
                    "conv2": {"padding": "valid"},
                    "pool2": {"pool_size": 6, "padding": "valid"},
                }
            },
            None,
            "runs.tiny: model.layers: layer pool2 (max_pool): its 6x6 window (valid) does not fit "
            "conv2's 5x5 output",
        ),
        (
            {"figures": {"filters": {"dpi": "high"}}},
            None,
            "figures.filters.dpi: 'high' is not of type 'integer'",
        ),
        (
            {"occlusion": {"enabled": True, "size": 29}},
            None,
            "occlusion.size is 29, larger than the 28x28 images",
        ),
        (
            {"occlusion": {"images": [3, 500]}},
            None,
            "occlusion.images [500] out of range: the test set has 500 images",
        ),
        (
            {"occlusion": {"layer": "fc1"}},
            None,
            "occlusion.layer: fc1 is a dense layer, but the layers with a spatial output are: "
            "conv1, conv2, pool2",
        ),
        (
            {"evolution": {"steps": [0, 301]}},
            None,
            "evolution.steps [301] are past training.steps (300)",
        ),
        ({"evolution": {"steps": []}}, None, "evolution.steps: [] should be non-empty"),
        (
            {"projections": {"layers": ["conv2"]}},
            None,
            "projections.layers ['conv2'] are not dumped",
        ),
    ],
    ids=[
        "negative-steps",
        "zero-steps",
        "unknown-optimizer",
        "batch-too-large",
        "validation-too-large",
        "wrong-type",
        "unknown-key",
        "unknown-key-in-run",
        "unsafe-run-name",
        "zero-batch",
        "k-too-large",
        "k-too-large-one-per-image",
        "filter-out-of-range",
        "negative-filter",
        "unknown-layer",
        "conv1-too-wide",
        "conv2-too-wide",
        "pool2-too-wide",
        "wrong-type-figure",
        "occluder-too-large",
        "occluded-image-out-of-range",
        "occlusion-unknown-layer",
        "evolution-step-past-training",
        "evolution-no-steps",
        "projection-not-dumped",
    ],
)
def test_bad_settings_are_refused_naming_the_key(tiny_mnist, defaults, runs, message):
    config = tiny_config(tiny_mnist, runs)
    config["defaults"] = deep_merge(config["defaults"], defaults)
    assert message in refusal(config)


@pytest.mark.parametrize(
    "defaults, message",
    [
        ({"training": {"steps": -5}}, "training.steps: -5 is less than the minimum of 1"),
        (
            {"training": {"batch_size": 1900}},
            "training.batch_size is 1900, larger than the 1800 training images",
        ),
        (
            {"model": {"conv1": {"kernel_size": 40}}},
            "model.layers: layer conv1 (conv): its 40x40 window (valid) does not fit the 28x28",
        ),
        (
            {
                "model": {
                    "layers": [
                        {"name": "fc", "kind": "dense", "units": 8},
                        {"name": "late", "kind": "conv", "filters": 2, "kernel_size": 3},
                    ]
                }
            },
            "model.layers: layer late (conv) comes after fc, whose output is flat",
        ),
        (
            {"feature_visualisation": {"enabled": True, "units": [64]}},
            "feature_visualisation.units [64] out of range: layer conv1 has 25 units",
        ),
    ],
    ids=[
        "schema",
        "against-the-data",
        "against-the-model",
        "a-declaration",
        "feature-visualisation-unit",
    ],
)
def test_the_workflow_refuses_bad_settings_before_any_job(tiny_mnist, tmp_path, defaults, message):
    config = tiny_config(tiny_mnist)
    config["defaults"] = deep_merge(config["defaults"], defaults)
    result = snakemake(tmp_path, config, "-n", check=False, timeout=120)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr, result.stderr[-3000:]
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


def test_an_image_shape_the_data_does_not_have_fails_a_dry_run(tiny_mnist, tmp_path):
    """28x28 images with data.image_shape [32, 32]: named before any job, not when the data job
    runs."""
    config = tiny_config(tiny_mnist)
    config["data"]["image_shape"] = [32, 32]
    result = snakemake(tmp_path, config, "-n", check=False, timeout=120)
    source = str(tiny_mnist / "train-images-idx3-ubyte.gz")
    assert result.returncode != 0
    assert (
        f"data.image_shape is [32, 32], but {source} holds 28x28 images; set data.image_shape: "
        f"[28, 28]" in (result.stdout + result.stderr)
    ), result.stderr[-3000:]
    assert not (tmp_path / "resources").exists()


def test_an_image_shape_a_download_does_not_have_is_refused():
    config = {"data": {"image_shape": [32, 32]}, "runs": {"seed": {}}}
    assert "data.image_shape is [32, 32], but the mnist download holds 28x28 images" in refusal(
        config
    )


@pytest.mark.parametrize("data_set", ["mnist", "fashion-mnist", "kmnist"])
def test_a_download_is_counted_from_the_data_set_table(data_set):
    settings = loaded({"data": {"set": data_set}, "runs": {"seed": {}}})
    assert (settings.train_count, settings.test_count) == (60000, 10000)
    assert settings.data_set.name == data_set


def test_a_local_copy_is_counted_from_its_headers(tiny_mnist):
    settings = loaded(tiny_config(tiny_mnist))
    assert (settings.train_count, settings.test_count) == (2000, 500)


def test_missing_local_data_is_named(tmp_path):
    message = refusal(tiny_config(tmp_path / "nowhere"))
    assert f"{tmp_path / 'nowhere' / 'train-images-idx3-ubyte.gz'} not found" in message


def test_duplicate_run_names_are_refused(tiny_mnist, tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(
        f"data: {{local_dir: {tiny_mnist}}}\nruns:\n  a: {{}}\n  b: {{}}\n  a: {{seed: 3}}\n"
    )
    result = snakemake(
        tmp_path,
        None,
        "-n",
        "--configfile",
        str(path),
        "--replace-workflow-config",
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"{path}, line 5: duplicate key 'a' (first on line 3)" in result.stdout + result.stderr


def test_nothing_evaluates_code_from_data_or_config():
    sources = [
        *(REPO / "scripts").rglob("*.py"),
        *(REPO / "rules").glob("*.smk"),
        REPO / "Snakefile",
    ]
    # CIFAR-10 comes as pickles: its reader alone imports pickle, and loads only through
    # its Unpickler that resolves NumPy's array globals and nothing else (tests/test_cifar.py
    # feeds it a pickle that would run a command)
    reader = REPO / "scripts" / "mnist_filters" / "cifar.py"
    text = reader.read_text()
    assert "def find_class(self, module: str, name: str):" in text
    assert "pickle.load(" not in text and "pickle.loads(" not in text
    for path in sources:
        text = path.read_text()
        for forbidden in (
            *(() if path == reader else ("import pickle",)),
            "allow_pickle=True",
            "safe_mode=False",
            "eval(",
            "exec(",
            "yaml.load(f",
            "yaml.unsafe_load",
            "Loader=yaml.Loader",
        ):
            assert forbidden not in text, f"{path} uses {forbidden}"


def test_command_line_strings_become_the_numbers_the_schema_wants():
    overrides = {
        "seed": "3",
        "training": {"steps": "100", "learning_rate": "1e-3", "precision": "float32"},
        "ranking": {"filters": ["1", "2"], "one_per_image": "true", "top_k": "many"},
        "figures": {"filters": {"dpi": "80"}},
    }
    assert coerce_scalars(overrides, RUN_SCHEMA) == {
        "seed": 3,
        "training": {"steps": 100, "learning_rate": 1e-3, "precision": "float32"},
        "ranking": {
            "filters": [1, 2],
            "one_per_image": True,
            "top_k": "many",
        },  # left for the schema to refuse
        "figures": {"filters": {"dpi": 80}},
    }
    assert coerce_scalars({"ranking": {"filters": "null"}}, RUN_SCHEMA) == {
        "ranking": {"filters": None}
    }


def test_settings_overridden_on_the_command_line_are_used(tiny_mnist, tmp_path):
    config = tiny_config(tiny_mnist)
    result = snakemake(
        tmp_path,
        config,
        "-n",
        "--config",
        "runs={tiny: {training: {steps: 120}, ranking: {top_k: 5}}}",
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]


def test_an_empty_mirror_list_is_refused():
    assert "data.mirrors.mnist" in refusal(
        {"data": {"mirrors": {"mnist": []}}, "runs": {"seed": {}}}
    )


def test_an_unknown_top_level_block_is_refused(tiny_mnist):
    message = refusal({"mnist": {"local_dir": str(tiny_mnist)}, "runs": {"seed": {}}})
    assert (
        "config: (top level): Additional properties are not allowed ('mnist' was unexpected)"
        in message
    )


def test_omitted_mirrors_default_to_the_real_ones(tmp_path):
    result = snakemake(tmp_path, {"runs": {"seed": {}}}, "-n", timeout=120)
    assert "get_mnist" in result.stdout


def test_run_names_match_literally_not_as_patterns(tiny_mnist, tmp_path):
    """A '.' in a run name is a dot, not "any character": results/mnist/aXb/ is no run."""
    config = tiny_config(tiny_mnist, runs={"a.b": {}})
    assert (
        "rank_patches"
        in snakemake(tmp_path, config, "-n", "results/mnist/a.b/rankings.csv", timeout=120).stdout
    )
    result = snakemake(
        tmp_path, config, "-n", "results/mnist/aXb/rankings.csv", check=False, timeout=120
    )
    assert result.returncode != 0 and "MissingRuleException" in result.stdout + result.stderr, (
        result.stderr[-2000:]
    )


def test_schema_defaults_fill_each_run_with_its_own_copies():
    runs = resolve_runs(
        {"defaults": {}, "runs": {"a": {}, "b": {"training": {"steps": 7}}}}, RUN_SCHEMA
    )
    assert runs["a"]["training"]["steps"] == 2000 and runs["b"]["training"]["steps"] == 7
    assert runs["a"]["model"]["layers"][0] == NOTEBOOK_CONV1
    runs["a"]["model"]["layers"][0]["filters"] = 1
    assert runs["b"]["model"]["layers"][0]["filters"] == 25
    assert RUN_SCHEMA["properties"]["model"]["default"] == {}  # the schema itself is left as it was


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"invariance": {"enabled": True, "images": 501}},
            "invariance.images is 501 but the test set has 500 images",
        ),
        (
            {"invariance": {"rotation": {"min": 10, "max": -10, "count": 3}}},
            "invariance.rotation: min 10 is above max -10",
        ),
        (
            {"invariance": {"scale": {"min": 0, "max": 2, "count": 3}}},
            "invariance.scale.min is 0; a scale must be above 0",
        ),
        (
            {"invariance": {"layers": ["flatten"]}},
            "invariance.layers: flatten is a flatten layer, but the layers it compares are",
        ),
        (
            {"invariance": {"scale": {"min": 0.5, "max": 2}}},
            "invariance.scale: 'count' is a required property",
        ),
        (
            {"evolution": {"layers": ["fc1"]}},
            "evolution.layers: fc1 is a dense layer, but the layers with a spatial output are: "
            "conv1, conv2, pool2",
        ),
        (
            {"evolution": {"steps": [0, 2001]}},
            "evolution.steps [2001] are past training.steps (300)",
        ),
        (
            {"training": {"examples_per_class": 500}},
            "training.examples_per_class is 500, but after the 200 images held out for "
            "validation label 0 has",
        ),
        (
            {"training": {"examples_per_class": 2}},
            "training.batch_size is 50, larger than the 20 training images of 2 per class",
        ),
        (
            {"training": {"classes": [3, 10]}},
            "training.classes: [10] are not labels of the data set, whose labels are 0..9",
        ),
        (
            {"training": {"classes": [4]}},
            "training.classes: [4] is too short",
        ),
        (
            {"training": {"classes": [2, 2, 5]}},
            "training.classes: [2, 2, 5] has non-unique elements",
        ),
        (
            {"training": {"classes": [1, 7], "examples_per_class": 20}},
            "training.batch_size is 50, larger than the 40 training images of 20 per class",
        ),
        (
            {"training": {"classes": [1, 2, 3]}, "feature_visualisation": {"units": [3]}},
            "feature_visualisation.units [3] out of range: layer logits has 3 units (0..2)",
        ),
        (
            {"feature_visualisation": {"layers": ["conv3"]}},
            "feature_visualisation.layers: the network has no layer 'conv3'; did you mean "
            "'conv2'? the convolutions and dense layers are: conv1, conv2, fc1, logits",
        ),
        (
            {"feature_visualisation": {"units": [3, 10]}},
            "feature_visualisation.units [10] out of range: layer logits has 10 units (0..9)",
        ),
        (
            {"feature_visualisation": {"layers": ["conv1"], "units": [30]}},
            "feature_visualisation.units [30] out of range: layer conv1 has 25 units (0..24)",
        ),
        (
            {"feature_visualisation": {"steps": -1}},
            "feature_visualisation.steps: -1 is less than the minimum of 0",
        ),
        (
            {"feature_visualisation": {"total_variation": -0.1}},
            "feature_visualisation.total_variation: -0.1 is less than the minimum of 0",
        ),
        (
            {"feature_visualisation": {"diversity": {"weight": -1}}},
            "feature_visualisation.diversity.weight: -1 is less than the minimum of 0",
        ),
        (
            {"feature_visualisation": {"parameterisation": "wavelet"}},
            "feature_visualisation.parameterisation: 'wavelet' is not one of ['pixel', 'fourier']",
        ),
        (
            {"feature_visualisation": {"objective": "spatial"}},
            "feature_visualisation.objective: 'spatial' is not one of ['channel', 'neuron']",
        ),
        (
            {"feature_visualisation": {"jitter": 28}},
            "feature_visualisation.jitter is 28 pixels, as large as the 28x28 images",
        ),
    ],
    ids=[
        "invariance-too-many-images",
        "invariance-empty-range",
        "invariance-zero-scale",
        "invariance-unknown-layer",
        "invariance-range-without-count",
        "evolution-unknown-layer",
        "evolution-step-past-training",
        "more-examples-per-class-than-a-class-holds",
        "batch-past-the-examples-per-class",
        "classes-unknown-label",
        "classes-one-label",
        "classes-repeated-label",
        "classes-batch-past-their-examples",
        "classes-logit-unit-past-them",
        "features-unknown-layer",
        "features-unit-past-the-logits",
        "features-unit-past-conv1",
        "features-negative-steps",
        "features-negative-weight",
        "features-negative-diversity",
        "features-unknown-parameterisation",
        "features-unknown-objective",
        "features-jitter-past-the-image",
    ],
)
def test_the_analyses_settings_are_checked(tiny_mnist, overrides, message):
    assert message in refusal(tiny_config(tiny_mnist, runs={"r": overrides}))


def test_make_keeps_data_beside_a_config_in_args(tiny_mnist, tmp_path):
    """`make run DATA=... ARGS="--config ..."`: Snakemake keeps only the last --config, so DATA
    travels in a config file: the settings are checked against the local copy's 2,000
    training images (the notebook's validation split of 5,000 does not fit them), not the
    download's 60,000."""
    shutil.copy(REPO / "config.yaml", tmp_path)  # the Snakefile's configfile, in --directory
    result = make_run(
        f"DATA={tiny_mnist}", f"ARGS=--config 'defaults={{seed: 1}}' -n --directory {tmp_path}"
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "the training set holds only 2000 images" in output, output[-3000:]


def test_make_notebook_plans_the_notebooks_outputs_with_config_and_data(tiny_mnist, tmp_path):
    """`make notebook` passes CONFIG=, DATA= and ARGS= as `make run` does, and asks Snakemake for
    the notebook target only."""
    shutil.copy(REPO / "config.yaml", tmp_path)
    result = make_run(
        f"DATA={tiny_mnist}",
        "CONFIG=examples/deeper.yaml",
        "ARGS=--config 'defaults={training: {validation_size: 100}}' -n --directory "
        + str(tmp_path),
        target="notebook",
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    jobs = dict(re.findall(r"^(\w+) +(\d+)$", result.stdout, re.M))
    assert jobs["plot_top_patches"] == jobs["train"] == "2", jobs  # seed and deeper
    assert "gallery" not in jobs and "visualise_features" not in jobs, jobs


def conv(name, **options):
    return {"name": name, "kind": "conv", "filters": 4, "kernel_size": 3, **options}


@pytest.mark.parametrize(
    "model, message",
    [
        (
            {"layers": [{"name": "a", "kind": "convolution", "filters": 3, "kernel_size": 3}]},
            "model.layers.0.kind: 'convolution' is not one of ['conv', 'max_pool', 'avg_pool', "
            "'batch_norm', 'dropout', 'dense']",
        ),
        ({"layers": [conv("a"), conv("a")]}, "model.layers: two layers are named 'a'"),
        (
            {"layers": [{"name": "d", "kind": "dense", "units": 3}, conv("a")]},
            "model.layers: layer a (conv) comes after d, whose output is flat (3 units): "
            "convolutions and poolings come before the first dense layer",
        ),
        (
            {"layers": [conv("a", filters=0)]},
            "model.layers: layer a (conv): filters: 0 is less than the minimum of 1",
        ),
        (
            {"layers": [{"name": "d", "kind": "dense", "units": 0}]},
            "model.layers: layer d (dense): units: 0 is less than the minimum of 1",
        ),
        (
            {"layers": [conv("a", kernel_size=[9, 3]), conv("b", kernel_size=21)]},
            "model.layers: layer b (conv): its 21x21 window (valid) does not fit a's 20x26 output",
        ),
        (
            {"layers": [conv("a", dilation=14)]},
            "model.layers: layer a (conv): its 3x3 window dilated by 14x14 (valid) does not fit "
            "the 28x28 images",
        ),
        (
            {"layers": [conv("a", dilation=0)]},
            "model.layers: layer a (conv): dilation: 0 is less than the minimum of 1",
        ),
        (
            {"layers": [conv("a", pool_size=2)]},
            "model.layers: layer a (conv) has no setting 'pool_size'; did you mean 'kernel_size'?",
        ),
        (
            {"conv9": {"filters": 2}},
            "model.conv9: the network has no layer 'conv9'; did you mean 'conv2'?",
        ),
        (
            {"fc1_units": 64},
            "model.fc1_units is now a setting of the layer fc1: model: {fc1: {units: 64}}",
        ),
        (
            {"layers": [conv("logits")]},
            "model.layers: 'logits' is the name of a layer the workflow adds",
        ),
        (
            {"layers": [conv("weights")]},
            "model.layers: 'weights' names a dataset of activations.h5 that is no layer",
        ),
    ],
    ids=[
        "unknown-kind",
        "two-layers-one-name",
        "conv-after-dense",
        "zero-filters",
        "zero-units",
        "kernel-too-large",
        "dilation-too-large",
        "dilation-zero",
        "setting-of-another-kind",
        "unknown-layer-changed",
        "old-form",
        "reserved-name",
        "a-name-of-the-dump",
    ],
)
def test_a_bad_network_is_refused_in_one_line_naming_the_layer(tiny_mnist, model, message):
    config = tiny_config(tiny_mnist)
    config["defaults"]["model"] = model
    refused = refusal(config)
    assert message in refused and "\n" not in refused, refused


def test_an_analysis_naming_a_layer_the_network_lacks_is_refused(tiny_mnist):
    config = tiny_config(tiny_mnist)
    config["defaults"]["model"] = {"layers": [conv("first"), conv("second")]}
    config["defaults"]["activations"] = {"layers": ["conv1"]}
    assert refusal(config) == (
        "runs.tiny: activations.layers: the network has no layer 'conv1'; the layers with a "
        "spatial output are: first, second (or first_convolution, last_convolution, "
        "convolutions, last_pooling, last_spatial, last_hidden, output)"
    )
    config["defaults"]["activations"] = {"layers": ["convolutions"]}
    assert loaded(config).runs["tiny"]["activations"]["layers"] == ["first", "second"]
