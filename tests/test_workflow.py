"""The workflow end to end on generated digits (seconds, not minutes)."""

import csv

import pytest

from conftest import snakemake, tiny_config
from helpers import metrics, model_weights, same_weights
from mnist_filters.cpu import FEATURES, choose_kernels

pytestmark = pytest.mark.slow


def test_training_learns_the_generated_digits(tiny_run):
    m = metrics(tiny_run, "tiny")
    assert m["test_accuracy"] > 0.8, m  # chance is 0.1
    assert m["steps"] == 300 and m["batch_size"] == 50 and m["seed"] == 0
    assert m["train_images"] == 1800 and m["validation_images"] == 200 and m["test_images"] == 500
    assert m["train_examples_per_second"] > 0 and m["tensorflow_version"].startswith("2.21")
    assert set(m["input_sha256"]) == {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    }
    assert m["provenance"]["train"]["hostname"]


def test_training_log_has_a_row_every_log_step(tiny_run):
    with open(tiny_run / "results" / "mnist" / "tiny" / "training_log.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [0, 100, 200, 300]
    assert list(rows[0]) == [
        "step",
        "train_batch_accuracy",
        "train_loss",
        "validation_accuracy",
        "elapsed_seconds",
        "train_seconds",
    ]
    # training time is part of the elapsed time (validation passes are the rest), and grows
    assert float(rows[0]["train_seconds"]) == 0
    assert all(0 < float(r["train_seconds"]) <= float(r["elapsed_seconds"]) for r in rows[1:])
    assert sorted(float(r["train_seconds"]) for r in rows) == [
        float(r["train_seconds"]) for r in rows
    ]
    assert float(rows[-1]["validation_accuracy"]) > float(rows[0]["validation_accuracy"])
    log = (tiny_run / "logs" / "mnist" / "tiny" / "train.log").read_text()
    for step in (0, 100, 200):
        assert f"step {step}, training accuracy" in log
    assert (tiny_run / "benchmarks" / "mnist" / "tiny" / "train.tsv").is_file()


def test_second_invocation_does_nothing(tiny_run):
    result = snakemake(
        tiny_run,
        None,
        "--configfile",
        str(tiny_run / "config.yaml"),
        "--replace-workflow-config",
        "-n",
    )
    assert "Nothing to be done" in result.stdout + result.stderr


def test_training_from_scratch_is_bitwise_reproducible(tiny_run, tiny_mnist, tmp_path):
    snakemake(tmp_path, tiny_config(tiny_mnist), "--until", "train")
    first = model_weights(tiny_run / "results" / "mnist" / "tiny" / "model.keras")
    second = model_weights(tmp_path / "results" / "mnist" / "tiny" / "model.keras")
    assert same_weights(first, second)
    assert metrics(tmp_path, "tiny")["test_accuracy"] == metrics(tiny_run, "tiny")["test_accuracy"]


def test_a_different_seed_gives_different_weights(tiny_run, tiny_mnist, tmp_path):
    training = {**tiny_config(tiny_mnist)["defaults"]["training"], "steps": 100}
    snakemake(tmp_path, tiny_config(tiny_mnist, seed=1, training=training), "--until", "train")
    assert not same_weights(
        model_weights(tiny_run / "results" / "mnist" / "tiny" / "model.keras"),
        model_weights(tmp_path / "results" / "mnist" / "tiny" / "model.keras"),
    )


@pytest.mark.parametrize("kernels", ["xla", "onednn"])
def test_each_kernel_path_trains_bitwise_reproducibly_and_is_recorded(
    tiny_run, tiny_mnist, tmp_path, kernels
):
    training = {**tiny_config(tiny_mnist)["defaults"]["training"], "kernels": kernels}
    for attempt in ("first", "second"):
        (tmp_path / attempt).mkdir()
        snakemake(
            tmp_path / attempt, tiny_config(tiny_mnist, training=training), "--until", "train"
        )
    first, second = (
        model_weights(tmp_path / a / "results" / "mnist" / "tiny" / "model.keras")
        for a in ("first", "second")
    )
    assert same_weights(first, second)
    m = metrics(tmp_path / "first", "tiny")
    assert m["kernels"] == kernels and m["settings"]["training"]["kernels"] == kernels
    assert m["test_accuracy"] > 0.8
    assert m["cpu"]["model"] and set(m["cpu"]["flags"]) <= set(FEATURES)
    auto = metrics(tiny_run, "tiny")
    assert auto["kernels"] == choose_kernels("auto")
    assert same_weights(
        first, model_weights(tiny_run / "results" / "mnist" / "tiny" / "model.keras")
    ) is (auto["kernels"] == kernels)


def test_mixed_bfloat16_precision_trains(tiny_mnist, tmp_path):
    training = {**tiny_config(tiny_mnist)["defaults"]["training"], "precision": "mixed_bfloat16"}
    snakemake(tmp_path, tiny_config(tiny_mnist, training=training), "--until", "train")
    m = metrics(tmp_path, "tiny")
    assert m["precision"] == "mixed_bfloat16" and m["test_accuracy"] > 0.8


def test_every_analysis_output_is_made(tiny_run):
    run = tiny_run / "results" / "mnist" / "tiny"
    for path in [
        "activations.h5",
        "rankings.csv",
        "figures/samples.png",
        "figures/filters.png",
        "figures/training_curve.png",
        "figures/top_patches/conv1_overview.png",
    ]:
        assert (run / path).is_file(), path
    assert len(list((run / "figures" / "top_patches").glob("conv1_filter*.png"))) == 25


def test_ranked_patches_come_from_the_test_images(tiny_run, tiny_mnist):
    """Each ranked activation, recomputed from its crop of the *test* image, is the ranked value."""
    import h5py
    import numpy as np

    from mnist_filters.dataset import FILES, to_model_input
    from mnist_filters.idx import read_idx

    test_images = to_model_input(read_idx(tiny_mnist / FILES["test_images"]))[..., 0]
    with open(tiny_run / "results" / "mnist" / "tiny" / "rankings.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 25 * 12
    assert [int(r["rank"]) for r in rows[:12]] == list(range(1, 13))
    with h5py.File(tiny_run / "results" / "mnist" / "tiny" / "activations.h5") as h5:
        kernel, bias = h5["weights/conv1/kernel"][:, :, 0, :], h5["weights/conv1/bias"][:]
        for r in rows:
            f, image = int(r["filter"]), int(r["image_index"])
            y0, x0, y1, x1 = (int(r[k]) for k in ("y0", "x0", "y1", "x1"))
            assert (y1 - y0, x1 - x0) == (12, 12) and (y0, x0) == (
                2 * int(r["row"]),
                2 * int(r["col"]),
            )
            patch = test_images[image, y0:y1, x0:x1]
            value = max(float((patch * kernel[:, :, f]).sum() + bias[f]), 0.0)
            assert abs(value - float(r["activation"])) < 1e-4, r
            assert (
                np.float32(r["activation"]) == h5["conv1"][image, int(r["row"]), int(r["col"]), f]
            )


PLAIN_KERAS = """
import gzip, sys
import numpy as np, keras
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
with gzip.open(sys.argv[2]) as f:  # IDX: 16-byte header, then uint8 pixels
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
np.save(sys.argv[3], model.predict(images.astype("float32") / 255, batch_size=100, verbose=0))
assert not [name for name in sys.modules if name.startswith("mnist_filters")]
"""


def test_the_model_opens_in_plain_keras_and_gives_the_workflows_logits(
    tiny_run, tiny_mnist, tmp_path
):
    """Elsewhere: a fresh Python that never imports this project, Keras in safe mode."""
    import os
    import subprocess
    import sys

    import h5py
    import numpy as np

    run = tiny_run / "results" / "mnist" / "tiny"
    subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            PLAIN_KERAS,
            str(run / "model.keras"),
            str(tiny_mnist / "t10k-images-idx3-ubyte.gz"),
            str(tmp_path / "logits.npy"),
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"PATH": os.environ["PATH"], "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    theirs = np.load(tmp_path / "logits.npy")
    with h5py.File(run / "activations.h5") as h5:
        ours = h5["logits"][:]
        labels = h5["labels"][:]
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(theirs.argmax(axis=1), ours.argmax(axis=1))
    assert (
        float(np.mean(theirs.argmax(axis=1) == labels))
        == metrics(tiny_run, "tiny")["test_accuracy"]
    )
