"""Project one unit's activation back to pixel space (Zeiler & Fergus 2013 and its relatives).

The unit's activation is differentiated with respect to the input image through a copy of
the network's layers up to the unit's layer, built from the trained weights with plain
TensorFlow ops (no XLA; the trained model is never modified). Methods differ only in what
crosses each ReLU on the way back (x: the ReLU's input in the forward pass, g: the signal
arriving from above):

  gradient   g * [x > 0]          the plain gradient
  deconvnet  relu(g)              Zeiler & Fergus's deconvnet: the forward pass is not consulted
  guided     relu(g) * [x > 0]    guided backpropagation (Springenberg et al. 2015)

Max-pooling passes the signal to the position that won in the forward pass (Zeiler &
Fergus's "switches"), which is the ordinary gradient of a max. Convolutions pass it back
through their transposed filters (the gradient again), as a deconvnet does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

METHODS = ("deconvnet", "guided", "gradient")
LAYERS = ("conv1", "conv2", "pool2")


@dataclass(frozen=True)
class Network:
    """The weights and geometry a projection needs: conv1, conv2 and pool2 of a trained model."""

    conv1: tuple[np.ndarray, np.ndarray, int, str]  # kernel, bias, stride, padding
    conv2: tuple[np.ndarray, np.ndarray, int, str]
    pool2: tuple[int, str]  # pool size (= stride), padding

    @classmethod
    def of(cls, model) -> Network:
        def conv(name):
            layer = model.get_layer(name)
            config = layer.get_config()
            return (
                np.asarray(layer.kernel.numpy(), np.float32),
                np.asarray(layer.bias.numpy(), np.float32),
                int(config["strides"][0]),
                config["padding"].upper(),
            )

        pool = model.get_layer("pool2").get_config()
        return cls(
            conv("conv1"),
            conv("conv2"),
            (int(np.ravel(pool["pool_size"])[0]), pool["padding"].upper()),
        )


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


def forward(network: Network, images, layer: str, relu):
    """The activations of `layer` (after its ReLU, or the pooling) for a batch of (N, H, W, 1)
    images."""
    import tensorflow as tf

    if layer not in LAYERS:
        raise ValueError(f"cannot project layer {layer!r}; choose from {', '.join(LAYERS)}")
    kernel, bias, stride, padding = network.conv1
    hidden = relu(tf.nn.conv2d(images, kernel, stride, padding) + bias)
    if layer == "conv1":
        return hidden
    kernel, bias, stride, padding = network.conv2
    hidden = relu(tf.nn.conv2d(hidden, kernel, stride, padding) + bias)
    if layer == "conv2":
        return hidden
    size, padding = network.pool2
    return tf.nn.max_pool2d(hidden, size, size, padding)


def project(
    network: Network,
    images: np.ndarray,
    layer: str,
    units: np.ndarray,
    method: str,
    batch_size: int = 256,
    on_batch: Callable[[int], None] = lambda done: None,
) -> np.ndarray:
    """For each (image, row, col, filter) in `units`, d unit / d image: (N, H, W) float32 maps.

    `images` are the model's inputs, one per unit (N, H, W, 1), float32 in [0, 1]. Each
    batch element is its own image, so the gradient of the batch's sum is each unit's own.
    `on_batch(done)` hears how many units are done after each batch.
    """
    import tensorflow as tf

    relu = relu_passing(method)
    maps = np.zeros(images.shape[:3], np.float32)
    for start in range(0, len(units), batch_size):
        batch = tf.constant(images[start : start + batch_size])
        chosen = units[start : start + batch_size]
        index = np.column_stack([np.arange(len(chosen)), chosen[:, 1:4]]).astype(np.int64)
        with tf.GradientTape() as tape:
            tape.watch(batch)
            selected = tf.gather_nd(forward(network, batch, layer, relu), index)
            total = tf.reduce_sum(selected)
        maps[start : start + len(chosen)] = tape.gradient(total, batch).numpy()[..., 0]
        on_batch(start + len(chosen))
    return maps


def crop_to_field(
    maps: np.ndarray, boxes: np.ndarray, field: tuple[int, int], starts: np.ndarray
) -> np.ndarray:
    """Each map cut to its unit's whole receptive field (field rows x cols), zero outside the image.

    `boxes` are the clipped (y0, x0, y1, x1) of rankings.csv; `starts` the unclipped
    (y0, x0) where the field begins (negative or beyond the image under SAME padding).
    """
    out = np.zeros((len(maps), *field), np.float32)
    for i, ((y0, x0, y1, x1), (fy, fx)) in enumerate(zip(boxes, starts)):
        out[i, y0 - fy : y1 - fy, x0 - fx : x1 - fx] = maps[i, y0:y1, x0:x1]
    return out
