"""Projections of single units back to pixels: exact oracles on conv1 and on hand-built networks."""

import numpy as np
import pytest

from conftest import default_settings, resolved_model
from mnist_filters.network.backprojection import METHODS, Network, crop_to_field, project
from mnist_filters.network.table import LayerTable

SETTINGS = resolved_model({**default_settings()["model"], "fc1": {"units": 16}})
TABLE = LayerTable.declared(SETTINGS["layers"], (28, 28), 10)


@pytest.fixture(scope="module")
def network():
    from mnist_filters.network.build import build_model

    return Network.of(build_model(SETTINGS, seed=3, portable=True))


def digits(count, seed=0):
    return np.random.default_rng(seed).random((count, 28, 28, 1), dtype=np.float32)


def fields(layer, units):
    geometry = TABLE[layer].geometry
    boxes = np.array([geometry.box(int(r), int(c), (28, 28)) for _i, r, c, _f in units])
    starts = np.array(
        [
            (
                geometry.rows.start + r * geometry.rows.jump,
                geometry.cols.start + c * geometry.cols.jump,
            )
            for _i, r, c, _f in units
        ]
    )
    return boxes, starts, (geometry.rows.size, geometry.cols.size)


@pytest.mark.parametrize("method", ["deconvnet", "gradient", "guided"])
def test_a_conv1_unit_projects_to_its_filter(network, method):
    """conv1 is linear in its input: an active unit's projection is its filter, at its field."""
    units = np.array([(0, 0, 0, 3), (1, 4, 7, 11), (2, 8, 8, 24)])
    images = np.zeros(
        (3, 28, 28, 1), np.float32
    )  # pre-activations = bias 0.1 > 0: every unit active
    maps = project(network, images, "conv1", units, method)
    boxes, starts, field = fields("conv1", units)
    cropped = crop_to_field(maps, boxes, field, starts)
    kernel = network.weights["conv1"][0]
    for i, (_image, _row, _col, f) in enumerate(units):
        np.testing.assert_allclose(cropped[i], kernel[:, :, 0, f], rtol=0, atol=1e-7)
        outside = maps[i].copy()
        y0, x0, y1, x1 = boxes[i]
        outside[y0:y1, x0:x1] = 0
        assert not outside.any()


@pytest.mark.parametrize("layer", ["conv2", "pool2"])
@pytest.mark.parametrize("method", METHODS)
def test_deeper_projections_stay_inside_the_receptive_field(network, layer, method):
    units = np.array([(0, 4, 4, 5), (1, 0, 0, 9), (2, 2, 3, 60)])
    if layer == "pool2":
        units = np.array([(0, 2, 2, 5), (1, 0, 0, 9), (2, 4, 1, 60)])
    maps = project(network, digits(3), layer, units, method)
    boxes, _starts, _field = fields(layer, units)
    for i in range(len(units)):
        y0, x0, y1, x1 = boxes[i]
        inside = maps[i, y0:y1, x0:x1]
        outside = maps[i].copy()
        outside[y0:y1, x0:x1] = 0
        assert not outside.any(), (layer, method, i)
        assert np.abs(inside).max() > 0, (layer, method, i)


def test_projections_are_bitwise_reproducible(network):
    units = np.array([(i, i % 9, (2 * i) % 9, i % 64) for i in range(40)])
    images = digits(40, seed=1)
    first = project(network, images, "conv2", units, "guided", batch_size=16)
    again = project(network, images, "conv2", units, "guided", batch_size=16)
    assert first.tobytes() == again.tobytes()


def one_by_one(weight1, bias1, weight2, bias2):
    """A network of 1x1 convolutions, one channel each."""
    kernel = lambda w: np.full((1, 1, 1, 1), w, np.float32)  # noqa: E731
    conv = {"kind": "conv", "filters": 1, "kernel_size": 1}
    table = LayerTable.chain(
        [
            {"name": "conv1", **conv},
            {"name": "conv2", **conv},
            {"name": "flatten", "kind": "flatten"},
        ],
        (2, 2, 1),
    )
    return Network(
        table,
        {
            "conv1": (kernel(weight1), np.array([bias1], np.float32)),
            "conv2": (kernel(weight2), np.array([bias2], np.float32)),
        },
    )


def pixel_map(network, value, method):
    image = np.full((1, 2, 2, 1), value, np.float32)
    return project(network, image, "conv2", np.array([(0, 0, 0, 0)]), method)[0, 0, 0]


def test_the_three_rules_on_values_written_down():
    """conv2 = relu(w2 * relu(x) + b2); the signal at the conv1 ReLU is w2 (conv2 active)."""
    negative_signal = one_by_one(1, 0, -1, 1)  # w2 = -1: the signal reaching conv1's ReLU is -1
    # x = 0.5: conv1 active (0.5 > 0), conv2 active (1 - 0.5 > 0)
    assert pixel_map(negative_signal, 0.5, "gradient") == -1  # g * [x > 0]
    assert pixel_map(negative_signal, 0.5, "guided") == 0  # relu(g) * [x > 0]
    assert pixel_map(negative_signal, 0.5, "deconvnet") == 0  # relu(g)
    positive_signal = one_by_one(1, 0, 1, 1)  # w2 = +1: the signal is +1
    # x = -0.5: conv1's ReLU input is negative, conv2 is active (0 + 1 > 0)
    assert pixel_map(positive_signal, -0.5, "gradient") == 0  # blocked by the forward pass
    assert pixel_map(positive_signal, -0.5, "guided") == 0
    assert (
        pixel_map(positive_signal, -0.5, "deconvnet") == 1
    )  # the deconvnet ignores the forward pass
    assert (
        pixel_map(positive_signal, 0.5, "gradient")
        == pixel_map(positive_signal, 0.5, "guided")
        == 1
    )


def test_an_unknown_method_or_layer_is_refused(network):
    with pytest.raises(ValueError, match="unknown projection method 'lrp'"):
        project(network, digits(1), "conv1", np.array([(0, 0, 0, 0)]), "lrp")
    with pytest.raises(ValueError, match="cannot project layer 'fc1'"):
        project(network, digits(1), "fc1", np.array([(0, 0, 0, 0)]), "guided")


def numpy_conv(x, kernel, bias, strides, dilation, padding):
    """An independent correlation in NumPy: (H, W, C) by (kh, kw, C, F), TensorFlow's padding."""
    (kh, kw, _c, filters), (sh, sw), (dh, dw) = kernel.shape, strides, dilation
    spans = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    pads = []
    for size, stride, span in zip(x.shape[:2], strides, spans):
        out = -(-size // stride) if padding == "same" else (size - span) // stride + 1
        total = max((out - 1) * stride + span - size, 0) if padding == "same" else 0
        pads.append((out, total // 2, total - total // 2))
    (oh, top, bottom), (ow, left, right) = pads
    padded = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    out = np.zeros((oh, ow, filters))
    for i in range(oh):
        for j in range(ow):
            taps = padded[i * sh : i * sh + spans[0] : dh, j * sw : j * sw + spans[1] : dw]
            out[i, j] = np.tensordot(taps, kernel, axes=3) + bias
    return out


LINEAR = [  # no ReLU, no pooling: strides, dilation, both paddings, batch norm and dropout
    {"name": "a", "kind": "conv", "filters": 3, "kernel_size": [3, 2], "strides": 2},
    {"name": "b", "kind": "conv", "filters": 2, "kernel_size": 3, "dilation": 2},
    {"name": "norm", "kind": "batch_norm"},
    {"name": "drop", "kind": "dropout", "rate": 0.3},
    {"name": "c", "kind": "conv", "filters": 2, "kernel_size": 2, "padding": "same"},
]


@pytest.mark.parametrize("method", METHODS)
def test_without_relus_every_method_is_the_exact_gradient(method):
    """A linear network's unit is sum(G * x) + constant, so its gradient G is found exactly by
    the NumPy network's response to each basis image; the three methods must all return it."""
    from mnist_filters.network.build import build_model

    layers = [
        {**layer, "activation": "none"} if layer["kind"] == "conv" else layer for layer in LINEAR
    ]
    settings = resolved_model({"layers": layers, "init_stddev": 0.5})
    model = build_model(settings, seed=4, image_shape=(13, 12), num_classes=2, portable=True)
    norm = model.get_layer("norm")
    rng = np.random.default_rng(0)
    norm.set_weights([rng.uniform(0.5, 2, 2).astype(np.float32) for _ in range(4)])
    network = Network.of(model)
    table = network.table
    image = rng.random((13, 12, 1))

    def numpy_unit(x, row, col, f):
        for layer in table.up_to("c"):
            weights = [np.float64(w) for w in network.weights.get(layer.name, ())]
            if layer.kind == "conv":
                o = layer.options
                x = numpy_conv(x, *weights, o["strides"], o["dilation"], o["padding"])
            elif layer.kind == "batch_norm":
                gamma, beta, mean, variance = weights
                x = (x - mean) / np.sqrt(variance + layer.options["epsilon"]) * gamma + beta
        return x[row, col, f]

    units = np.array([(0, 0, 0, 1), (0, 1, 1, 0), (0, 1, 0, 1)])
    maps = project(network, np.repeat(image[None], 3, 0).astype(np.float32), "c", units, method)
    for i, (_n, row, col, f) in enumerate(units):
        base = numpy_unit(np.zeros_like(image), row, col, f)
        expected = np.zeros(image.shape[:2])
        for y in range(13):
            for x in range(12):
                basis = np.zeros_like(image)
                basis[y, x] = 1.0
                expected[y, x] = numpy_unit(basis, row, col, f) - base
        assert np.abs(expected).max() > 0.01
        np.testing.assert_allclose(maps[i], expected, rtol=1e-4, atol=1e-5)
