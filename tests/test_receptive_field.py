"""Receptive fields from the layer table: by perturbation on networks drawn at random, and
analytically on known chains (the notebook's, VGG16's)."""

import keras
import numpy as np
import pytest

from conftest import default_settings, resolved_model
from mnist_filters.network.build import build_model
from mnist_filters.network.table import LayerError, LayerTable

SEED_MODEL = default_settings()["model"]


def test_the_notebooks_geometry():
    table = LayerTable.declared(SEED_MODEL["layers"], (28, 28), 10)

    def axis(name):
        rows = table[name].geometry.rows
        return rows.size, rows.jump, rows.start, rows.length

    assert axis("conv1") == (12, 2, 0, 9)
    assert axis("conv2") == (20, 2, -4, 9)
    assert axis("pool2") == (22, 4, -4, 5)
    assert table["conv1"].geometry.box(8, 8, (28, 28)) == (16, 16, 28, 28)
    assert table["conv2"].geometry.box(0, 8, (28, 28)) == (0, 12, 16, 28)  # clipped twice
    assert [(layer.name, layer.output_shape) for layer in table] == [
        ("conv1", (9, 9, 25)),
        ("conv2", (9, 9, 64)),
        ("pool2", (5, 5, 64)),
        ("flatten", (1600,)),
        ("fc1", (1024,)),
        ("logits", (10,)),
    ]


def vgg16():
    """VGG16's convolutional part: 13 3x3 SAME convolutions in blocks of 2, 2, 3, 3, 3, each
    block ending in a 2x2 max pooling (Simonyan & Zisserman 2015, configuration D)."""
    layers = []
    for block, convolutions in enumerate((2, 2, 3, 3, 3), 1):
        for i in range(1, convolutions + 1):
            layers.append(
                {"name": f"conv{block}_{i}", "kind": "conv", "filters": 8, "kernel_size": 3}
                | {"padding": "same"}
            )
        layers.append({"name": f"pool{block}", "kind": "max_pool", "pool_size": 2})
    return layers


def test_vgg16s_published_receptive_fields():
    """The published figures: 196 pixels after the thirteenth convolution, 212 after the fifth
    pooling, effective stride 32 there (16 at conv5_3)."""
    table = LayerTable.declared(resolved_model({"layers": vgg16()})["layers"], (224, 224), 10)
    last_conv, last_pool = table["conv5_3"].geometry, table["pool5"].geometry
    assert (last_conv.rows.size, last_conv.rows.jump, last_conv.rows.length) == (196, 16, 14)
    assert (last_pool.rows.size, last_pool.rows.jump, last_pool.rows.length) == (212, 32, 7)
    assert [table[name].geometry.rows.size for name in ("conv1_1", "conv1_2", "pool1")] == [3, 5, 6]
    assert table.convolutions[-1] == "conv5_3" and len(table.convolutions) == 13


def random_network(rng):
    """A chain of 3 to 5 convolutions and 1 or 2 poolings of every kind, stride, padding and
    dilation, that fits its input; with the input's (H, W)."""
    while True:
        layers = []
        convolutions = int(rng.integers(3, 6))
        poolings = set(rng.choice(np.arange(1, convolutions + 1), int(rng.integers(1, 3)), False))
        for i in range(1, convolutions + 1):
            stride = int(rng.integers(1, 3))
            dilation = 1 if stride > 1 else int(rng.integers(1, 3))
            layers.append(
                {
                    "name": f"c{i}",
                    "kind": "conv",
                    "filters": int(rng.integers(2, 5)),
                    "kernel_size": [int(rng.integers(1, 5)), int(rng.integers(1, 5))],
                    "strides": stride,
                    "dilation": dilation,
                    "padding": str(rng.choice(["same", "valid"])),
                }
            )
            if i in poolings:
                window = int(rng.integers(2, 4))
                layers.append(
                    {
                        "name": f"p{i}",
                        "kind": str(rng.choice(["max_pool", "avg_pool"])),
                        "pool_size": window,
                        "strides": int(rng.integers(1, window + 1)),
                        "padding": str(rng.choice(["same", "valid"])),
                    }
                )
        shape = (int(rng.integers(20, 36)), int(rng.integers(20, 36)))
        # weights of unit scale, so that a border pixel's signal reaches the deepest layer
        settings = resolved_model({"layers": layers, "init_stddev": 0.5})
        try:
            return settings, shape, LayerTable.declared(settings["layers"], shape, 3)
        except LayerError:
            continue


NETWORKS = [random_network(np.random.default_rng(seed)) for seed in range(6)]


@pytest.mark.parametrize("settings, shape, table", NETWORKS, ids=[f"net{i}" for i in range(6)])
def test_a_random_networks_boxes_hold_all_that_matters_and_no_more(settings, shape, table):
    """Pixels outside a unit's box never change it (within 1e-6 relative: oneDNN's convolution
    kernels may group a sum's terms by tiles that reach past the field); every border row and
    column of the box holds a pixel that does (the box is no larger than it must be)."""
    rng = np.random.default_rng(len(table.names))
    model = build_model(settings, seed=1, image_shape=shape, num_classes=3, portable=True)
    image = rng.random((1, *shape, 1)).astype(np.float32)
    for layer in table.spatial:
        probe = keras.Model(model.inputs[0], model.get_layer(layer).output)
        geometry = table[layer].geometry
        reference = probe(image).numpy()
        assert reference.shape[1:] == table[layer].output_shape
        units = [
            (int(rng.integers(geometry.rows.length)), int(rng.integers(geometry.cols.length)))
            for _ in range(4)
        ]
        outside = []
        for row, col in units:
            y0, x0, y1, x1 = geometry.box(row, col, shape)
            changed = rng.random((1, *shape, 1)).astype(np.float32) * 5
            changed[0, y0:y1, x0:x1] = image[0, y0:y1, x0:x1]
            outside.append(changed[0])
        values = probe(np.stack(outside)).numpy()
        for i, (row, col) in enumerate(units):
            np.testing.assert_allclose(
                values[i, row, col], reference[0, row, col], rtol=1e-6, atol=1e-6
            )
        # the middle unit, whose field the image clips least: where it clips, the box's edge is
        # the image's, which a dilated or strided field may skip
        row, col = geometry.rows.length // 2, geometry.cols.length // 2
        y0, x0, y1, x1 = geometry.box(row, col, shape)
        top, left = (
            geometry.rows.start + row * geometry.rows.jump,
            geometry.cols.start + col * geometry.cols.jump,
        )
        edges = {
            "top": ([(y0, x) for x in range(x0, x1)], y0 == top),
            "bottom": ([(y1 - 1, x) for x in range(x0, x1)], y1 == top + geometry.rows.size),
            "left": ([(y, x0) for y in range(y0, y1)], x0 == left),
            "right": ([(y, x1 - 1) for y in range(y0, y1)], x1 == left + geometry.cols.size),
        }
        for edge, (pixels, unclipped) in edges.items():
            if not unclipped:
                continue
            batch = np.repeat(image, 2 * len(pixels), axis=0)
            for j, (y, x) in enumerate(pixels):
                batch[2 * j, y, x] += 100.0  # one sign gets through each ReLU and max
                batch[2 * j + 1, y, x] -= 100.0
            moved = probe(batch).numpy()[:, row, col]
            change = np.abs(moved - reference[0, row, col]) / max(
                1.0, abs(reference[0, row, col]).max()
            )
            assert (change > 1e-4).any(), (
                f"{layer} unit ({row}, {col}): no pixel on the {edge} edge of its box "
                f"{(y0, x0, y1, x1)} changes it"
            )
