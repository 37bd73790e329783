"""TensorFlow's process-wide settings, made once before any TensorFlow work in a stage."""

from __future__ import annotations


def configure_tensorflow(threads: int, precision: str) -> None:
    """Deterministic ops, a fixed thread count and the precision policy."""
    import keras
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    except RuntimeError:  # TensorFlow already started in this process (tests): keep its pools
        pass
    tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(precision)
