"""The activation dump: schema, attributes, and values equal to the model's own."""

import json

import h5py
import keras
import numpy as np
import pytest

from conftest import default_settings
from mnist_filters.dataset import FILES, load_split, sha256_file, to_model_input
from mnist_filters.network.build import build_model
from mnist_filters.stages.activations import dump_activations

SEED_MODEL = default_settings()["model"]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.keras"
    build_model(SEED_MODEL, seed=11, portable=True).save(path)
    return path


@pytest.fixture(scope="module")
def dump(model_file, tiny_mnist, tmp_path_factory):
    output = tmp_path_factory.mktemp("dump") / "activations.h5"
    dump_activations(
        str(model_file),
        str(tiny_mnist / FILES["test_images"]),
        str(tiny_mnist / FILES["test_labels"]),
        str(output),
        layers=["conv1", "conv2"],
        batch_size=96,
        compression="lzf",
        chunk_bytes=64 * 1024,
        settings={"seed": 11},
    )
    return output


def numpy_conv1(images, kernel, bias, stride=2):
    """An independent VALID convolution + ReLU, straight from the definition."""
    size = kernel.shape[0]
    out = (images.shape[1] - size) // stride + 1
    windows = np.lib.stride_tricks.sliding_window_view(images, (size, size), axis=(1, 2))[
        :, ::stride, ::stride
    ]
    assert windows.shape[1:3] == (out, out)
    return np.maximum(
        np.einsum("nrcyx,yxf->nrcf", windows.astype(np.float64), kernel[:, :, 0, :]) + bias, 0
    )


def test_schema_and_attributes(dump, model_file, tiny_mnist):
    with h5py.File(dump) as h5:
        datasets = []
        h5.visititems(
            lambda name, obj: datasets.append(name) if isinstance(obj, h5py.Dataset) else None
        )
        assert [name for name in datasets if not h5[name].attrs.get("description")] == []
        assert h5["conv1"].shape == (500, 9, 9, 25) and h5["conv1"].dtype == np.float32
        assert h5["conv2"].shape == (500, 9, 9, 64)
        assert h5["conv1"].chunks[1:] == (9, 9, 25) and h5["conv1"].chunks[0] == 64 * 1024 // (
            81 * 25 * 4
        )
        assert h5["conv1"].compression == "lzf"
        assert h5["labels"].dtype == np.uint8 and h5["image_index"].dtype == np.int64
        np.testing.assert_array_equal(h5["image_index"][:], np.arange(500))
        np.testing.assert_array_equal(
            h5["labels"][:],
            load_split(tiny_mnist / FILES["test_images"], tiny_mnist / FILES["test_labels"]).labels,
        )
        conv1, conv2 = h5["conv1"].attrs, h5["conv2"].attrs
        assert list(conv1["receptive_field_size"]) == [12, 12] and list(conv1["jump"]) == [2, 2]
        assert list(conv1["start"]) == [0, 0] and conv1["padding"] == "valid"
        assert list(conv2["receptive_field_size"]) == [20, 20] and list(conv2["jump"]) == [2, 2]
        assert list(conv2["start"]) == [-4, -4] and conv2["padding"] == "same"
        assert h5.attrs["model_sha256"] == sha256_file(model_file)
        assert json.loads(h5.attrs["settings"]) == {"seed": 11}
        assert h5.attrs["tool_version"].startswith("mnist-filters ")
        assert h5["weights/conv1/kernel"].shape == (12, 12, 1, 25)
        assert h5["weights/conv2/kernel"].shape == (5, 5, 25, 64) and h5[
            "weights/conv2/bias"
        ].shape == (64,)


def test_values_equal_the_models_own_output(dump, model_file, tiny_mnist):
    model = keras.saving.load_model(model_file, safe_mode=True)
    images = load_split(tiny_mnist / FILES["test_images"], tiny_mnist / FILES["test_labels"]).images
    sample = np.random.default_rng(0).choice(500, 40, replace=False)
    sample.sort()
    with h5py.File(dump) as h5:
        for name in ("conv1", "conv2"):
            probe = keras.Model(model.inputs[0], model.get_layer(name).output)
            expected = probe.predict(to_model_input(images[sample]), verbose=0)
            np.testing.assert_allclose(h5[name][sample], expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            h5["logits"][sample],
            model.predict(to_model_input(images[sample]), verbose=0),
            rtol=1e-5,
            atol=1e-5,
        )
        assert h5["logits"].shape == (500, 10)


def test_conv1_matches_an_independent_numpy_convolution(dump, tiny_mnist):
    images = to_model_input(
        load_split(tiny_mnist / FILES["test_images"], tiny_mnist / FILES["test_labels"]).images
    )
    with h5py.File(dump) as h5:
        kernel, bias = h5["weights/conv1/kernel"][:], h5["weights/conv1/bias"][:]
        np.testing.assert_allclose(
            h5["conv1"][:100], numpy_conv1(images[:100, :, :, 0], kernel, bias), atol=1e-5
        )


def test_ranking_refuses_non_finite_activations_naming_layer_and_filter(dump, tmp_path):
    from mnist_filters.stages.rank import rank_patches

    diverged = tmp_path / "activations.h5"
    diverged.write_bytes(dump.read_bytes())
    with h5py.File(diverged, "r+") as h5:
        h5["conv2"][321, 4, 5, 17] = np.nan
    with pytest.raises(
        ValueError, match=r"layer conv2, filter 17 has activation nan \(test image 321\).*diverged"
    ):
        rank_patches(
            str(diverged),
            str(tmp_path / "rankings.csv"),
            layers=["conv1", "conv2"],
            filters=None,
            top_k=12,
            one_per_image=False,
        )
    assert not (tmp_path / "rankings.csv").exists()


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "not a Keras model archive"),
        (b"PK\x03\x04 not really a zip", "not a Keras model archive"),
        (None, "not a Keras model archive"),  # truncated copy of a real model
        ("foreign", "cannot be loaded as a Keras model"),
    ],
)
def test_bad_model_files_are_refused_clearly(model_file, tiny_mnist, tmp_path, content, problem):
    bad = tmp_path / "model.keras"
    if content is None:
        bad.write_bytes(model_file.read_bytes()[: model_file.stat().st_size // 2])
    elif content == "foreign":
        import zipfile

        with zipfile.ZipFile(bad, "w") as archive:
            archive.writestr(
                "config.json", json.dumps({"class_name": "Os", "module": "os", "config": {}})
            )
    else:
        bad.write_bytes(content)
    output = tmp_path / "activations.h5"
    with pytest.raises(ValueError, match=problem) as error:
        dump_activations(
            str(bad),
            str(tiny_mnist / FILES["test_images"]),
            str(tiny_mnist / FILES["test_labels"]),
            str(output),
            layers=["conv1"],
            batch_size=100,
            compression="none",
            chunk_bytes=1 << 20,
        )
    assert str(bad) in str(error.value)
    assert not output.exists() and list(tmp_path.iterdir()) == [bad]
