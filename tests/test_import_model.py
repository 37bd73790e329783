"""A model trained elsewhere (model.file, network/from_keras.py, stages/import_model.py): a
Keras model the project did not make, with Keras's default names, a Rescaling, a batch
normalisation, dropout and a softmax, is read into the workflow's layers without changing
what it computes; what the workflow cannot read is refused in one line before any job; and
a run on such a model makes every analysis that needs no training, reruns when the file
changes and not when it is touched."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from keras import layers

from conftest import REPO, TINY_DEFAULTS, planned, snakemake
from mnist_filters.dataset import FILES, to_model_input
from mnist_filters.errors import ConfigError
from mnist_filters.idx import read_idx
from mnist_filters.network.from_keras import check_fits, import_model, planned_table
from mnist_filters.stages.activations import dump_activations
from mnist_filters.verify import main as verify


def tiny_split(tiny_mnist: Path, split: str):
    prefix = "train" if split == "train" else "test"
    return (
        read_idx(tiny_mnist / FILES[f"{prefix}_images"]),
        read_idx(tiny_mnist / FILES[f"{prefix}_labels"]),
    )


def keras_io_convnet() -> keras.Model:
    """The model of examples/own_model.py (keras-io's mnist_convnet.py), from the example."""
    spec = importlib.util.spec_from_file_location("own_model", REPO / "examples" / "own_model.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example.keras_io_convnet()


def functional_model() -> keras.Model:
    """A functional model of Keras's default names that takes 0-255 pixels: Rescaling, a
    convolution without a bias or activation, batch normalisation, a ReLU layer, dropout, a
    softmax of its own."""
    keras.backend.clear_session()  # Keras's default names, as a fresh session gives them
    inputs = keras.Input((28, 28, 1))
    x = layers.Rescaling(1 / 255.0)(inputs)
    x = layers.Conv2D(8, 5, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(10)(x)
    outputs = layers.Softmax()(x)
    return keras.Model(inputs, outputs)


def trained(model: keras.Model, tiny_mnist: Path, scale: float, steps: int = 30) -> keras.Model:
    """`model` trained for `steps` batches on the generated digits (pixels times `scale`)."""
    keras.utils.set_random_seed(0)
    images, labels = tiny_split(tiny_mnist, "train")
    x = images[..., None].astype("float32") * scale
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[: steps * 32], labels[: steps * 32], batch_size=32, epochs=1, verbose=0)
    return model


@pytest.fixture(scope="module")
def functional_file(tiny_mnist, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("functional") / "functional.keras"
    trained(functional_model(), tiny_mnist, 1.0).save(path)
    return path


def test_an_imported_model_computes_what_keras_computes(functional_file, tiny_mnist, tmp_path):
    """Every dumped layer equals Keras's own output of the file's layer; the logits are the
    softmax's inputs; the model written opens in plain Keras."""
    imported = import_model(functional_file)
    source, converted, table = imported.source, imported.model, imported.table
    assert imported.takes_bytes and imported.softmax
    assert table.names == [
        "rescaling",
        "conv2d",
        "batch_normalization",
        "re_lu",
        "max_pooling2d",
        "conv2d_1",
        "flatten",
        "dropout",
        "logits",
    ]
    model_path = tmp_path / "model.keras"
    converted.save(model_path)
    dumped = ["conv2d", "batch_normalization", "re_lu", "max_pooling2d", "conv2d_1"]
    out = tmp_path / "activations.h5"
    dump_activations(
        str(model_path),
        str(tiny_mnist / FILES["test_images"]),
        str(tiny_mnist / FILES["test_labels"]),
        str(out),
        layers=dumped,
        batch_size=100,
        compression="none",
        chunk_bytes=1 << 20,
        image_shape=(28, 28),
    )
    images, _labels = tiny_split(tiny_mnist, "test")
    pixels = images[..., None].astype("float32")  # what the file's model takes: 0-255
    with h5py.File(out) as h5:
        for name in dumped:
            own = keras.Model(source.inputs, source.get_layer(name).output)(pixels).numpy()
            np.testing.assert_allclose(h5[name][:], own, rtol=1e-5, atol=1e-5, err_msg=name)
        dense = source.get_layer("dense")
        before_softmax = keras.Model(source.inputs, dense.output)(pixels).numpy()
        np.testing.assert_allclose(h5["logits"][:], before_softmax, rtol=1e-5, atol=1e-5)
        probabilities = source(pixels).numpy()
        assert not np.allclose(h5["logits"][:], probabilities)
    reopened = keras.saving.load_model(model_path, safe_mode=True)
    np.testing.assert_allclose(
        reopened(to_model_input(images[:50])).numpy(), before_softmax[:50], rtol=1e-5, atol=1e-5
    )


def test_an_imported_models_receptive_field_holds_all_that_matters(functional_file):
    """Pixels outside conv2d_1's recorded box never change its unit; a pixel on the box's
    edge does."""
    imported = import_model(functional_file)
    converted, table = imported.model, imported.table
    probe = keras.Model(converted.inputs[0], converted.get_layer("conv2d_1").output)
    geometry = table["conv2d_1"].geometry
    rng = np.random.default_rng(0)
    image = rng.random((1, 28, 28, 1)).astype(np.float32)
    reference = probe(image).numpy()
    row, col = 6, 5
    y0, x0, y1, x1 = geometry.box(row, col, (28, 28))
    assert (y1 - y0, x1 - x0) == (10, 10)  # 5x5, pool 2 (+1), 3x3 at a jump of 2 (+2 * 2)
    changed = rng.random((1, 28, 28, 1)).astype(np.float32) * 5
    changed[0, y0:y1, x0:x1] = image[0, y0:y1, x0:x1]
    np.testing.assert_allclose(probe(changed).numpy()[0, row, col], reference[0, row, col], 1e-5)
    edge = image.copy()
    edge[0, y0, x0 + 4] += 100.0
    moved = probe(edge).numpy()[0, row, col]
    edge[0, y0, x0 + 4] -= 200.0
    moved_other = probe(edge).numpy()[0, row, col]
    assert not (
        np.allclose(moved, reference[0, row, col])
        and np.allclose(moved_other, reference[0, row, col])
    )


def saved(model: keras.Model, tmp_path: Path, name: str = "model.keras") -> Path:
    path = tmp_path / name
    model.save(path)
    return path


def branching() -> keras.Model:
    inputs = keras.Input((28, 28, 1))
    a = layers.Conv2D(4, 3, padding="same")(inputs)
    b = layers.Conv2D(4, 3, padding="same")(inputs)
    x = layers.Add()([a, b])
    return keras.Model(inputs, layers.Dense(10)(layers.Flatten()(x)))


def bad_model(tmp_path: Path, case: str) -> tuple[Path, str]:
    if case == "not-a-keras-file":
        path = tmp_path / "model.keras"
        path.write_text("weights")
        return path, "not a .keras file"
    if case == "unsupported-layer":
        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                layers.Conv2D(4, 3),
                layers.DepthwiseConv2D(3),
                layers.LayerNormalization(),
                layers.Flatten(),
                layers.Dense(10),
            ]
        )
        return saved(model, tmp_path), (
            "does not read layers depthwise_conv2d (DepthwiseConv2D), layer_normalization "
            "(LayerNormalization); it reads Conv2D"
        )
    if case == "branching":
        return saved(
            branching(), tmp_path
        ), "layer add (Add) merges conv2d, conv2d_1: the workflow reads a chain"
    if case == "input-shape":
        model = keras.Sequential([keras.Input((32, 32, 1)), layers.Flatten(), layers.Dense(10)])
        return saved(
            model, tmp_path
        ), "takes 32x32x1 images (rows x cols x channels), but the data's are 28x28x1"
    if case == "outputs":
        model = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(7)])
        return saved(model, tmp_path), "the model has 7 outputs, but the run has 10 classes"
    if case == "activation":
        model = keras.Sequential(
            [
                keras.Input((28, 28, 1)),
                layers.Conv2D(4, 3, activation="tanh"),
                layers.Flatten(),
                layers.Dense(10),
            ]
        )
        return saved(model, tmp_path), "layer conv2d's activation is tanh"
    raise ValueError(case)


BAD_MODELS = [
    "not-a-keras-file",
    "unsupported-layer",
    "branching",
    "input-shape",
    "outputs",
    "activation",
]


@pytest.mark.parametrize("case", BAD_MODELS)
def test_a_model_the_workflow_cannot_read_is_named_in_one_line(tmp_path, case):
    keras.backend.clear_session()  # Keras's default names count from zero again
    path, problem = bad_model(tmp_path, case)
    with pytest.raises(ConfigError) as error:
        check_fits(planned_table(path), path, (28, 28), 10)
    message = str(error.value)
    assert str(path) in message and problem in message and "\n" not in message, message


def test_keras_io_convnet_reads_as_keras_names_it(tmp_path):
    keras.backend.clear_session()
    path = saved(keras_io_convnet(), tmp_path)
    table = planned_table(path)
    assert [(layer.name, layer.kind) for layer in table] == [
        ("conv2d", "conv"),
        ("max_pooling2d", "max_pool"),
        ("conv2d_1", "conv"),
        ("max_pooling2d_1", "max_pool"),
        ("flatten", "flatten"),
        ("dropout", "dropout"),
        ("logits", "dense"),
    ]
    assert table["conv2d_1"].geometry.box(5, 5, (28, 28))[2:] != (0, 0)
    assert table.output.options["activation"] == "none"


# --- through the workflow ---------------------------------------------------------------------


def config_for(data_dir: Path, runs: dict) -> dict:
    defaults = {
        **TINY_DEFAULTS,
        "training": {**TINY_DEFAULTS["training"], "steps": 50},
        "feature_visualisation": {"enabled": True, "steps": 16},
    }
    return {"data": {"local_dir": str(data_dir)}, "defaults": defaults, "runs": runs}


@pytest.fixture(scope="module")
def imported_run(tiny_mnist, tmp_path_factory):
    """keras-io's convnet, trained a few steps here, analysed by the whole workflow beside a
    run trained by it."""
    root = tmp_path_factory.mktemp("imported-run")
    keras.backend.clear_session()
    model_file = saved(trained(keras_io_convnet(), tiny_mnist, 1 / 255.0), root, "convnet.keras")
    workdir = root / "work"
    workdir.mkdir()
    runs = {
        "convnet": {
            "model": {"file": str(model_file)},
            "activations": {"layers": ["convolutions"]},
        },
        "tiny": {},
    }
    config = config_for(tiny_mnist, runs)
    result = snakemake(workdir, config)
    return workdir, config, model_file, result


@pytest.mark.slow
def test_an_imported_run_makes_every_analysis_that_needs_no_training(imported_run, tiny_mnist):
    workdir, _config, model_file, result = imported_run
    run = workdir / "results" / "mnist" / "convnet"
    for made in (
        "model.keras",
        "metrics.json",
        "activations.h5",
        "rankings.csv",
        "projections.h5",
        "mistakes.csv",
        "features.h5",
        "gallery/index.html",
        "figures/filters.png",
        "figures/top_patches/conv2d_1_filter00.png",
    ):
        assert (run / made).exists(), made
    for skipped in ("training_log.csv", "snapshots.h5", "tensorboard"):
        assert not (run / skipped).exists(), skipped
    assert any(
        line.startswith("runs.convnet:") and "was not trained here" in line
        for line in result.stderr.splitlines()
    )
    metrics = json.loads((run / "metrics.json").read_text())
    # Keras's own accuracy of the file on the same test images
    images, labels = tiny_split(tiny_mnist, "test")
    own = keras.saving.load_model(model_file).predict(to_model_input(images), verbose=0)
    assert metrics["test_accuracy"] == pytest.approx(float(np.mean(own.argmax(1) == labels)))
    assert metrics["model_file_sha256"] and metrics["input_range"] == "unit"
    assert metrics["largest_probability_difference"] < 1e-5
    assert verify(["mnist/convnet", "--directory", str(workdir)]) == 0  # skipped, not failed


@pytest.mark.slow
def test_a_replaced_model_file_reruns_its_run_only_and_a_touched_one_nothing(imported_run):
    workdir, config, model_file, _result = imported_run
    assert not planned(workdir, config, REPO)
    os.utime(model_file)
    assert not planned(workdir, config, REPO)
    keras.backend.clear_session()
    other = keras_io_convnet()
    other.set_weights([w + 0.01 for w in keras.saving.load_model(model_file).get_weights()])
    other.save(model_file)
    jobs = planned(workdir, config, REPO)
    assert {run for _rule, run in jobs} == {"convnet"}
    assert ("import_model", "convnet") in jobs and ("dump_activations", "convnet") in jobs


@pytest.mark.slow
def test_the_own_model_example_trains_a_file_the_workflow_reads(tiny_mnist, tmp_path):
    """examples/own_model.py, as the README runs it, on the generated digits; the example's
    config then plans the import, not a training."""
    import subprocess
    import sys

    model_file = tmp_path / "resources" / "own-model" / "model.keras"
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "own_model.py"), str(tiny_mnist), str(model_file)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "test accuracy" in result.stdout
    assert [layer.name for layer in planned_table(model_file)][-3:] == [
        "flatten",
        "dropout",
        "logits",
    ]
    import yaml

    config = yaml.safe_load((REPO / "examples" / "own-model.yaml").read_text())
    config["data"] = {"local_dir": str(tiny_mnist)}
    jobs = planned(tmp_path, config, REPO, "notebook")
    assert ("import_model", "keras-io-convnet") in jobs
    assert not any(rule == "train" and run == "keras-io-convnet" for rule, run in jobs)
