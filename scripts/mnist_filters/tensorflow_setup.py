"""TensorFlow's process-wide settings, made once before any TensorFlow work in a stage."""

from __future__ import annotations

import contextlib
import os
import sys

# TensorFlow's oneDNN operations: convolution, matrix-product and pooling primitives
# generated for the CPU at run time, with bias and ReLU fused in. TensorFlow turns them on
# by itself only on CPUs with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX; elsewhere its
# Conv2D and MatMul are Eigen's, calling oneDNN's GEMM in small tiles. On a 2-core AVX2
# EPYC they made the `onednn` path 5 % to 10 % faster (docs/speed.md). Set here for
# every machine alike, so that a path's kernels do not depend on TensorFlow's guess.
ONEDNN_OPERATIONS = {"TF_ENABLE_ONEDNN_OPTS": "1"}


@contextlib.contextmanager
def unimportable(module: str):
    """`import module` raises ImportError meanwhile (a None entry in sys.modules), unless it
    is already imported; afterwards it imports as usual."""
    if module in sys.modules:
        yield
        return
    sys.modules[module] = None
    try:
        yield
    finally:
        if module in sys.modules and sys.modules[module] is None:
            del sys.modules[module]


def configure_tensorflow(threads: int, precision: str) -> None:
    """oneDNN's operations, deterministic ops, a fixed thread count and the precision policy.

    Call it before anything imports TensorFlow: the oneDNN switch is read at import.
    """
    if "tensorflow" not in sys.modules:
        os.environ.update(ONEDNN_OPERATIONS)
    # Keras imports matplotlib.pyplot, where installed, for a plotting helper no TensorFlow
    # stage calls: about 1 s of each such job's start (docs/speed.md).
    with unimportable("matplotlib"):
        import keras
        import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
    except RuntimeError:  # TensorFlow already started in this process (tests): keep its pools
        pass
    tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy(precision)
