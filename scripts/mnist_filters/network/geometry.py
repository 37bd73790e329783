"""Where a unit of a layer looks in the input image: receptive-field geometry.

Composing the windowed layers (convolutions and poolings: window k, stride s, dilation d,
padding) from the input up gives, per axis:
- size: input pixels one unit sees;
- jump: input pixels between neighbouring units (the effective stride);
- start: input coordinate of the first pixel seen by unit 0 (negative under SAME
  padding, where part of the field lies in the padding).
Unit i then sees input pixels [start + i * jump, start + i * jump + size), which we clip
to the image. A dilated window spans d * (k - 1) + 1 units. Padding follows TensorFlow:
SAME pads (out - 1) * s + span - in in total, the smaller half before. A layer that looks at
one position only (batch normalisation, dropout, a ReLU) keeps its input's geometry.
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
    padding: str  # the layer's own padding ("valid" for a layer without a window)

    def box(self, row: int, col: int, image_shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """(y0, x0, y1, x1), end-exclusive and clipped to the image, of unit (row, col)."""
        y0 = self.rows.start + row * self.rows.jump
        x0 = self.cols.start + col * self.cols.jump
        height, width = image_shape[:2]
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


def span(kernel: int, dilation: int = 1) -> int:
    """Input units one window covers."""
    return dilation * (kernel - 1) + 1


def output_length(length: int, kernel: int, stride: int, padding: str, dilation: int = 1) -> int:
    if padding == "same":
        return math.ceil(length / stride)
    return (length - span(kernel, dilation)) // stride + 1


def compose(axis: Axis, kernel: int, stride: int, padding: str, dilation: int = 1) -> Axis:
    """`axis` after a window of `kernel` units (dilated by `dilation`) moved by `stride`.
    A window wider than its input under VALID padding is a ValueError."""
    width = span(kernel, dilation)
    out = output_length(axis.length, kernel, stride, padding, dilation)
    if out < 1:
        dilated = f" (dilated to {width})" if dilation > 1 else ""
        raise ValueError(f"a {kernel}-wide{dilated} {padding} window does not fit {axis.length}")
    before = max((out - 1) * stride + width - axis.length, 0) // 2 if padding == "same" else 0
    return Axis(
        size=axis.size + (width - 1) * axis.jump,
        jump=axis.jump * stride,
        start=axis.start - before * axis.jump,
        length=out,
    )


def input_geometry(image_shape: tuple[int, ...]) -> Geometry:
    """The input's own geometry: each pixel sees itself."""
    return Geometry(Axis(1, 1, 0, image_shape[0]), Axis(1, 1, 0, image_shape[1]), "valid")


def windowed(
    geometry: Geometry,
    kernel: tuple[int, int],
    strides: tuple[int, int],
    padding: str,
    dilation: tuple[int, int] = (1, 1),
) -> Geometry:
    """`geometry` after a window layer (a convolution or a pooling)."""
    return Geometry(
        compose(geometry.rows, kernel[0], strides[0], padding, dilation[0]),
        compose(geometry.cols, kernel[1], strides[1], padding, dilation[1]),
        padding,
    )
