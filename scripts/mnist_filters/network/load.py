"""A trained run's model.keras: loaded in safe mode with clear errors, and its geometry read
from its own layers. Shared by the TensorFlow stages that read a trained model (the dump,
the projections), so that an edit to one of them reruns only that one (code digests)."""

from __future__ import annotations

import zipfile

import numpy as np

SPATIAL_LAYERS = ("conv1", "conv2", "pool2")


def model_settings_of(model) -> dict:
    """The geometry settings of a loaded model, read from its own layers."""

    def conv(name):
        cfg = model.get_layer(name).get_config()
        return {
            "kernel_size": cfg["kernel_size"][0],
            "strides": cfg["strides"][0],
            "padding": cfg["padding"],
            "filters": cfg["filters"],
        }

    pool = model.get_layer("pool2").get_config()
    return {
        "conv1": conv("conv1"),
        "conv2": conv("conv2"),
        "pool2": {"pool_size": int(np.ravel(pool["pool_size"])[0]), "padding": pool["padding"]},
    }


def load_trained_model(path: str):
    """Load a model.keras in safe mode (plain Keras layers only), with a clear error for anything
    else."""
    import keras

    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a Keras model archive (truncated, or not a .keras file)")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:
        raise ValueError(
            f"{path}: cannot be loaded as a Keras model ({type(error).__name__}: {error})"
        ) from None
    missing = [
        name for name in SPATIAL_LAYERS if name not in {layer.name for layer in model.layers}
    ]
    if missing:
        raise ValueError(
            f"{path}: not a model of this workflow (it has no layer {', '.join(missing)})"
        )
    return model
