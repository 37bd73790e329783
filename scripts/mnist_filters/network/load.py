"""A trained run's model.keras: loaded in safe mode with clear errors, and its layer table read
from its own config. Shared by the TensorFlow stages that read a trained model (the dump,
the projections), so that an edit to one of them reruns only that one (code digests)."""

from __future__ import annotations

import zipfile

from mnist_filters.network.table import LayerError, LayerTable


def table_of(model) -> LayerTable:
    """The layer table of a loaded Keras model, from its own config."""
    return LayerTable.from_keras(model.get_config())


def input_size(model) -> tuple[int, int]:
    """(H, W) of the images a loaded model takes."""
    return tuple(int(d) for d in model.inputs[0].shape[1:3])


def load_trained_model(path: str):
    """Load a model.keras in safe mode (plain Keras layers only), with a clear error for anything
    else; its layer table must be readable (network/table.py)."""
    import keras

    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a Keras model archive (truncated, or not a .keras file)")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:
        raise ValueError(
            f"{path}: cannot be loaded as a Keras model ({type(error).__name__}: {error})"
        ) from None
    try:
        table_of(model)
    except (LayerError, KeyError) as error:
        raise ValueError(f"{path}: not a network the workflow reads ({error})") from None
    return model
