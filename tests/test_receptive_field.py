"""Receptive fields: pixels outside a unit's box never change it; for VALID layers the box is
minimal."""

import keras
import numpy as np
import pytest

from conftest import default_settings
from mnist_filters.network.build import build_model
from mnist_filters.network.geometry import geometries

SEED_MODEL = default_settings()["model"]
OTHER_MODEL = {  # odd sizes, SAME conv1 with stride 3, VALID conv2, VALID pooling of 3
    **SEED_MODEL,
    "conv1": {"filters": 4, "kernel_size": 5, "strides": 3, "padding": "same"},
    "conv2": {"filters": 3, "kernel_size": 3, "strides": 1, "padding": "valid"},
    "pool2": {"pool_size": 3, "padding": "valid"},
    "fc1_units": 8,
}


def test_seed_geometry():
    g = geometries(SEED_MODEL, (28, 28))
    assert (
        g["conv1"].rows.size,
        g["conv1"].rows.jump,
        g["conv1"].rows.start,
        g["conv1"].rows.length,
    ) == (12, 2, 0, 9)
    assert (
        g["conv2"].rows.size,
        g["conv2"].rows.jump,
        g["conv2"].rows.start,
        g["conv2"].rows.length,
    ) == (20, 2, -4, 9)
    assert (
        g["pool2"].rows.size,
        g["pool2"].rows.jump,
        g["pool2"].rows.start,
        g["pool2"].rows.length,
    ) == (22, 4, -4, 5)
    assert g["conv1"].box(8, 8, (28, 28)) == (16, 16, 28, 28)
    assert g["conv2"].box(0, 8, (28, 28)) == (0, 12, 16, 28)  # clipped on two sides


def probes(model):
    return {
        name: keras.Model(model.inputs[0], model.get_layer(name).output)
        for name in ("conv1", "conv2", "pool2")
    }


@pytest.mark.parametrize(
    "settings, shape", [(SEED_MODEL, (28, 28)), (OTHER_MODEL, (29, 26))], ids=["seed", "other"]
)
@pytest.mark.parametrize("seed", [0, 1])
def test_pixels_outside_the_box_never_matter(settings, shape, seed):
    rng = np.random.default_rng(seed)
    model = build_model(settings, seed=seed, image_shape=shape)
    geometry = geometries(settings, shape)
    image = rng.random((1, *shape, 1)).astype(np.float32)
    for name, probe in probes(model).items():
        out = probe(image).numpy()
        assert out.shape[1:3] == (geometry[name].rows.length, geometry[name].cols.length)
        for _ in range(6):
            row, col = rng.integers(out.shape[1]), rng.integers(out.shape[2])
            y0, x0, y1, x1 = geometry[name].box(row, col, shape)
            changed = rng.random((1, *shape, 1)).astype(np.float32) * 5
            changed[0, y0:y1, x0:x1] = image[0, y0:y1, x0:x1]
            np.testing.assert_allclose(
                probe(changed).numpy()[0, row, col], out[0, row, col], rtol=1e-5, atol=1e-6
            )


@pytest.mark.parametrize(
    "settings, shape, layer", [(SEED_MODEL, (28, 28), "conv1"), (OTHER_MODEL, (29, 26), "conv2")]
)
def test_the_box_is_minimal_for_valid_layers(settings, shape, layer):
    """Each edge row and column of the box holds a pixel that changes the unit."""
    rng = np.random.default_rng(3)
    model = build_model(settings, seed=3, image_shape=shape)
    geometry = geometries(settings, shape)[layer]
    probe = probes(model)[layer]
    image = rng.random((1, *shape, 1)).astype(np.float32)
    reference = probe(image).numpy()
    for row, col in [(0, 0), (geometry.rows.length - 1, geometry.cols.length - 1), (1, 2)]:
        y0, x0, y1, x1 = geometry.box(row, col, shape)
        assert (y1 - y0, x1 - x0) == (
            geometry.rows.size,
            geometry.cols.size,
        ) or settings is OTHER_MODEL
        for edge in ("top", "bottom", "left", "right"):
            ys = {"top": [y0], "bottom": [y1 - 1]}.get(edge, range(y0, y1))
            xs = {"left": [x0], "right": [x1 - 1]}.get(edge, range(x0, x1))
            moved = False
            for y in ys:
                for x in xs:
                    for delta in (50.0, -50.0):  # one sign gets through the ReLU
                        changed = image.copy()
                        changed[0, y, x] += delta
                        if (
                            probe(changed).numpy()[0, row, col].tobytes()
                            != reference[0, row, col].tobytes()
                        ):
                            moved = True
                            break
                    if moved:
                        break
                if moved:
                    break
            assert moved, (
                f"{layer} unit ({row}, {col}): no pixel on the {edge} edge of its box matters"
            )
