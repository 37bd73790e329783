import keras
import numpy as np
import pytest
import yaml

from conftest import REPO
from mnist_filters.model import BlockMaxPooling2D, build_model


@pytest.fixture(scope="module")
def seed_settings():
    return yaml.safe_load((REPO / "config.yaml").read_text())["defaults"]


@pytest.fixture(scope="module")
def model(seed_settings):
    return build_model(seed_settings["model"], seed=0)


def test_layers_and_shapes_are_the_notebooks(model):
    assert [layer.name for layer in model.layers] == ["conv1", "conv2", "pool2", "flatten", "fc1", "logits"]
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert shapes == {
        "conv1": (9, 9, 25), "conv2": (9, 9, 64), "pool2": (5, 5, 64), "flatten": (1600,),
        "fc1": (1024,), "logits": (10,),
    }


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
    [(size, pool, padding) for size in (9, 10, 7, 1) for pool in (2, 3) for padding in ("same", "valid")
     if not (padding == "valid" and size < pool)],  # a VALID window larger than the input has no output
)
def test_block_max_pooling_equals_keras_max_pooling(size, pool, padding):
    x = np.random.default_rng(size).normal(size=(3, size, size + 1, 4)).astype("float32")
    ours = BlockMaxPooling2D(pool, padding)(x)
    theirs = keras.layers.MaxPooling2D(pool, padding=padding)(x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours), keras.ops.convert_to_numpy(theirs))


def test_saved_model_loads_in_safe_mode(model, tmp_path):
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    x = np.random.default_rng(0).uniform(size=(2, 28, 28, 1)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
