"""The seed notebook's CNN as a Keras 3 model.

conv1 12x12x25 stride 2 VALID -> 9x9x25; conv2 5x5x64 SAME -> 9x9x64; 2x2 max-pool
SAME -> 5x5x64; dense 1024 ReLU; dense 10 logits. Every number is a run setting.
"""

from __future__ import annotations

import hashlib
import math

import keras
import numpy as np
from keras import layers, ops


class BlockMaxPooling2D(layers.Layer):
    """Max-pooling with stride equal to the pool size, written as pad + reshape + max.

    Its outputs equal keras.layers.MaxPooling2D's (TensorFlow's padding rule included).
    It exists because TensorFlow refuses to XLA-compile MaxPool's gradient while op
    determinism is on, and we want both: the gradient of a max over a reshaped block is
    deterministic and compiles. (The only difference is on exact ties between positive
    activations, where the gradient is shared instead of given to the first maximum.)
    It is used for training only: the saved model has Keras's own MaxPooling2D (`portable`).
    """

    def __init__(self, pool_size: int = 2, padding: str = "same", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.padding = padding.lower()

    def _geometry(self, size: int) -> tuple[int, int, int]:
        """(output size, padding before, padding after) along one axis."""
        p = self.pool_size
        if self.padding == "valid":
            return size // p, 0, -(size % p)
        out = math.ceil(size / p)
        total = out * p - size
        return out, total // 2, total - total // 2

    def call(self, inputs):
        _, height, width, channels = inputs.shape
        out_h, top, bottom = self._geometry(height)
        out_w, left, right = self._geometry(width)
        if self.padding == "valid":
            inputs = inputs[:, : out_h * self.pool_size, : out_w * self.pool_size, :]
        elif top or bottom or left or right:
            # -inf never wins a max, so padded cells are ignored as in TensorFlow's SAME pooling
            inputs = ops.pad(
                inputs,
                [[0, 0], [top, bottom], [left, right], [0, 0]],
                constant_values=float("-inf"),
            )
        blocks = ops.reshape(inputs, (-1, out_h, self.pool_size, out_w, self.pool_size, channels))
        return ops.max(blocks, axis=(2, 4))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, self._geometry(height)[0], self._geometry(width)[0], channels)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding}


def layer_seeds(seed: int, count: int) -> list[int]:
    """Independent initialiser seeds per layer, a pure function of the run's seed."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count) % (2**31 - 1)]


def build_model(
    settings: dict, seed: int, image_shape=(28, 28), num_classes: int = 10, portable: bool = False
) -> keras.Model:
    """The notebook's model; `settings` is a run's `model:` block.

    `portable`: pool with keras.layers.MaxPooling2D (equal outputs), so that the saved
    file opens in any Keras without this package; else with the XLA-friendly block pooling.
    """
    conv1, conv2, pool2 = settings["conv1"], settings["conv2"], settings["pool2"]
    seeds = iter(layer_seeds(seed, 4))

    def weights():
        return keras.initializers.TruncatedNormal(stddev=settings["init_stddev"], seed=next(seeds))

    bias = keras.initializers.Constant(settings["bias_init"])
    return keras.Sequential(
        [
            keras.Input(shape=(*image_shape, 1), name="image"),
            # float32 under mixed precision too: with one input channel, conv1's sums are too
            # shallow for bfloat16 matrix units, and its weight gradient took 2.5x longer in
            # bfloat16 than in float32 on an AMX Xeon (docs/speed.md).
            layers.Conv2D(
                conv1["filters"],
                conv1["kernel_size"],
                strides=conv1["strides"],
                padding=conv1["padding"],
                activation="relu",
                kernel_initializer=weights(),
                bias_initializer=bias,
                name="conv1",
                dtype="float32",
            ),
            layers.Conv2D(
                conv2["filters"],
                conv2["kernel_size"],
                strides=conv2["strides"],
                padding=conv2["padding"],
                activation="relu",
                kernel_initializer=weights(),
                bias_initializer=bias,
                name="conv2",
            ),
            (layers.MaxPooling2D if portable else BlockMaxPooling2D)(
                pool2["pool_size"], padding=pool2["padding"], name="pool2"
            ),
            layers.Flatten(name="flatten"),
            layers.Dense(
                settings["fc1_units"],
                activation="relu",
                kernel_initializer=weights(),
                bias_initializer=bias,
                name="fc1",
            ),
            # Logits stay float32 under mixed precision so the softmax loss is stable.
            layers.Dense(
                num_classes,
                kernel_initializer=weights(),
                bias_initializer=bias,
                name="logits",
                dtype="float32",
            ),
        ],
        name="notebook_cnn",
    )


def portable(model: keras.Model, settings: dict, image_shape=(28, 28)) -> keras.Model:
    """`model` (block pooling) as a model any Keras loads: the same weights and outputs."""
    copy = build_model(
        settings, seed=0, image_shape=image_shape, num_classes=model.output_shape[-1], portable=True
    )
    copy.set_weights(model.get_weights())
    return copy


def weights_sha256(weights: list[np.ndarray]) -> str:
    """The sha256 of a model's weights: their raw bytes, in `model.get_weights()` order.

    Unlike the .keras file's own checksum it ignores the archive's save date, so equal
    weights give equal digests; metrics.json records it and `make verify` recomputes it.
    """
    digest = hashlib.sha256()
    for array in weights:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
