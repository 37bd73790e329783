"""A trained run's model.keras: written with the same bytes for the same model, loaded in safe
mode with clear errors, and its layer table read from its own config. Shared by the
TensorFlow stages that read a trained model (the dump, the projections), so that an edit to
one of them reruns only that one (code digests)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from mnist_filters.network.table import LayerError, LayerTable

KERAS_METADATA = "metadata.json"
KERAS_CONFIG = "config.json"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip member can have


def table_of(model) -> LayerTable:
    """The layer table of a loaded Keras model, from its own config."""
    return LayerTable.from_keras(model.get_config())


def image_shape_of(model) -> tuple[int, ...]:
    """The shape of the images a loaded model takes, as the data's files hold them: (H, W)
    greyscale, (H, W, C) colour."""
    height, width, channels = (int(d) for d in model.inputs[0].shape[1:])
    return (height, width) if channels == 1 else (height, width, channels)


def save_model(model, path: str | Path) -> None:
    """`model` as a .keras file (`path` must end so) that plain Keras opens, the same bytes
    for the same model, so that the files and every sha256 recorded of them compare across
    runs, data formats and machines. Keras's own archive, but for what it stamps each save
    with: its time (left out of metadata.json and the members' dates: each run's
    provenance.json says when it ran) and the memory addresses it numbers shared objects by
    in config.json (numbered in order of appearance instead, which keeps what they share)."""
    model.save(path)
    saved = io.BytesIO(Path(path).read_bytes())
    with zipfile.ZipFile(saved) as archive, zipfile.ZipFile(path, "w") as written:
        for member in archive.infolist():
            content = archive.read(member)
            if member.filename == KERAS_METADATA:
                metadata = json.loads(content)
                metadata.pop("date_saved", None)
                content = json.dumps(metadata).encode()
            elif member.filename == KERAS_CONFIG:
                content = json.dumps(_numbered_shared_objects(json.loads(content))).encode()
            member.date_time = ZIP_EPOCH
            written.writestr(member, content)


def _numbered_shared_objects(config, numbers: dict | None = None):
    """`config` with each shared_object_id replaced by its order of first appearance."""
    numbers = {} if numbers is None else numbers
    if isinstance(config, dict):
        return {
            key: numbers.setdefault(value, len(numbers) + 1)
            if key == "shared_object_id"
            else _numbered_shared_objects(value, numbers)
            for key, value in config.items()
        }
    if isinstance(config, list):
        return [_numbered_shared_objects(value, numbers) for value in config]
    return config


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
