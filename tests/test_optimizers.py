"""The fused Adam update is the notebook's Adam: TF1's formula, Keras's state."""

# keras and tensorflow are pinned in requirements.txt: a failed import is a broken install,
# so a failure, not a skip
import keras
import numpy as np
import pytest
import tensorflow as tf

from mnist_filters.optimizers import FusedAdam, make_optimizer

SETTINGS = {"optimizer": "adam", "learning_rate": 1e-2, "adam_epsilon": 1e-8}


def gradients(steps, shape, seed=0):
    return np.random.default_rng(seed).normal(size=(steps, *shape)).astype(np.float32)


def reference_adam(start, grads, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    """tf.compat.v1.train.AdamOptimizer's update, written out in float64."""
    var, m, v = start.astype(np.float64), 0.0, 0.0
    for t, g in enumerate(grads.astype(np.float64), start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        var = var - lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (np.sqrt(v) + epsilon)
    return var


def applied(optimizer, start, grads, compiled):
    variable = keras.Variable(start)
    step = tf.function(lambda g: optimizer.apply([g], [variable]), jit_compile=compiled or None)
    for g in grads:
        step(tf.constant(g)) if compiled is not None else optimizer.apply(
            [tf.constant(g)], [variable]
        )
    return variable.numpy()


@pytest.mark.parametrize("compiled", [None, False, True], ids=["eager", "graph", "xla"])
def test_fused_adam_is_tf1_adam(compiled):
    start = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    grads = gradients(30, start.shape)
    fused = applied(make_optimizer(SETTINGS), start, grads, compiled)
    np.testing.assert_allclose(fused, reference_adam(start, grads, 1e-2), rtol=0, atol=2e-6)
    keras_adam = applied(keras.optimizers.Adam(1e-2, epsilon=1e-8), start, grads, compiled)
    np.testing.assert_allclose(fused, keras_adam, rtol=0, atol=2e-6)


def test_fused_adam_keeps_keras_adams_state():
    """Same variables, same order: a checkpoint's optimiser arrays restore into either."""
    start = np.ones((2, 3), np.float32)
    fused, plain = FusedAdam(1e-2, epsilon=1e-8), keras.optimizers.Adam(1e-2, epsilon=1e-8)
    applied(fused, start, gradients(3, start.shape), None)
    applied(plain, start, gradients(3, start.shape), None)

    def layout(
        optimizer,
    ):  # each variable's kind (momentum, ...): its names' counters depend on earlier tests
        return [
            (v.path.rsplit("/", 1)[-1].rsplit("_", 1)[-1], tuple(v.shape))
            for v in optimizer.variables
        ]

    assert layout(fused) == layout(plain)
    assert int(fused.iterations.numpy()) == 3
    for a, b in zip(fused.variables, plain.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=1e-6)


def test_amsgrad_is_refused():
    with pytest.raises(ValueError, match="AMSGrad"):
        FusedAdam(1e-3, amsgrad=True)
