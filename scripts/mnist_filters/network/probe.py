"""A model's forward pass in batches: chosen layers' activations beside the logits.

The one forward pass of the workflow: training's validation and test evaluation, the
activation dump, and the stages that probe a model with altered images or weights
(occlusion, invariance, features through training) all run it.
"""

from __future__ import annotations

import numpy as np


class Probe:
    """`model`'s activations of `layers` and its logits, for batches of (N, H, W, 1) float32
    inputs. `jit_compile`: XLA-compile the pass (training's `xla` kernel path)."""

    def __init__(self, model, layers: list[str], *, jit_compile: bool = False):
        import keras
        import tensorflow as tf

        self.layers = list(layers)
        probe = keras.Model(
            model.inputs[0], [model.get_layer(name).output for name in layers] + [model.outputs[0]]
        )
        # (H, W, C) of each layer's activations, then (classes,) of the logits
        self.output_shapes = [tuple(int(d) for d in tensor.shape[1:]) for tensor in probe.outputs]
        self._forward = tf.function(
            lambda x: probe(x, training=False),
            jit_compile=jit_compile,
            reduce_retracing=True,
            autograph=False,
        )

    def batch(self, images: np.ndarray) -> list[np.ndarray]:
        """Each layer's activations, then the logits, of one batch, as float32 arrays."""
        import tensorflow as tf

        outputs = self._forward(tf.constant(images))
        # a model of one output (the logits alone) returns it bare, not in a list
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [np.asarray(values, dtype=np.float32) for values in outputs]

    def __call__(
        self, images: np.ndarray, batch_size: int
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(layer -> activations, logits) of `images`, `batch_size` at a time."""
        parts: list[list[np.ndarray]] = [[] for _ in range(len(self.layers) + 1)]
        for start in range(0, len(images), batch_size):
            for part, values in zip(parts, self.batch(images[start : start + batch_size])):
                part.append(values)
        joined = [np.concatenate(part) for part in parts]
        return dict(zip(self.layers, joined[:-1])), joined[-1]

    def logits(self, images: np.ndarray, batch_size: int) -> np.ndarray:
        return self(images, batch_size)[1]
