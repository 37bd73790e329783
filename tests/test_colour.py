"""Colour images of any size: generated colour shapes (24 rows x 20 columns, four classes that
neither colour nor shape alone tells apart) run through every stage, as an .npz for a declared
network and as a folder of PNG files for a model trained elsewhere; exact oracles hold on
them (each top patch's activation recomputed in NumPy on the cropped colour patch; conv1's
closed-form maximiser; float64 gradients of the colour-decorrelated Fourier images); and the
gallery draws the patches in their colours in headless Chromium."""

from __future__ import annotations

import base64
import copy
import csv
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from keras import layers

from conftest import ANALYSES_ON, TINY_DEFAULTS, default_settings, open_page, snakemake
from helpers import assert_gradient_is_central_differences
from mnist_filters import own_images
from mnist_filters.dataset import FILES
from mnist_filters.idx import read_idx
from mnist_filters.network.optimised_inputs import Visualisation, colour_mixing
from mnist_filters.stages.feature_visualisation import visualise_features
from mnist_filters.synthetic import COLOUR_CLASSES, write_colour_folder, write_colour_npz

SHAPE = (24, 20, 3)
CLASSES = [name for name, _colour, _kind in COLOUR_CLASSES]
TRAIN, TEST = 600, 200
# few steps and small analyses: what is checked is that colour passes and what it computes,
# not what the networks learn
SETTINGS = {
    **TINY_DEFAULTS,
    "training": {"validation_size": 100, "steps": 150, "batch_size": 50, "log_every": 50},
    **ANALYSES_ON,
    "invariance": {"enabled": True, "images": 20},
    "feature_visualisation": {"enabled": True, "steps": 32},
}
PLAIN = {
    "l2": 0.0,
    "total_variation": 0.0,
    "jitter": 0,
    "rotation": 0.0,
    "scale": 0.0,
    "blur": {"every": 0, "sigma": 0.5},
}


def elsewhere_model(npz: Path) -> keras.Model:
    """A functional colour model of Keras's default names, as a user trains one: Rescaling,
    batch normalisation, dropout, global average pooling and a softmax, a few steps of Adam."""
    keras.backend.clear_session()  # Keras's default names, as a fresh session gives them
    inputs = keras.Input(SHAPE)
    x = layers.Rescaling(1 / 255.0)(inputs)
    x = layers.Conv2D(8, 5, activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    x = layers.Dropout(0.25)(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(len(CLASSES), activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    keras.utils.set_random_seed(0)
    data = np.load(npz)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(data["x_train"].astype("float32"), data["y_train"], batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="module")
def colour_runs(tmp_path_factory) -> dict[str, Path]:
    """Two workflows: the .npz with the default (declared) network, every analysis on; and
    the same images as a folder with a model trained elsewhere, every analysis an imported
    run makes by default."""
    root = tmp_path_factory.mktemp("colour")
    npz = write_colour_npz(root / "shapes.npz", TRAIN, TEST)
    folder = write_colour_folder(root / "shapes", TRAIN, TEST)
    model_file = root / "elsewhere.keras"
    elsewhere_model(npz).save(model_file)
    workdirs = {}
    for name, data, run in (
        ("declared", {"format": "npz", "path": str(npz)}, {}),
        (
            "imported",
            {"format": "folder", "path": str(folder)},
            {
                "model": {"file": str(model_file)},
                "activations": {"layers": ["convolutions"]},
                "feature_visualisation": {"layers": ["convolutions", "output"]},
                # occlusion and invariance on colour: the declared run's
                "occlusion": {"enabled": False},
                "invariance": {"enabled": False},
            },
        ),
    ):
        workdir = root / name
        workdir.mkdir()
        config = {
            "data": {"set": "shapes", **data},
            "defaults": copy.deepcopy(SETTINGS),
            "runs": {name: run},
        }
        snakemake(workdir, config, timeout=1200)
        workdirs[name] = workdir
    workdirs["npz"], workdirs["folder"], workdirs["model_file"] = npz, folder, model_file
    return workdirs


def results(colour_runs, name: str) -> Path:
    return colour_runs[name] / "results" / "shapes" / name


@pytest.mark.slow
def test_a_folder_and_an_npz_of_the_same_colour_images_are_the_same_data(colour_runs):
    """The folder's images, in its documented order, are the .npz's: test images by class,
    then file name; training images that listing permuted with the folder's seed. Both
    become (N, 24, 20, 3) IDX files with their class names."""
    data = np.load(colour_runs["npz"])
    resources = {
        name: colour_runs[name] / "resources" / "shapes" for name in ("declared", "imported")
    }
    for split, key in (("test", "test"), ("train", "train")):
        order = np.argsort(data[f"y_{split}"], kind="stable")
        if split == "train":
            order = order[
                np.random.default_rng(own_images.FOLDER_TRAIN_ORDER_SEED).permutation(len(order))
            ]
        images = read_idx(resources["imported"] / FILES[f"{key}_images"])
        labels = read_idx(resources["imported"] / FILES[f"{key}_labels"])
        np.testing.assert_array_equal(images, data[f"x_{split}"][order])
        np.testing.assert_array_equal(labels, data[f"y_{split}"][order])
        np.testing.assert_array_equal(
            read_idx(resources["declared"] / FILES[f"{key}_images"]), data[f"x_{split}"]
        )
        assert images.shape[1:] == SHAPE
    assert own_images.layout("folder", colour_runs["folder"]).classes == tuple(CLASSES)
    for name in ("declared", "imported"):
        with open(results(colour_runs, name) / "confusion.csv", newline="") as handle:
            assert [row[1] for row in list(csv.reader(handle))[1:]] == CLASSES


@pytest.mark.slow
def test_every_stage_makes_its_outputs_in_colour(colour_runs):
    declared, imported = results(colour_runs, "declared"), results(colour_runs, "imported")
    for run in (declared, imported):
        assert (run / "gallery" / "index.html").stat().st_size > 0
        for figure in ("samples.png", "filters.png", "confusion.png", "mistakes.png"):
            assert (run / "figures" / figure).stat().st_size > 0, (run, figure)
        for folder in ("top_patches", "projections", "features"):
            assert list((run / "figures" / folder).glob("*.png")), (run, folder)
        with h5py.File(run / "projections.h5") as h5:
            layer = next(iter(h5))
            assert h5[f"{layer}/deconvnet"].shape[-1] == 3  # a colour map per patch
        with h5py.File(run / "features.h5") as h5:
            assert h5.attrs["colour_mixing"].shape == (3, 3)
            assert all(h5[f"{layer}/images"].shape[1:] == SHAPE for layer in h5)
    with h5py.File(declared / "occlusion.h5") as h5:
        assert h5["projection"].shape[1:] == SHAPE
    for folder in ("occlusion", "invariance", "evolution"):
        assert list((declared / "figures" / folder).glob("*.png")), folder
    # the samples figure shows the images as they are: coloured, not grey
    samples = plt_image(declared / "figures" / "samples.png")
    assert (samples.max(axis=-1) - samples.min(axis=-1) > 0.3).mean() > 0.02


def plt_image(path: Path) -> np.ndarray:
    import matplotlib.pyplot as plt

    return plt.imread(path)[..., :3]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["declared", "imported"])
def test_each_top_patch_is_its_activation_recomputed_on_the_cropped_colour_patch(colour_runs, name):
    """The first convolution's unit is its kernel times the patch its box crops from the test
    image (all three channels), plus its bias, through its ReLU: recomputed in NumPy."""
    run = results(colour_runs, name)
    images = read_idx(colour_runs[name] / "resources" / "shapes" / FILES["test_images"])
    with h5py.File(run / "activations.h5") as h5:
        first = "conv1" if name == "declared" else "conv2d"
        kernel = h5[f"weights/{first}/kernel"][:]
        bias = h5[f"weights/{first}/bias"][:]
    assert kernel.shape[2] == 3
    scale = 1 / 255.0  # both networks take [0, 1] pixels (the imported one's Rescaling folded)
    with open(run / "rankings.csv", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["layer"] == first]
    assert rows
    for row in rows:
        y0, x0, y1, x1 = (int(row[k]) for k in ("y0", "x0", "y1", "x1"))
        patch = images[int(row["image_index"])][y0:y1, x0:x1].astype(np.float64) * scale
        assert patch.shape == (*kernel.shape[:2], 3)  # VALID: the whole field lies inside
        f = int(row["filter"])
        expected = max(0.0, float((patch * kernel[..., f]).sum() + bias[f]))
        assert float(row["activation"]) == pytest.approx(expected, rel=1e-4, abs=1e-5), row


@pytest.mark.slow
def test_conv1_reaches_its_closed_form_maximiser_in_colour(colour_runs, tmp_path):
    """conv1 is linear before its ReLU: its centre unit is largest with every pixel of every
    channel of its field at the top where the weight is positive, at the bottom where it is
    negative. The optimiser gets within 0.1 % of that for every filter."""
    run = results(colour_runs, "declared")
    resources = colour_runs["declared"] / "resources" / "shapes"
    output = tmp_path / "features.h5"
    settings = copy.deepcopy(default_settings()["feature_visualisation"])
    del settings["enabled"]
    settings.update(layers=["conv1"], objective="neuron", parameterisation="pixel", **PLAIN)
    visualise_features(
        str(run / "model.keras"),
        str(resources / FILES["test_images"]),
        str(output),
        settings=settings,
        test_labels=str(resources / FILES["test_labels"]),
        class_names=CLASSES,
        num_classes=len(CLASSES),
    )
    conv1 = keras.saving.load_model(run / "model.keras").get_layer("conv1")
    kernel, bias = conv1.get_weights()  # (12, 12, 3, 25)
    maximum = bias + np.clip(kernel, 0, None).sum(axis=(0, 1, 2))
    with h5py.File(output) as h5:
        reached = h5["conv1/objective"][:]
        row, col = h5["conv1"].attrs["position"]
        images = h5["conv1/images"][:]
    assert (reached >= 0.999 * maximum).all(), reached / maximum
    assert (reached <= maximum + 1e-4 * np.abs(maximum)).all()
    field = images[:, 2 * row : 2 * row + 12, 2 * col : 2 * col + 12]  # stride 2, VALID
    weights = np.moveaxis(kernel, -1, 0)
    clear = np.abs(weights) > 0.05 * np.abs(weights).max()
    assert (field[clear & (weights > 0)] > 250).all()
    assert (field[clear & (weights < 0)] < 5).all()


@pytest.mark.parametrize("parameterisation", ["pixel", "fourier"])
def test_the_colour_gradient_equals_central_differences_in_float64(parameterisation):
    """Every loss term on colour images, with the Fourier images' colour decorrelation: the
    gradient with respect to the free parameters equals central finite differences."""
    from conftest import resolved_model
    from mnist_filters.network.build import build_model

    model_settings = resolved_model(
        {
            **copy.deepcopy(default_settings()["model"]),
            "conv1": {"filters": 3, "kernel_size": 5},
            "conv2": {"filters": 4, "kernel_size": 3},
            "fc1": {"units": 8},
        }
    )
    model = build_model(model_settings, seed=3, image_shape=(12, 10, 3), portable=True)
    settings = copy.deepcopy(default_settings()["feature_visualisation"])
    settings.update(
        parameterisation=parameterisation,
        objective="channel",
        l2=0.7,
        total_variation=0.3,
        jitter=1,
        rotation=10.0,
        scale=0.1,
        diversity={"images": 2, "weight": 0.5},
    )
    rng = np.random.default_rng(5)
    mixing = colour_mixing(rng.random((20, 12, 10, 3)) * [1.0, 0.8, 0.5])
    visualisation = Visualisation(
        model, "conv2", [0, 2], settings, 0.1, dtype="float64", colour_mixing=mixing
    )
    parameters = rng.standard_normal(visualisation.parameter_shape()) * 0.5
    transforms = visualisation.random_transforms(rng)
    assert_gradient_is_central_differences(visualisation, parameters, transforms, rng)


def test_colour_mixing_is_the_square_root_of_the_colour_covariance():
    rng = np.random.default_rng(0)
    pixels = rng.standard_normal((5000, 3)) @ np.array(
        [[1.0, 0.5, 0.2], [0, 0.7, 0.3], [0, 0, 0.4]]
    )
    mixing = colour_mixing(pixels.reshape(50, 10, 10, 3))
    covariance = np.cov(pixels, rowvar=False)
    longest = np.linalg.norm(mixing, axis=0).max()
    np.testing.assert_allclose(longest, 1.0)
    # M M^T is the covariance, up to the one scale that makes the longest column 1
    product = mixing @ mixing.T
    np.testing.assert_allclose(product / product[0, 0], covariance / covariance[0, 0], rtol=1e-9)


# What the test adds to a copy of the gallery: once the page has drawn, the first hit's patch
# canvas as RGB bytes, base64, in an attribute of the body.
READ_FIRST_PATCH = """<script>
const patch = document.querySelector(".hits:not(.optimised) .hit").querySelectorAll("canvas")[1];
const rgba = patch.getContext("2d").getImageData(0, 0, patch.width, patch.height).data;
let text = "";
for (let i = 0; i < rgba.length; i += 4) {
  text += String.fromCharCode(rgba[i], rgba[i + 1], rgba[i + 2]);
}
document.body.setAttribute("data-first-patch", btoa(text));
document.body.setAttribute("data-patch-size", `${patch.height}x${patch.width}`);
</script>"""


@pytest.mark.slow
def test_the_gallery_of_an_imported_colour_model_draws_its_patches_in_colour(colour_runs, tmp_path):
    """In headless Chromium, the first hit's patch canvas holds exactly the test image's colour
    pixels of its receptive field (light blue beyond the image), and no console error."""
    run = results(colour_runs, "imported")
    page = (run / "gallery" / "index.html").read_text()
    copied = tmp_path / "index.html"
    copied.write_text(page.replace("</body>", READ_FIRST_PATCH + "</body>"))
    result = open_page(copied, tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom")
    console = [
        line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
    ]
    assert not console, console
    dom = result.stdout
    drawn = dom.split('data-first-patch="')[1].split('"')[0]
    height, width = map(int, dom.split('data-patch-size="')[1].split('"')[0].split("x"))
    shown = np.frombuffer(base64.b64decode(drawn), np.uint8).reshape(height, width, 3)
    with h5py.File(run / "projections.h5") as h5:
        layer = next(iter(h5))  # the gallery's first section
        positions = {int(r): p for p, r in enumerate(h5[f"{layer}/deconvnet"].attrs["rows"])}
        origins = h5[f"{layer}/field_origin"][:]
    with open(run / "rankings.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    first = min(
        (number for number, row in enumerate(rows) if row["layer"] == layer),
        key=lambda number: (int(rows[number]["filter"]), int(rows[number]["rank"])),
    )
    fy, fx = origins[positions[first]]
    image = read_idx(colour_runs["imported"] / "resources" / "shapes" / FILES["test_images"])[
        int(rows[first]["image_index"])
    ]
    expected = np.empty_like(shown)
    for y in range(height):
        for x in range(width):
            inside = 0 <= fy + y < image.shape[0] and 0 <= fx + x < image.shape[1]
            expected[y, x] = image[fy + y, fx + x] if inside else (159, 197, 232)
    np.testing.assert_array_equal(shown, expected)
    assert (shown.max(axis=-1).astype(int) - shown.min(axis=-1) > 60).any()  # in colour


@pytest.mark.parametrize("adapted", [False, True], ids=["given", "adapted"])
def test_a_per_channel_normalisation_of_a_colour_model_computes_what_keras_computes(
    adapted, tmp_path
):
    """A colour model's Normalization with a mean and variance per channel (given in its
    config, or adapted, and so kept in its weights) becomes a per-channel rescaling; the
    converted model's logits are the file's softmax inputs."""
    from mnist_filters.network.from_keras import import_model

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (64, *SHAPE)).astype("float32") * [1.0, 0.7, 0.4]
    if adapted:
        normalise = layers.Normalization()
        normalise.adapt(pixels)
    else:
        normalise = layers.Normalization(mean=[120, 90, 50], variance=[3600, 2500, 900])
    inputs = keras.Input(SHAPE)
    x = layers.Conv2D(4, 3, activation="relu")(normalise(inputs))
    x = layers.GlobalAveragePooling2D()(x)
    logits = layers.Dense(len(CLASSES))(x)
    model = keras.Model(inputs, layers.Softmax()(logits))
    model.save(tmp_path / "normalised.keras")
    imported = import_model(tmp_path / "normalised.keras")
    scale = imported.table.layers[0].options["scale"]
    assert isinstance(scale, list) and len(scale) == 3
    expected = keras.Model(inputs, logits)(pixels).numpy()
    np.testing.assert_allclose(imported.model(pixels / 255.0).numpy(), expected, atol=1e-4)
