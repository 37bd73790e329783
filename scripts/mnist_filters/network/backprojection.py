"""Project one unit's activation back to pixel space (Zeiler & Fergus 2013 and its relatives).

The unit's activation is differentiated with respect to the input image through a copy of
the network's layers up to the unit's layer, built from the trained weights and the model's
layer table with plain TensorFlow ops (no XLA; the trained model is never modified). Methods
differ only in what crosses each ReLU on the way back (x: the ReLU's input in the forward
pass, g: the signal arriving from above):

  gradient   g * [x > 0]          the plain gradient
  deconvnet  relu(g)              Zeiler & Fergus's deconvnet: the forward pass is not consulted
  guided     relu(g) * [x > 0]    guided backpropagation (Springenberg et al. 2015)

Max-pooling passes the signal to the position that won in the forward pass (Zeiler &
Fergus's "switches"), which is the ordinary gradient of a max; average pooling spreads it
evenly over its window. Convolutions, of any strides and dilation, pass it back through
their transposed filters (the gradient again), as a deconvnet does. Batch normalisation is
the affine map of its moving statistics (inference mode), dropout the identity: both pass
the signal back as their gradient, as does an input's rescaling; global average pooling
spreads it evenly over the positions. A ReLU layer of its own (a model trained elsewhere)
follows the method as a convolution's ReLU does. A layer without a ReLU (activation none)
passes it as it is, for every method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mnist_filters.network.table import Layer, LayerTable

METHODS = ("deconvnet", "guided", "gradient")


@dataclass(frozen=True)
class Network:
    """The layers a projection runs through: the model's layer table and each weighted layer's
    arrays (a convolution's or dense layer's kernel and bias; batch normalisation's gamma,
    beta, moving mean and variance)."""

    table: LayerTable
    weights: dict[str, tuple[np.ndarray, ...]]

    @classmethod
    def of(cls, model) -> Network:
        from mnist_filters.network.model_file import table_of

        table = table_of(model)
        weights = {
            layer.name: tuple(
                np.asarray(w, np.float32) for w in model.get_layer(layer.name).get_weights()
            )
            for layer in table
            if layer.weighted
        }
        return cls(table, weights)


def relu_passing(method: str):
    """A ReLU whose backward pass follows `method` (its forward pass is the ReLU's)."""
    import tensorflow as tf

    if method not in METHODS:
        raise ValueError(f"unknown projection method {method!r}; choose from {', '.join(METHODS)}")

    @tf.custom_gradient
    def relu(x):
        def backward(g):
            if method == "gradient":
                return g * tf.cast(x > 0, g.dtype)
            if method == "deconvnet":
                return tf.nn.relu(g)
            return tf.nn.relu(g) * tf.cast(x > 0, g.dtype)

        return tf.nn.relu(x), backward

    return relu


def apply(layer: Layer, weights: tuple, hidden, relu):
    """One layer of the table on a batch, its ReLU (if it has one) as `relu`."""
    import tensorflow as tf

    options, kind = layer.options, layer.kind
    if kind == "conv":
        kernel, bias = weights
        hidden = (
            tf.nn.conv2d(
                hidden,
                kernel,
                options["strides"],
                options["padding"].upper(),
                dilations=options["dilation"],
            )
            + bias
        )
    elif kind == "max_pool":
        return tf.nn.max_pool2d(
            hidden, options["window"], options["strides"], options["padding"].upper()
        )
    elif kind == "avg_pool":
        return tf.nn.avg_pool2d(
            hidden, options["window"], options["strides"], options["padding"].upper()
        )
    elif kind == "batch_norm":
        gamma, beta, mean, variance = weights
        return tf.nn.batch_normalization(hidden, mean, variance, beta, gamma, options["epsilon"])
    elif kind == "dropout":
        return hidden
    elif kind == "flatten":
        return tf.reshape(hidden, (-1, int(np.prod(hidden.shape[1:]))))
    elif kind == "global_avg_pool":
        return tf.reduce_mean(hidden, axis=(1, 2))
    elif kind == "rescaling":
        return hidden * options["scale"] + options["offset"]
    elif kind == "relu":
        return relu(hidden)
    elif kind == "dense":
        kernel, bias = weights
        hidden = tf.matmul(hidden, kernel) + bias
    else:
        raise ValueError(f"cannot project through layer {layer.name} ({kind})")
    return relu(hidden) if options.get("activation") == "relu" else hidden


def forward(network: Network, images, layer: str, relu):
    """The activations of `layer` (after its ReLU, where it has one) for a batch of (N, H, W, C)
    images."""
    if layer not in network.table or not network.table[layer].spatial:
        raise ValueError(
            f"cannot project layer {layer!r}; choose from {', '.join(network.table.spatial)}"
        )
    hidden = images
    for step in network.table.up_to(layer):
        hidden = apply(step, network.weights.get(step.name, ()), hidden, relu)
    return hidden


def project(
    network: Network,
    images: np.ndarray,
    layer: str,
    units: np.ndarray,
    method: str,
    batch_size: int = 256,
    on_batch: Callable[[int], None] = lambda done: None,
) -> np.ndarray:
    """For each (image, row, col, filter) in `units`, d unit / d image: float32 maps, (N, H, W)
    for greyscale inputs, (N, H, W, C) for colour ones.

    `images` are the model's inputs, one per unit (N, H, W, C), float32 in [0, 1]. Each
    batch element is its own image, so the gradient of the batch's sum is each unit's own.
    `on_batch(done)` hears how many units are done after each batch.
    """
    import tensorflow as tf

    relu = relu_passing(method)
    grey = images.shape[3] == 1
    maps = np.zeros(images.shape[:3] if grey else images.shape, np.float32)
    for start in range(0, len(units), batch_size):
        batch = tf.constant(images[start : start + batch_size])
        chosen = units[start : start + batch_size]
        index = np.column_stack([np.arange(len(chosen)), chosen[:, 1:4]]).astype(np.int64)
        with tf.GradientTape() as tape:
            tape.watch(batch)
            selected = tf.gather_nd(forward(network, batch, layer, relu), index)
            total = tf.reduce_sum(selected)
        gradient = tape.gradient(total, batch).numpy()
        maps[start : start + len(chosen)] = gradient[..., 0] if grey else gradient
        on_batch(start + len(chosen))
    return maps


def crop_to_field(
    maps: np.ndarray, boxes: np.ndarray, field: tuple[int, int], starts: np.ndarray
) -> np.ndarray:
    """Each map cut to its unit's whole receptive field (field rows x cols, and the channels of
    colour maps), zero outside the image.

    `boxes` are the clipped (y0, x0, y1, x1) of rankings.csv; `starts` the unclipped
    (y0, x0) where the field begins (negative or beyond the image under SAME padding).
    """
    out = np.zeros((len(maps), *field, *maps.shape[3:]), np.float32)
    for i, ((y0, x0, y1, x1), (fy, fx)) in enumerate(zip(boxes, starts)):
        out[i, y0 - fy : y1 - fy, x0 - fx : x1 - fx] = maps[i, y0:y1, x0:x1]
    return out
