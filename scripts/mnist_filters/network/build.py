"""A declared network as a Keras 3 model: one Keras layer per row of its layer table.

The notebook's network is the default (schemas/run.schema.yaml, model.layers): conv1 12x12x25
stride 2 VALID -> 9x9x25; conv2 5x5x64 SAME -> 9x9x64; 2x2 max-pool SAME -> 5x5x64; dense 1024
ReLU; dense 10 logits.
"""

from __future__ import annotations

import hashlib
import math

import keras
import numpy as np
from keras import layers, ops

from mnist_filters.network.table import LayerTable


class BlockMaxPooling2D(layers.Layer):
    """Max-pooling with stride equal to the pool size, written as pad + reshape + max.

    Its outputs equal keras.layers.MaxPooling2D's (TensorFlow's padding rule included).
    It exists because TensorFlow refuses to XLA-compile MaxPool's gradient while op
    determinism is on, and we want both: the gradient of a max over a reshaped block is
    deterministic and compiles. (The only difference is on exact ties between positive
    activations, where the gradient is shared instead of given to the first maximum.)
    It is used for training only: the saved model has Keras's own MaxPooling2D (`portable`).
    """

    def __init__(self, pool_size=2, padding: str = "same", **kwargs):
        super().__init__(**kwargs)
        self.pool_size = (
            tuple(pool_size) if isinstance(pool_size, (list, tuple)) else (pool_size,) * 2
        )
        self.padding = padding.lower()

    def _geometry(self, size: int, axis: int) -> tuple[int, int, int]:
        """(output size, padding before, padding after) along one axis (0: rows, 1: cols)."""
        p = self.pool_size[axis]
        if self.padding == "valid":
            return size // p, 0, -(size % p)
        out = math.ceil(size / p)
        total = out * p - size
        return out, total // 2, total - total // 2

    def call(self, inputs):
        _, height, width, channels = inputs.shape
        out_h, top, bottom = self._geometry(height, 0)
        out_w, left, right = self._geometry(width, 1)
        rows, cols = self.pool_size
        if self.padding == "valid":
            inputs = inputs[:, : out_h * rows, : out_w * cols, :]
        elif top or bottom or left or right:
            # -inf never wins a max, so padded cells are ignored as in TensorFlow's SAME pooling
            inputs = ops.pad(
                inputs,
                [[0, 0], [top, bottom], [left, right], [0, 0]],
                constant_values=float("-inf"),
            )
        blocks = ops.reshape(inputs, (-1, out_h, rows, out_w, cols, channels))
        return ops.max(blocks, axis=(2, 4))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, self._geometry(height, 0)[0], self._geometry(width, 1)[0], channels)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "padding": self.padding}


def layer_seeds(seed: int, count: int) -> list[int]:
    """Independent initialiser seeds per layer, a pure function of the run's seed."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count) % (2**31 - 1)]


def dropout_seeds(seed: int, count: int) -> list[int]:
    """Dropout's seeds, a stream apart from the initialisers' (adding a dropout layer changes no
    initial weight)."""
    return [int(s) for s in np.random.SeedSequence([seed, 1]).generate_state(count) % (2**31 - 1)]


def build_model(
    settings: dict, seed: int, image_shape=(28, 28), num_classes: int = 10, portable: bool = False
) -> keras.Model:
    """The network a run's `model:` block declares (its layers resolved, as settings.load makes
    them), for `image_shape` inputs and `num_classes` output units.

    `portable`: pool with keras.layers.MaxPooling2D (equal outputs), so that the saved
    file opens in any Keras without this package; else with the XLA-friendly block pooling
    wherever a pooling's strides equal its window.
    """
    table = LayerTable.declared(settings["layers"], tuple(image_shape), num_classes)
    return model_of_table(table, settings, seed, portable)


def model_of_table(table: LayerTable, settings: dict, seed: int, portable: bool) -> keras.Model:
    """The Keras model of a layer table, its weights drawn as `settings` (init_stddev,
    bias_init) and `seed` say (see build_model)."""
    seeds = iter(layer_seeds(seed, len(table.of_kind("conv", "dense"))))
    drop_seeds = iter(dropout_seeds(seed, len(table.of_kind("dropout"))))
    first_convolution = table.first_convolution

    def weights():
        return keras.initializers.TruncatedNormal(stddev=settings["init_stddev"], seed=next(seeds))

    bias = keras.initializers.Constant(settings["bias_init"])

    def keras_layer(layer):
        options, name = layer.options, layer.name
        activation = {"relu": "relu", "none": None}.get(options.get("activation"))
        if layer.kind == "conv":
            return layers.Conv2D(
                options["filters"],
                options["kernel"],
                strides=options["strides"],
                padding=options["padding"],
                dilation_rate=options["dilation"],
                activation=activation,
                kernel_initializer=weights(),
                bias_initializer=bias,
                name=name,
                # float32 under mixed precision too: with one input channel, the first
                # convolution's sums are too shallow for bfloat16 matrix units, and its weight
                # gradient took 2.5x longer in bfloat16 than in float32 on an AMX Xeon
                # (docs/speed.md).
                **({"dtype": "float32"} if name == first_convolution else {}),
            )
        if layer.kind == "max_pool":
            if not portable and options["strides"] == options["window"]:
                return BlockMaxPooling2D(options["window"], padding=options["padding"], name=name)
            return layers.MaxPooling2D(
                options["window"], options["strides"], padding=options["padding"], name=name
            )
        if layer.kind == "avg_pool":
            return layers.AveragePooling2D(
                options["window"], options["strides"], padding=options["padding"], name=name
            )
        if layer.kind == "batch_norm":
            return layers.BatchNormalization(
                momentum=options["momentum"], epsilon=options["epsilon"], name=name
            )
        if layer.kind == "dropout":
            return layers.Dropout(options["rate"], seed=next(drop_seeds), name=name)
        if layer.kind == "flatten":
            return layers.Flatten(name=name)
        if layer.kind == "rescaling":
            return layers.Rescaling(options["scale"], options["offset"], name=name)
        if layer.kind == "relu":
            return layers.ReLU(name=name)
        if layer.kind == "global_avg_pool":
            return layers.GlobalAveragePooling2D(name=name)
        return layers.Dense(
            options["units"],
            activation=activation,
            kernel_initializer=weights(),
            bias_initializer=bias,
            name=name,
            # the logits stay float32 under mixed precision, so that the softmax loss is stable
            **({"dtype": "float32"} if layer is table.output else {}),
        )

    return keras.Sequential(
        [keras.Input(shape=table.input_shape, name="image"), *map(keras_layer, table)],
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
