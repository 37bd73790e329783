"""The optimisers a run can choose (`training.optimizer`), built from its training settings."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


class FusedAdam(keras.optimizers.Adam):
    """Keras's Adam, each variable updated by TensorFlow's one fused kernel, ResourceApplyAdam.

    That kernel is what TF1's AdamOptimizer (the notebook's) runs, and it computes Keras's
    update exactly: m += (g - m)(1 - beta_1); v += (g^2 - v)(1 - beta_2);
    var -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) m / (sqrt(v) + epsilon), with t the step
    about to be taken. It reads and writes the four arrays once, where Keras's own update
    runs about ten kernels per variable; that cost TensorFlow's kernels (`onednn`) 7.8 ms
    of a 35 ms step on a 2-core AVX2 machine. The variables are Keras's own (iterations,
    momentums, velocities), so checkpoints hold the same state as with keras.optimizers.Adam.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.amsgrad:
            raise ValueError("FusedAdam has no AMSGrad variant (ResourceApplyAdam has none)")

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        step = ops.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=ops.power(ops.cast(self.beta_1, dtype), step),
            beta2_power=ops.power(ops.cast(self.beta_2, dtype), step),
            lr=ops.cast(learning_rate, dtype),
            beta1=ops.cast(self.beta_1, dtype),
            beta2=ops.cast(self.beta_2, dtype),
            epsilon=ops.cast(self.epsilon, dtype),
            grad=ops.cast(gradient, dtype),
            use_locking=False,
        )


OPTIMIZERS = {
    # TF1's AdamOptimizer, which the notebook used, has epsilon 1e-8 (Keras defaults to 1e-7).
    "adam": lambda s: FusedAdam(s["learning_rate"], epsilon=s["adam_epsilon"]),
    "sgd": lambda s: keras.optimizers.SGD(s["learning_rate"]),
    "rmsprop": lambda s: keras.optimizers.RMSprop(s["learning_rate"]),
}


def make_optimizer(settings: dict) -> keras.optimizers.Optimizer:
    try:
        return OPTIMIZERS[settings["optimizer"]](settings)
    except KeyError:
        raise ValueError(
            f"unknown optimizer {settings['optimizer']!r}; choose one of {', '.join(OPTIMIZERS)}"
        ) from None
