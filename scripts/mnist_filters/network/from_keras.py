"""A model trained elsewhere (a run's `model.file`): read, checked against the data, and
rewritten as the run's model.keras in the workflow's own layers, so that every analysis reads
it as it reads a trained run's.

What it reads: a Sequential model, or a functional one whose layers form one chain, of the
layers table.KERAS_KINDS lists (Keras's default names included), ending in a Dense layer whose
activation may be a softmax, or in a Softmax layer. What it writes differs from the file in
three ways, each exact:
- the softmax is left out, so the output is the logits, which every analysis reads;
- the output layer is named `logits` (table.OUTPUT), as a declared network's is;
- a Normalization layer becomes the Rescaling it amounts to, and a model that takes pixel
  values 0-255 (model.input_range) gets them from the 0-1 images every stage feeds it, by
  a Rescaling of 255 at its input (folded into its own first Rescaling where it has one).
A layer without a bias (use_bias false) gets a bias of zeros, a batch normalisation without
its scale or centre a gamma of ones or a beta of zeros: the same function.

`planned_table` reads only the archive's config.json (no TensorFlow), for the checks made
before any job; `import_model` loads the file in safe mode for the stage.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mnist_filters.errors import ConfigError
from mnist_filters.network.table import (
    FILE_NAMES,
    OUTPUT,
    SOFTMAX,
    LayerError,
    LayerTable,
    normalisation,
)

INPUT_RANGES = ("auto", "unit", "bytes")
# The layer given the Rescaling of 255 where the model has no Rescaling of its own.
PIXELS = "pixels"
# The first layers that say a model takes 0-255 pixels: they scale them itself.
_INPUT_SCALERS = ("Rescaling", "Normalization")


def model_config(path: str | Path) -> dict:
    """The Keras config a .keras file's config.json holds ({class_name, config, ...});
    ConfigError for a file that is not one."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"model.file {path}: not found")
    if not zipfile.is_zipfile(path):
        raise ConfigError(
            f"model.file {path}: not a .keras file (a .keras file is a zip archive; a legacy "
            "HDF5 .h5 model must be saved again with model.save('model.keras'))"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ConfigError(f"model.file {path}: not a .keras file ({error})") from None
    if config.get("class_name") not in ("Sequential", "Functional"):
        raise ConfigError(
            f"model.file {path}: a {config.get('class_name')}; the workflow reads Sequential "
            "and functional models (a subclassed model has no config of its layers)"
        )
    return config


def takes_bytes(config: dict, input_range: str) -> bool:
    """Whether the model takes pixel values 0-255: model.input_range, or for `auto`, whether
    its first layer after the input scales them (a Rescaling or Normalization)."""
    if input_range != "auto":
        return input_range == "bytes"
    layers = [e for e in config["config"]["layers"] if e["class_name"] != "InputLayer"]
    return bool(layers) and layers[0]["class_name"] in _INPUT_SCALERS


def _rows(
    table: LayerTable, config: dict, input_range: str, scalings: dict | None = None
) -> list[dict]:
    """The table's layers as rows: `scalings` (layer -> {scale, offset}: a Normalization's, read
    from its weights) applied, the output renamed, and the Rescaling of 255 of a model that
    takes bytes (x * 255 * scale + offset, for x = X / 255)."""
    rows = [{"name": layer.name, "kind": layer.kind, **_row_options(layer)} for layer in table]
    for row in rows:
        row.update((scalings or {}).get(row["name"], {}))
    clash = [r["name"] for r in rows[:-1] if r["name"] in (OUTPUT, PIXELS, *FILE_NAMES)]
    if clash:
        raise LayerError(
            f"layer {clash[0]}: the name of a layer or dataset the workflow adds ({OUTPUT}, "
            f"{PIXELS}, {', '.join(FILE_NAMES)}); rename it in the model"
        )
    rows[-1]["name"] = OUTPUT
    if takes_bytes(config, input_range):
        if rows[0]["kind"] == "rescaling":
            scale = rows[0]["scale"]
            rows[0]["scale"] = (
                [v * 255.0 for v in scale] if isinstance(scale, list) else scale * 255.0
            )
        else:
            rows.insert(0, {"name": PIXELS, "kind": "rescaling", "scale": 255.0, "offset": 0.0})
    return rows


def _row_options(layer) -> dict:
    """A table layer's options in the declared form (_options reads back)."""
    options = dict(layer.options)
    for key, keras_key in (("kernel", "kernel_size"), ("window", "pool_size")):
        if key in options:
            options[keras_key] = list(options.pop(key))
    for key in ("strides", "dilation"):
        if key in options:
            options[key] = list(options[key])
    return options


def planned_table(path: str | Path, input_range: str = "auto") -> LayerTable:
    """The layer table the run's model.keras will have, from the file's config.json alone;
    ConfigError naming the file and the first problem."""
    config = model_config(path)
    try:
        table = LayerTable.from_keras(config["config"])
        return LayerTable.chain(_rows(table, config, input_range), table.input_shape, imported=True)
    except LayerError as error:
        raise ConfigError(f"model.file {path}: {error}") from None


def check_fits(table: LayerTable, path, image_shape: tuple[int, ...], units: int) -> None:
    """ConfigError unless the model takes the data's images and has one output per class."""
    wanted = (*image_shape, 1) if len(image_shape) == 2 else tuple(image_shape)
    if tuple(table.input_shape) != wanted:
        raise ConfigError(
            f"model.file {path}: the model takes {'x'.join(map(str, table.input_shape))} "
            f"images (rows x cols x channels), but the data's are {'x'.join(map(str, wanted))}"
        )
    if table.output.units != units:
        raise ConfigError(
            f"model.file {path}: the model has {table.output.units} outputs, but the run has "
            f"{units} classes"
        )


def _weights(kind: str, source) -> list[np.ndarray] | None:
    """The arrays of the converted layer `kind`, from the Keras layer `source`."""
    if kind in ("conv", "dense"):
        kernel = np.asarray(source.kernel)
        bias = np.asarray(source.bias) if source.use_bias else np.zeros(kernel.shape[-1])
        return [kernel, bias.astype(kernel.dtype)]
    if kind == "batch_norm":
        channels = np.asarray(source.moving_mean).shape
        gamma = np.asarray(source.gamma) if source.scale else np.ones(channels, np.float32)
        beta = np.asarray(source.beta) if source.center else np.zeros(channels, np.float32)
        return [gamma, beta, np.asarray(source.moving_mean), np.asarray(source.moving_variance)]
    return None


@dataclass(frozen=True)
class Imported:
    """A model file read: the file's Keras model, the converted one and its layer table, and
    what the conversion left out (takes_bytes: the Rescaling of 255 added; softmax)."""

    source: Any
    model: Any
    table: LayerTable
    takes_bytes: bool
    softmax: bool


def ends_in_softmax(config: dict) -> bool:
    """Whether a model's last layer applies a softmax (its activation, or a layer of its own)."""
    last = config["config"]["layers"][-1]
    return last["class_name"] == "Softmax" or last["config"].get("activation") == SOFTMAX


def import_model(path: str | Path, input_range: str = "auto") -> Imported:
    """`path` loaded in safe mode, its layers rebuilt with their weights, its softmax left
    out. ConfigError naming the file for a file Keras cannot load or a layer the workflow does
    not read."""
    import keras

    from mnist_filters.network.build import model_of_table

    config = model_config(path)
    try:
        source = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many kinds; the message says which
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(f"model.file {path}: Keras cannot load it ({first})") from None
    try:
        table = LayerTable.from_keras(source.get_config())
        scalings = {
            layer.name: _normalisation(source.get_layer(layer.name))
            for layer in table
            if layer.kind == "rescaling"
            and type(source.get_layer(layer.name)).__name__ == "Normalization"
        }
        rows = _rows(table, config, input_range, scalings)
        converted_table = LayerTable.chain(rows, table.input_shape, imported=True)
    except LayerError as error:
        raise ConfigError(f"model.file {path}: {error}") from None
    converted = model_of_table(converted_table, {"init_stddev": 0.05, "bias_init": 0.0}, 0, True)
    # the converted layers, but the Rescaling of 255, are the file's, in order
    kept = converted_table.layers[len(converted_table.layers) - len(table.layers) :]
    for layer, original in zip(kept, table, strict=True):
        arrays = _weights(layer.kind, source.get_layer(original.name))
        if arrays is not None:
            converted.get_layer(layer.name).set_weights(arrays)
    return Imported(
        source,
        converted,
        converted_table,
        takes_bytes(config, input_range),
        ends_in_softmax(config),
    )


def _normalisation(layer) -> dict:
    """A Normalization layer's (x - mean) / sqrt(variance), per channel, as x * scale + offset."""
    if layer.invert:
        raise LayerError(f"layer {layer.name} inverts a normalisation; the workflow reads none")
    return normalisation(
        np.asarray(layer.mean, np.float64).ravel().tolist(),
        np.asarray(layer.variance, np.float64).ravel().tolist(),
    )
