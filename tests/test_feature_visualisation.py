"""Feature visualisation by optimisation, against exact oracles: conv1's closed-form maximum,
the best test image as a lower bound, float64 gradients against finite differences, bitwise
reruns, and features.h5 read with h5py alone."""

from __future__ import annotations

import copy

import h5py
import numpy as np
import pytest

from conftest import ANALYSES_ON, default_settings, resolved_model, snakemake, tiny_config
from helpers import assert_gradient_is_central_differences
from mnist_filters.dataset import FILES
from mnist_filters.formats.features import read_features
from mnist_filters.network.optimised_inputs import Visualisation, trace_steps
from mnist_filters.stages.feature_visualisation import visualise_features

MNIST_CLASSES = [str(label) for label in range(10)]
# Nothing but the objective: no penalty, no transformation.
PLAIN = {
    "l2": 0.0,
    "total_variation": 0.0,
    "jitter": 0,
    "rotation": 0.0,
    "scale": 0.0,
    "blur": {"every": 0, "sigma": 0.5},
}


def block(**overrides) -> dict:
    """The feature_visualisation defaults with `overrides`, as the rule passes them."""
    settings = copy.deepcopy(default_settings()["feature_visualisation"])
    del settings["enabled"]
    settings.update(overrides)
    return settings


def tiny_model(tiny_run):
    return tiny_run / "results" / "mnist" / "tiny" / "model.keras"


def test_conv1_neuron_reaches_its_closed_form_maximum(tiny_run, tiny_mnist, tmp_path):
    """conv1 is linear before its ReLU: inside the pixel box [0, 1] its centre unit is largest
    with each pixel of its field at the top where the weight is positive and at the bottom where
    it is negative. The optimiser gets within 0.1 % of that for every filter."""
    import keras

    output = tmp_path / "features.h5"
    settings = block(layers=["conv1"], objective="neuron", parameterisation="pixel", **PLAIN)
    visualise_features(
        str(tiny_model(tiny_run)),
        str(tiny_mnist / FILES["test_images"]),
        str(output),
        settings=settings,
        test_labels=str(tiny_mnist / FILES["test_labels"]),
        class_names=MNIST_CLASSES,
    )
    conv1 = keras.saving.load_model(tiny_model(tiny_run)).get_layer("conv1")
    kernel, bias = conv1.get_weights()  # (12, 12, 1, 25), (25,)
    assert (conv1.strides, conv1.kernel_size, conv1.padding) == ((2, 2), (12, 12), "valid")
    # the 9x9 map's centre (4, 4) sees rows and columns 8..19
    maximum = bias + np.clip(kernel, 0, None).sum(axis=(0, 1, 2))
    with h5py.File(output, "r") as h5:
        reached = h5["conv1/objective"][:]
        images = h5["conv1/images"][:]
        assert h5["conv1"].attrs["position"].tolist() == [4, 4]
    assert (reached >= 0.999 * maximum).all(), reached / maximum
    assert (reached <= maximum + 1e-4 * np.abs(maximum)).all()
    # and the image is the closed form's: bright where the weight is clearly positive, dark
    # where clearly negative
    field = images[:, 8:20, 8:20]
    weights = np.moveaxis(kernel[:, :, 0, :], -1, 0)
    clear = np.abs(weights) > 0.05 * np.abs(weights).max()
    assert (field[clear & (weights > 0)] > 250).all()
    assert (field[clear & (weights < 0)] < 5).all()


@pytest.mark.parametrize(
    "layers, objective, steps",
    [
        (["conv1", "conv2", "logits"], "channel", 256),
        (["conv1", "conv2", "logits"], "neuron", 256),
        # 1,024 images a step: fewer steps keep the suite short
        (["fc1"], "channel", 48),
    ],
    ids=["channel", "neuron", "fc1"],
)
def test_every_unit_reaches_at_least_its_best_test_image(
    tiny_run, tiny_mnist, tmp_path, layers, objective, steps
):
    """Every test image lies in the pixel box, so with the regularisers off an optimum below the
    best of them is a failed optimisation; the best test values are the model's own."""
    import keras

    from mnist_filters.dataset import to_model_input
    from mnist_filters.idx import read_idx

    output = tmp_path / "features.h5"
    visualise_features(
        str(tiny_model(tiny_run)),
        str(tiny_mnist / FILES["test_images"]),
        str(output),
        settings=block(layers=layers, objective=objective, steps=steps, **PLAIN),
        test_labels=str(tiny_mnist / FILES["test_labels"]),
        class_names=MNIST_CLASSES,
    )
    features = read_features(str(output))
    for layer in layers:
        entry = features[layer]
        short = entry["objective"] < entry["best_test_value"]
        assert not short.any(), (layer, entry["units"][short])
    if "logits" in layers:  # the logits' best test values, from plain Keras
        model = keras.saving.load_model(tiny_model(tiny_run))
        test = to_model_input(read_idx(tiny_mnist / FILES["test_images"]))
        logits = model.predict(test, verbose=0)
        np.testing.assert_allclose(
            features["logits"]["best_test_value"], logits.max(axis=0), rtol=1e-5
        )
        np.testing.assert_array_equal(features["logits"]["best_test_index"], logits.argmax(axis=0))


def small_model():
    from mnist_filters.network.build import build_model

    settings = resolved_model(
        {
            **copy.deepcopy(default_settings()["model"]),
            "conv1": {"filters": 3, "kernel_size": 5},
            "conv2": {"filters": 4, "kernel_size": 3},
            "fc1": {"units": 8},
        }
    )
    return build_model(settings, seed=3, image_shape=(12, 12), portable=True)


@pytest.mark.parametrize("parameterisation", ["pixel", "fourier"])
@pytest.mark.parametrize("layer", ["conv1", "conv2", "logits"])
def test_the_gradient_equals_central_differences_in_float64(layer, parameterisation):
    """Every term on (objective, L2, total variation, diversity, a random shift, rotation and
    scale): the loss's gradient with respect to the free parameters equals central finite
    differences."""
    settings = block(
        parameterisation=parameterisation,
        objective="neuron" if layer == "conv2" else "channel",
        l2=0.7,
        total_variation=0.3,
        jitter=1,
        rotation=10.0,
        scale=0.1,
        diversity={"images": 2, "weight": 0.5},
    )
    visualisation = Visualisation(small_model(), layer, [0, 2], settings, 0.1, dtype="float64")
    rng = np.random.default_rng(5)
    parameters = rng.standard_normal(visualisation.parameter_shape()) * 0.5
    transforms = visualisation.random_transforms(rng)
    assert transforms is not None and transforms.dtype == np.float64
    assert_gradient_is_central_differences(visualisation, parameters, transforms, rng)


def test_the_random_transforms_are_the_invariance_stages():
    """warp, whose gradient is exact, reads each image as keras.ops.image.affine_transform does
    (the invariance stage's transform), fill included, for shifts, rotations and scales."""
    from mnist_filters.image_transforms import random_transforms, warp
    from mnist_filters.stages.invariance import affine

    rng = np.random.default_rng(2)
    images = rng.random((64, 28, 28, 1)).astype(np.float32)
    settings = block(jitter=6, rotation=40.0, scale=0.3)
    transforms = random_transforms(rng, 64, (28, 28), settings, "float32")
    np.testing.assert_allclose(
        np.asarray(warp(images, transforms, 0.2)),
        np.asarray(affine(images, transforms, 0.2)),
        atol=2e-6,
    )


def test_the_stacked_transforms_are_each_images_own_product():
    """random_transforms multiplies the four maps of every image as one stack: each row is
    bitwise the product of that image's own inverse_matrix calls."""
    from mnist_filters.image_transforms import inverse_matrix, random_transforms

    settings = block(jitter=3, rotation=20.0, scale=0.2)
    rows = random_transforms(np.random.default_rng(4), 16, (24, 20), settings, "float64")
    rng = np.random.default_rng(4)  # the same draws, in random_transforms' order
    shifts = rng.integers(-3, 4, size=(16, 2))
    angles, factors = rng.uniform(-20.0, 20.0, 16), rng.uniform(0.8, 1.2, 16)
    for i, row in enumerate(rows):
        matrix = (
            inverse_matrix("scale", factors[i], (24, 20))
            @ inverse_matrix("rotation", angles[i], (24, 20))
            @ inverse_matrix("vertical_shift", shifts[i, 0], (24, 20))
            @ inverse_matrix("horizontal_shift", shifts[i, 1], (24, 20))
        )
        assert row.tobytes() == np.concatenate([matrix[0], matrix[1], matrix[2, :2]]).tobytes()


@pytest.mark.parametrize("channels", [1, 3])
def test_the_warps_adjoint_is_bitwise_gather_nds_gradient(channels):
    """warp's own gradient (a sum per corner, then the four corners) gives bitwise the
    gradient TensorFlow derives for the same reads written with gather_nd, the warp's earlier
    and three times slower form, so that its speed changed no byte of features.h5."""
    import tensorflow as tf

    from mnist_filters.image_transforms import random_transforms, warp

    def gather_nd_warp(images, transforms, fill):
        count, height, width, _ = images.shape
        rows, columns = tf.meshgrid(
            tf.range(height, dtype=tf.float32), tf.range(width, dtype=tf.float32), indexing="ij"
        )
        a0, a1, a2, b0, b1, b2, c0, c1 = (transforms[:, i, None, None] for i in range(8))
        denominator = c0 * columns + c1 * rows + 1.0
        x = (a0 * columns + a1 * rows + a2) / denominator
        y = (b0 * columns + b1 * rows + b2) / denominator
        padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=fill)
        x0, y0 = tf.floor(x), tf.floor(y)
        weight_x, weight_y = (x - x0)[..., None], (y - y0)[..., None]
        batch = tf.broadcast_to(tf.range(count)[:, None, None], (count, height, width))

        def read(row, column):
            row = tf.cast(tf.clip_by_value(row + 1, 0, height + 1), tf.int32)
            column = tf.cast(tf.clip_by_value(column + 1, 0, width + 1), tf.int32)
            return tf.gather_nd(padded, tf.stack([batch, row, column], axis=-1))

        top = read(y0, x0) * (1 - weight_x) + read(y0, x0 + 1) * weight_x
        bottom = read(y0 + 1, x0) * (1 - weight_x) + read(y0 + 1, x0 + 1) * weight_x
        return top * (1 - weight_y) + bottom * weight_y

    rng = np.random.default_rng(8)
    images = tf.constant(rng.random((32, 24, 20, channels)), tf.float32)
    weights = tf.constant(rng.standard_normal((32, 24, 20, channels)), tf.float32)
    for _ in range(3):
        settings = block(jitter=2, rotation=15.0, scale=0.1)
        transforms = tf.constant(random_transforms(rng, 32, (24, 20), settings, "float32"))
        results = []
        for function in (warp, gather_nd_warp):
            with tf.GradientTape() as tape:
                tape.watch(images)
                warped = function(images, transforms, 0.3)
                value = tf.reduce_sum(warped * weights)
            results.append((warped.numpy(), tape.gradient(value, images).numpy()))
        (ours, our_gradient), (reference, reference_gradient) = results
        assert ours.tobytes() == reference.tobytes()
        assert our_gradient.tobytes() == reference_gradient.tobytes()


def test_diversity_gives_each_unit_distinct_images(tiny_run, tiny_mnist, tmp_path):
    """With several images per unit, the penalty pushes them apart: their mean pairwise cosine
    similarity falls below that of the same images optimised without it."""

    def similarity(weight):
        output = tmp_path / f"features-{weight}.h5"
        visualise_features(
            str(tiny_model(tiny_run)),
            str(tiny_mnist / FILES["test_images"]),
            str(output),
            settings=block(
                layers=["conv2"], units=[0, 5, 9], diversity={"images": 3, "weight": weight}
            ),
            test_labels=str(tiny_mnist / FILES["test_labels"]),
            class_names=MNIST_CLASSES,
        )
        with h5py.File(output, "r") as h5:
            images = h5["conv2/diverse_images"][:]
            assert images.shape == (3, 3, 28, 28)
            np.testing.assert_array_equal(h5["conv2/images"][:], images[:, 0])
            assert h5["conv2/diverse_objective"].shape == (3, 3)
            background = h5.attrs["background"]
        flat = (images - background).reshape(3, 3, -1)
        flat /= np.linalg.norm(flat, axis=2, keepdims=True)
        gram = np.einsum("uip,ujp->uij", flat, flat)
        return (gram.sum(axis=(1, 2)) - 3) / 6

    assert (similarity(5.0) < similarity(0.0) - 0.05).all()
    # the figure shows each unit's three images side by side
    from mnist_filters.formats.features import read_features
    from mnist_filters.stages.figures.feature_visualisation import strip

    entry = read_features(str(tmp_path / "features-5.0.h5"))["conv2"]
    shown = strip(entry, 1)
    assert shown.shape == (28, 3 * 28 + 2)
    np.testing.assert_array_equal(shown[:, 29:57], entry["diverse_images"][1, 1])


def test_trace_steps_start_at_zero_and_end_at_the_last_step():
    assert trace_steps(256) == [0, 32, 64, 96, 128, 160, 192, 224, 256]
    assert trace_steps(3) == [0, 1, 2, 3]
    assert trace_steps(0) == [0]


def test_features_h5_reads_without_our_code(tiny_run):
    """The shared run's file, read with h5py alone: one group per layer, its axes and units."""
    path = tiny_run / "results" / "mnist" / "tiny" / "features.h5"
    with h5py.File(path, "r") as h5:
        assert list(h5) == ["conv1", "conv2", "logits"]
        assert h5.attrs["image_shape"].tolist() == [28, 28]
        assert '"steps": 64' in h5.attrs["settings"]
        for layer, units in (("conv1", 25), ("conv2", 64), ("logits", 10)):
            group = h5[layer]
            assert group.attrs["layer_units"] == units
            assert group.attrs["objective_kind"] == ("unit" if layer == "logits" else "channel")
            assert group["units"][:].tolist() == list(range(units))
            images = group["images"][:]
            assert images.shape == (units, 28, 28) and images.dtype == np.float32
            assert 0 <= images.min() and images.max() <= 255
            assert group["trace_steps"][:].tolist() == [0, 8, 16, 24, 32, 40, 48, 56, 64]
            np.testing.assert_array_equal(group["trace"][:, -1], group["objective"][:])
            assert ((0 <= group["best_test_index"][:]) & (group["best_test_index"][:] < 500)).all()
            # the optimisation raised every unit from its grey start
            assert (group["trace"][:, -1] > group["trace"][:, 0]).all()
        assert [n.decode() for n in h5["logits/unit_names"][:]] == MNIST_CLASSES


def test_figures_one_grid_per_layer(tiny_run):
    import matplotlib.pyplot as plt

    folder = tiny_run / "results" / "mnist" / "tiny" / "figures" / "features"
    assert sorted(p.name for p in folder.glob("*.png")) == ["conv1.png", "conv2.png", "logits.png"]
    for path in folder.glob("*.png"):
        pixels = plt.imread(path)[..., :3].mean(axis=2)
        assert (pixels < 0.5).mean() > 0.05, path.name  # drawn images, not an empty page


def test_a_rerun_writes_a_bitwise_identical_file(tiny_run, tiny_mnist):
    path = tiny_run / "results" / "mnist" / "tiny" / "features.h5"
    before = path.read_bytes()
    config = tiny_config(tiny_mnist, runs={"tiny": copy.deepcopy(ANALYSES_ON)})
    snakemake(tiny_run, config, "--forcerun", "visualise_features")
    assert path.read_bytes() == before
