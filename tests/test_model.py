import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from conftest import default_settings
from mnist_filters.network.build import BlockMaxPooling2D, build_model, portable


@pytest.fixture(scope="module")
def seed_settings():
    return default_settings()


@pytest.fixture(scope="module")
def model(seed_settings):
    return build_model(seed_settings["model"], seed=0)


def test_layers_and_shapes_are_the_notebooks(model):
    assert [layer.name for layer in model.layers] == [
        "conv1",
        "conv2",
        "pool2",
        "flatten",
        "fc1",
        "logits",
    ]
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes == {
        "conv1": (9, 9, 25),
        "conv2": (9, 9, 64),
        "pool2": (5, 5, 64),
        "flatten": (1600,),
        "fc1": (1024,),
        "logits": (10,),
    }


def test_mixed_precision_computes_in_bfloat16_but_conv1_and_the_logits(seed_settings):
    """conv1 (one input channel) and the logits stay float32; the weights are float32 in every
    layer."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = build_model(seed_settings["model"], seed=0)
    finally:
        keras.mixed_precision.set_global_policy(policy)
    compute = {layer.name: layer.compute_dtype for layer in mixed.layers if layer.weights}
    assert compute == {
        "conv1": "float32",
        "conv2": "bfloat16",
        "fc1": "bfloat16",
        "logits": "float32",
    }
    assert {w.dtype for w in mixed.weights} == {"float32"}
    outputs = mixed(np.zeros((2, 28, 28, 1), np.float32))
    assert outputs.dtype == "float32"


def test_parameter_count(model):
    conv1 = 12 * 12 * 1 * 25 + 25
    conv2 = 5 * 5 * 25 * 64 + 64
    fc1 = 5 * 5 * 64 * 1024 + 1024
    logits = 1024 * 10 + 10
    assert model.count_params() == conv1 + conv2 + fc1 + logits == 1_693_363


def test_initialisation_is_the_notebooks(model):
    kernel = model.get_layer("conv1").kernel.numpy()
    assert np.all(np.abs(kernel) <= 2 * 0.05 + 1e-6)  # truncated at two standard deviations
    assert 0.035 < kernel.std() < 0.05
    for name in ["conv1", "conv2", "fc1", "logits"]:
        assert np.all(model.get_layer(name).bias.numpy() == np.float32(0.1))


def test_weights_are_a_pure_function_of_the_seed(seed_settings):
    a = build_model(seed_settings["model"], seed=5).get_weights()
    b = build_model(seed_settings["model"], seed=5).get_weights()
    c = build_model(seed_settings["model"], seed=6).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize(
    "size, pool, padding",
    [
        (size, pool, padding)
        for size in (9, 10, 7, 1)
        for pool in (2, 3)
        for padding in ("same", "valid")
        if not (padding == "valid" and size < pool)
    ],  # a VALID window larger than the input has no output
)
def test_block_max_pooling_equals_keras_max_pooling(size, pool, padding):
    x = np.random.default_rng(size).normal(size=(3, size, size + 1, 4)).astype("float32")
    ours = BlockMaxPooling2D(pool, padding)(x)
    theirs = keras.layers.MaxPooling2D(pool, padding=padding)(x)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs)
    )


def test_portable_model_has_the_same_weights_and_outputs(model, seed_settings):
    copy = portable(model, seed_settings["model"])
    assert isinstance(copy.get_layer("pool2"), keras.layers.MaxPooling2D)
    assert [w.tobytes() for w in copy.get_weights()] == [w.tobytes() for w in model.get_weights()]
    x = np.random.default_rng(0).uniform(size=(8, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(copy(x, training=False), model(x, training=False))


def test_saved_model_loads_in_plain_keras_in_a_fresh_process(model, seed_settings, tmp_path):
    """No import of this package, safe mode: what a user who takes the file elsewhere has."""
    portable(model, seed_settings["model"]).save(tmp_path / "m.keras")
    x = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    code = (
        "import sys, numpy as np, keras; "
        "m = keras.saving.load_model('m.keras', safe_mode=True); "
        "np.save('y.npy', m.predict(np.load('x.npy'), verbose=0)); "
        "assert not [n for n in sys.modules if n.startswith('mnist_filters')]"
    )
    subprocess.run(
        [sys.executable, "-I", "-c", code],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": os.environ["PATH"]},
    )
    np.testing.assert_allclose(
        np.load(tmp_path / "y.npy"), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
