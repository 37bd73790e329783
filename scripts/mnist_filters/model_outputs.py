"""A trained model's outputs for analysis: chosen layers' activations beside the logits.
Shared by the stages that probe a model with altered images or weights (occlusion,
invariance, features through training)."""

from __future__ import annotations

import numpy as np


class Probe:
    """`model`'s activations of `layers` and its logits for batches of model inputs."""

    def __init__(self, model, layers: list[str]):
        import keras
        import tensorflow as tf

        self.layers = list(layers)
        probe = keras.Model(model.inputs[0], [model.get_layer(name).output for name in layers] + [model.outputs[0]])
        self._forward = tf.function(lambda x: probe(x, training=False), reduce_retracing=True, autograph=False)

    def __call__(self, images: np.ndarray, batch_size: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(layer -> activations, logits) of (N, H, W, 1) float32 inputs, `batch_size` at a time."""
        import tensorflow as tf

        parts: list[list[np.ndarray]] = [[] for _ in range(len(self.layers) + 1)]
        for start in range(0, len(images), batch_size):
            outputs = self._forward(tf.constant(images[start : start + batch_size]))
            for part, values in zip(parts, outputs):
                part.append(np.asarray(values, dtype=np.float32))
        joined = [np.concatenate(part) for part in parts]
        return dict(zip(self.layers, joined[:-1])), joined[-1]
