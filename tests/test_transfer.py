"""The transfer experiment (config `transfer:`): base networks on class halves, layers copied
frozen or fine-tuned, few-shot tops over A's features; its tables, figures and reruns."""

from __future__ import annotations

import copy
import json

import h5py
import numpy as np
import pytest

from conftest import (
    ONE_THREAD_TRAINING,
    REPO,
    TERMINAL,
    default_settings,
    planned,
    snakemake,
    tiny_config,
)
from mnist_filters.dataset import FILES
from mnist_filters.dataset import sha256_file as sha256
from mnist_filters.errors import ConfigError
from mnist_filters.idx import read_idx
from mnist_filters.network.table import LayerTable
from mnist_filters.settings import load
from mnist_filters.stages.transfer import read_table
from mnist_filters.transfer_plan import halves

pytestmark = pytest.mark.slow
# depth 0 (nothing copied) and 2 (conv1, conv2), one seed: the base networks' own, so that
# BnB with n = 0 is baseB's training exactly
TRANSFER = {
    "enabled": True,
    "depths": [0, 2],
    "seeds": [0],
    "training_a": {"steps": 100, "log_every": 50},
    "training_b": {"steps": 100, "log_every": 50},
    "few_shot": {"examples_per_class": [5]},
}
A, B = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
TREATMENT_NAMES = ("AnB", "AnB+", "BnB", "BnB+")

# the layers the depths count: those with weights below the output (conv1, conv2, fc1)
TRANSFERABLE = LayerTable.declared(default_settings()["model"]["layers"], (28, 28), 10).transferable


def transfer_config(tiny_mnist, **block) -> dict:
    config = tiny_config(tiny_mnist)
    config["runs"] = {}
    config["transfer"] = {**copy.deepcopy(TRANSFER), **block}
    return config


@pytest.fixture(scope="module")
def experiment(tiny_mnist, tmp_path_factory):
    """The experiment, run once on the generated digits: 2 base networks, 8 treatments, 2
    few-shot networks."""
    workdir = tmp_path_factory.mktemp("transfer")
    # one thread per training job, two jobs at a time: most of each is TensorFlow's start
    result = snakemake(workdir, transfer_config(tiny_mnist), *ONE_THREAD_TRAINING)
    (workdir / TERMINAL).write_text(result.stderr)
    return workdir


def network(experiment, name):
    return experiment / "results" / "mnist" / "transfer" / name


def weights(experiment, name, layer):
    import keras

    model = keras.saving.load_model(network(experiment, name) / "model.keras")
    return model.get_layer(layer).get_weights()


def metrics(experiment, name):
    return json.loads((network(experiment, name) / "metrics.json").read_text())


def step_zero(experiment, name, layer):
    with h5py.File(network(experiment, name) / "snapshots.h5") as h5:
        steps = h5["steps"][:].tolist()
        return [h5[f"{layer}/{part}"][steps.index(0)] for part in ("kernel", "bias")]


def test_frozen_layers_are_bitwise_the_source_networks(experiment):
    for layer in TRANSFERABLE[:2]:
        for got, source in zip(
            weights(experiment, "AnB-n2-s0", layer), weights(experiment, "baseA", layer)
        ):
            np.testing.assert_array_equal(got, source)
        for got, source in zip(
            weights(experiment, "BnB-n2-s0", layer), weights(experiment, "baseB", layer)
        ):
            np.testing.assert_array_equal(got, source)
    # the layers above were trained
    assert not np.array_equal(
        weights(experiment, "AnB-n2-s0", "fc1")[0], weights(experiment, "baseA", "fc1")[0]
    )


def test_fine_tuned_layers_start_from_the_source_and_change(experiment):
    for layer in TRANSFERABLE[:2]:
        source = weights(experiment, "baseA", layer)
        for start, copied in zip(step_zero(experiment, "AnB+-n2-s0", layer), source):
            np.testing.assert_array_equal(start, copied)
        assert not np.array_equal(weights(experiment, "AnB+-n2-s0", layer)[0], source[0])


def test_nothing_copied_trains_bitwise_as_the_plain_network_on_b(experiment):
    plain = metrics(experiment, "baseB")["weights_sha256"]
    for treatment in TREATMENT_NAMES:
        assert metrics(experiment, f"{treatment}-n0-s0")["weights_sha256"] == plain


def test_every_treatment_is_tested_on_exactly_bs_test_images(experiment, tiny_mnist):
    labels = read_idx(tiny_mnist / FILES["test_labels"])
    rows = read_table(str(experiment / "results" / "mnist" / "transfer" / "transfer.csv"))
    assert [row["treatment"] for row in rows] == ["baseA", "baseB"] + [
        "AnB",
        "AnB+",
        "BnB",
        "BnB+",
    ] * 2
    for row in rows:
        half = A if row["treatment"] == "baseA" else B
        assert row["classes"] == " ".join(map(str, half))
        assert row["test_images"] == int(np.isin(labels, half).sum())
        measured = metrics(experiment, row["network"].split("/", 1)[1])
        assert row["test_accuracy"] == measured["test_accuracy"]
        assert measured["classes"] == half
    copied = {row["network"]: row["copied_layers"] for row in rows}
    assert copied["transfer/AnB-n2-s0"] == "frozen"
    assert copied["transfer/BnB+-n2-s0"] == "fine-tuned"
    assert copied["transfer/baseA"] == ""
    assert metrics(experiment, "AnB-n2-s0")["transfer"]["layers"] == ["conv1", "conv2"]


def test_few_shot_networks_train_on_k_of_each_class_of_b(experiment):
    rows = read_table(str(experiment / "results" / "mnist" / "transfer" / "few_shot.csv"))
    assert [(row["kind"], row["examples_per_class"]) for row in rows] == [
        ("transferred", 5),
        ("scratch", 5),
    ]
    for row in rows:
        assert row["train_images"] == 5 * len(B)
        measured = metrics(experiment, row["network"].split("/", 1)[1])
        # batches no larger than the 25 images
        assert measured["batch_size"] == 25
    transferred = "few-shot-k5-s0-transferred"
    for layer in TRANSFERABLE[:2]:
        for got, source in zip(
            weights(experiment, transferred, layer), weights(experiment, "baseA", layer)
        ):
            np.testing.assert_array_equal(got, source)


def test_the_figures_are_pngs(experiment):
    for name in ("transfer.png", "few_shot.png"):
        assert (experiment / "results" / "mnist" / "transfer" / name).read_bytes()[
            :8
        ] == b"\x89PNG\r\n\x1a\n"


def test_the_experiment_complete_plans_nothing(experiment, tiny_mnist):
    assert planned(experiment, transfer_config(tiny_mnist)) == set()


TABLES = {"tabulate_transfer", "plot_transfer"}
FEW_SHOT_TABLES = {"tabulate_few_shot", "plot_few_shot"}


def trained(plan):
    return {network for rule, network in plan if rule == "train"}


def others(plan):
    return {rule for rule, _network in plan if rule != "train"}


def test_a_new_seed_plans_only_that_seeds_networks(experiment, tiny_mnist):
    plan = planned(experiment, transfer_config(tiny_mnist, seeds=[0, 3]))
    assert trained(plan) == {
        f"transfer/{treatment}-n{n}-s3" for treatment in TREATMENT_NAMES for n in (0, 2)
    } | {f"transfer/few-shot-k5-s3-{kind}" for kind in ("transferred", "scratch")}
    assert others(plan) == TABLES | FEW_SHOT_TABLES


def test_a_new_depth_plans_only_that_depths_treatments(experiment, tiny_mnist):
    plan = planned(experiment, transfer_config(tiny_mnist, depths=[0, 1, 2]))
    assert trained(plan) == {f"transfer/{treatment}-n1-s0" for treatment in TREATMENT_NAMES}
    assert others(plan) == TABLES


def test_bs_training_settings_retrain_every_network_on_b_but_not_base_a(experiment, tiny_mnist):
    config = transfer_config(tiny_mnist)
    config["transfer"]["training_b"]["learning_rate"] = 3e-4
    plan = planned(experiment, config)
    assert "transfer/baseA" not in trained(plan)
    every_b = {
        name
        for name in (p.name for p in (experiment / "results" / "mnist" / "transfer").iterdir())
        if (network(experiment, name) / "metrics.json").exists() and name != "baseA"
    }
    assert trained(plan) == {f"transfer/{name}" for name in every_b}


def settings_of(tiny_mnist, **block):
    return load(transfer_config(tiny_mnist, **block), [], REPO / "schemas")


@pytest.mark.parametrize(
    "block, message",
    [
        ({"a": [0, 1, 2], "b": [2, 3, 4]}, r"share the labels \[2\]"),
        ({"a": [], "b": [5, 6]}, r"transfer.a is \[\]: a half needs at least two labels"),
        ({"a": [0, 1], "b": [5, 12]}, r"transfer.b: \[12\] are not labels of the data set"),
        ({"depths": [1, 4]}, "transfer.depths: 4 is past the network's 3 layers"),
        ({"few_shot": {"depth": 5}}, "transfer.few_shot.depth is 5, past the network's 3 layers"),
        (
            {"few_shot": {"examples_per_class": [5, 100000]}},
            r"few-shot-k100000-s0-\w+: training.examples_per_class is 100000, but after",
        ),
        ({"training_b": {"stpes": 10}}, "unknown key 'stpes'; did you mean 'steps'"),
        ({"training_a": {"steps": 0}}, "transfer, network transfer/baseA"),
    ],
)
def test_bad_settings_are_refused_before_any_job(tiny_mnist, block, message):
    with pytest.raises(ConfigError, match=message):
        settings_of(tiny_mnist, **block)


def test_a_seeded_split_gives_disjoint_halves_that_cover_the_labels():
    block = {"split_seed": 4, "a": [0, 1, 2, 3, 4], "b": [5, 6, 7, 8, 9]}
    a, b = halves(block, 10)
    assert sorted(a + b) == list(range(10)) and len(a) == len(b) == 5
    assert halves(block, 10) == (a, b)
    assert halves({**block, "split_seed": 5}, 10) != (a, b)
    assert (a, b) != (block["a"], block["b"])


def test_no_network_is_named_like_the_experiments_folder(tiny_mnist):
    config = tiny_config(tiny_mnist, runs={"transfer": {}})
    with pytest.raises(ConfigError, match="holds the transfer experiment's networks"):
        load(config, [], REPO / "schemas")


def test_every_output_of_the_experiment_is_in_the_output_page(experiment):
    from test_docs import documented_patterns, made_outputs

    patterns = documented_patterns((REPO / "docs" / "output.md").read_text())
    outputs = made_outputs(experiment)
    assert any(path.startswith("results/mnist/transfer/") for path in outputs)
    undocumented = [path for path in outputs if not any(p.match(path) for p in patterns)]
    assert not undocumented, f"outputs not named in docs/output.md: {undocumented}"


@pytest.fixture(scope="module")
def cross_set(experiment, tiny_mnist, tmp_path_factory):
    """The experiment's workdir copied, then its few-shot networks pointed at another data set
    (generated digits standing in for Fashion-MNIST, as a local copy)."""
    import shutil

    from mnist_filters.synthetic import write_mnist_folder

    workdir = tmp_path_factory.mktemp("cross-set") / "work"
    shutil.copytree(experiment, workdir)
    target = write_mnist_folder(tmp_path_factory.mktemp("target"), 1000, 300, seed=11)
    config = cross_set_config(tiny_mnist, target)
    before = planned(workdir, config)
    snakemake(workdir, config, *ONE_THREAD_TRAINING)
    return workdir, target, before


def cross_set_config(tiny_mnist, target):
    few_shot = {
        "examples_per_class": [5],
        "target": {"set": "fashion-mnist", "classes": [0, 2, 7], "local_dir": str(target)},
    }
    return transfer_config(tiny_mnist, few_shot=few_shot)


def test_another_data_set_is_fetched_and_only_the_few_shot_networks_train_on_it(cross_set):
    workdir, target, before = cross_set
    assert before == {
        ("get_mnist", None),
        ("train", "transfer/few-shot-fashion-mnist-k5-s0-transferred"),
        ("train", "transfer/few-shot-fashion-mnist-k5-s0-scratch"),
        ("tabulate_few_shot", "transfer/few_shot.csv"),
        ("tabulate_few_shot", "transfer/provenance"),
        ("plot_few_shot", "transfer/few_shot.png"),
        ("plot_few_shot", "transfer/provenance"),
    }
    for name in FILES.values():
        assert (workdir / "resources" / "fashion-mnist" / name).read_bytes() == (
            target / name
        ).read_bytes()
    labels = read_idx(target / FILES["test_labels"])
    rows = read_table(str(workdir / "results" / "mnist" / "transfer" / "few_shot.csv"))
    assert [(row["kind"], row["data_set"], row["classes"]) for row in rows] == [
        ("transferred", "fashion-mnist", "0 2 7"),
        ("scratch", "fashion-mnist", "0 2 7"),
    ]
    assert rows[0]["source"] == "transfer/baseA" and rows[1]["source"] == ""
    for row in rows:
        assert row["test_images"] == int(np.isin(labels, [0, 2, 7]).sum())
        assert row["train_images"] == 15
        measured = metrics(workdir, row["network"].split("/", 1)[1])
        assert measured["input_sha256"][FILES["test_images"]] == sha256(
            target / FILES["test_images"]
        )
    for layer in TRANSFERABLE:
        for got, source in zip(
            weights(workdir, "few-shot-fashion-mnist-k5-s0-transferred", layer),
            weights(workdir, "baseA", layer),
        ):
            np.testing.assert_array_equal(got, source)


def test_a_missing_target_set_offline_fails_with_the_data_stages_message(tiny_mnist, tmp_path):
    config = transfer_config(tiny_mnist, few_shot={"target": {"set": "kmnist"}})
    config["data"].update(
        mirrors={"kmnist": ["http://127.0.0.1:9"]}, retries=1, timeout_seconds=0.5
    )
    result = snakemake(tmp_path, config, "resources/kmnist/provenance.json", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "could not download train-images-idx3-ubyte.gz from any mirror" in output
    assert "set `transfer.few_shot.target.local_dir` to it" in output
    assert "Traceback" not in output


def test_an_unknown_target_set_or_source_is_refused(tiny_mnist):
    with pytest.raises(ConfigError, match="'cifar10' is not one of"):
        settings_of(tiny_mnist, few_shot={"target": {"set": "cifar10"}})
    with pytest.raises(ConfigError, match="transfer.few_shot.source: 'nope' is not a run"):
        settings_of(tiny_mnist, few_shot={"source": "nope"})
    with pytest.raises(ConfigError, match=r"target.classes: \[10\] are not labels of kmnist"):
        settings_of(tiny_mnist, few_shot={"target": {"set": "kmnist", "classes": [1, 10]}})
    with pytest.raises(ConfigError, match="transfer.few_shot.target.local_dir: .* not found"):
        settings_of(tiny_mnist, few_shot={"target": {"set": "kmnist", "local_dir": "/nowhere"}})
