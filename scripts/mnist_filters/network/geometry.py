"""Where a unit of a layer looks in the input image: receptive-field geometry.

Composing the layers up to a given one (kernel k, stride s, padding) gives, per axis:
- size: input pixels one unit sees;
- jump: input pixels between neighbouring units (the effective stride);
- start: input coordinate of the first pixel seen by unit 0 (negative under SAME
  padding, where part of the field lies in the padding).
Unit i then sees input pixels [start + i * jump, start + i * jump + size), which we clip
to the image. Padding follows TensorFlow: SAME pads (out - 1) * s + k - in in total, the
smaller half before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Axis:
    size: int  # receptive-field size
    jump: int  # effective stride
    start: int  # first input pixel of unit 0
    length: int  # number of units along this axis


@dataclass(frozen=True)
class Geometry:
    rows: Axis
    cols: Axis
    padding: str  # the layer's own padding

    def box(self, row: int, col: int, image_shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """(y0, x0, y1, x1), end-exclusive and clipped to the image, of unit (row, col)."""
        y0 = self.rows.start + row * self.rows.jump
        x0 = self.cols.start + col * self.cols.jump
        height, width = image_shape
        return (
            max(y0, 0),
            max(x0, 0),
            min(y0 + self.rows.size, height),
            min(x0 + self.cols.size, width),
        )

    def attributes(self) -> dict:
        """Flat HDF5-friendly attributes."""
        return {
            "receptive_field_size": [self.rows.size, self.cols.size],
            "jump": [self.rows.jump, self.cols.jump],
            "start": [self.rows.start, self.cols.start],
            "padding": self.padding,
            "output_shape": [self.rows.length, self.cols.length],
        }


def output_length(length: int, kernel: int, stride: int, padding: str) -> int:
    if padding == "same":
        return math.ceil(length / stride)
    return (length - kernel) // stride + 1


def compose(axis: Axis, kernel: int, stride: int, padding: str) -> Axis:
    out = output_length(axis.length, kernel, stride, padding)
    if out < 1:
        raise ValueError(f"a {kernel}-wide {padding} window does not fit {axis.length} units")
    before = max((out - 1) * stride + kernel - axis.length, 0) // 2 if padding == "same" else 0
    return Axis(
        size=axis.size + (kernel - 1) * axis.jump,
        jump=axis.jump * stride,
        start=axis.start - before * axis.jump,
        length=out,
    )


# The setting that sizes each spatial layer's window.
WINDOW_SETTINGS = {"conv1": "kernel_size", "conv2": "kernel_size", "pool2": "pool_size"}


def layer_windows(model_settings: dict) -> dict[str, tuple[int, int, str]]:
    """The spatial layers of the notebook's model, in order: name -> (kernel, stride, padding)."""
    conv1, conv2, pool2 = model_settings["conv1"], model_settings["conv2"], model_settings["pool2"]
    return {
        "conv1": (conv1["kernel_size"], conv1["strides"], conv1["padding"]),
        "conv2": (conv2["kernel_size"], conv2["strides"], conv2["padding"]),
        "pool2": (pool2["pool_size"], pool2["pool_size"], pool2["padding"]),
    }


def geometries(model_settings: dict, image_shape: tuple[int, int]) -> dict[str, Geometry]:
    """Each spatial layer's geometry, composed from the input up. A window larger than its
    layer's input is a ValueError naming the setting (model.<layer>.<kernel_size|pool_size>)."""
    rows, cols = Axis(1, 1, 0, image_shape[0]), Axis(1, 1, 0, image_shape[1])
    source = f"the {rows.length}x{cols.length} images"
    result = {}
    for name, (kernel, stride, padding) in layer_windows(model_settings).items():
        try:
            rows = compose(rows, kernel, stride, padding)
            cols = compose(cols, kernel, stride, padding)
        except ValueError as error:
            raise ValueError(
                f"model.{name}.{WINDOW_SETTINGS[name]}: {kernel} does not fit {source} ({error})"
            ) from None
        result[name] = Geometry(rows, cols, padding)
        source = f"{name}'s {rows.length}x{cols.length} output"
    return result


def filters_of(model_settings: dict, layer: str) -> int:
    """Channels of a spatial layer (pooling keeps conv2's)."""
    return model_settings["conv1" if layer == "conv1" else "conv2"]["filters"]
