"""Geometric transforms of images, for the invariance stage and feature visualisation: the
inverse map of a shift, rotation or scale about the centre, a bilinear warp with an exact
gradient, random transforms for transformation robustness, a Gaussian blur's kernel, and the
1 / frequency scale of the Fourier parameterisation."""

from __future__ import annotations

import math

import numpy as np

# The transformations the invariance stage measures, in its order.
TRANSFORMATIONS = ("vertical_shift", "horizontal_shift", "rotation", "scale")


def inverse_matrix(transformation: str, value: float, shape: tuple[int, int]) -> np.ndarray:
    """3x3 map from output pixel (x, y, 1) to the input pixel it is read from."""
    if transformation == "vertical_shift":
        return np.array([[1, 0, 0], [0, 1, -value], [0, 0, 1]], np.float64)
    if transformation == "horizontal_shift":
        return np.array([[1, 0, -value], [0, 1, 0], [0, 0, 1]], np.float64)
    cy, cx = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    to_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], np.float64)
    back = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], np.float64)
    if transformation == "rotation":
        # anticlockwise as seen (rows grow downwards): the pixel above the centre is read from the
        # right
        t = math.radians(value)
        core = np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])
    elif transformation == "scale":
        core = np.diag([1 / value, 1 / value, 1.0])
    else:
        raise ValueError(
            f"unknown transformation {transformation!r}; choose from {', '.join(TRANSFORMATIONS)}"
        )
    return back @ core @ to_centre


def fourier_scale(shape: tuple[int, int]) -> np.ndarray:
    """(H, W // 2 + 1) weights of the spectrum: 1 / frequency, capped at the largest side, times
    sqrt(H * W) (Lucid's fft_image, decay power 1)."""
    height, width = shape
    frequencies = np.sqrt(
        np.fft.fftfreq(height)[:, None] ** 2 + np.fft.rfftfreq(width)[None, :] ** 2
    )
    return 1.0 / np.maximum(frequencies, 1.0 / max(height, width)) * math.sqrt(height * width)


def warp(images, transforms, fill: float):
    """(N, H, W, C) `images`, each read through its row of `transforms` as
    keras.ops.image.affine_transform reads it (bilinear, constant `fill`; the invariance stage's
    transform, which a test holds this equal to), written with gathers so that its gradient is
    the exact adjoint. TensorFlow's registered gradient of that op instead warps the gradient
    back by the inverse transform, which bilinear sampling's adjoint is not."""
    import tensorflow as tf

    count, height, width = images.shape[0], images.shape[1], images.shape[2]
    dtype = images.dtype
    rows, columns = tf.meshgrid(
        tf.range(height, dtype=dtype), tf.range(width, dtype=dtype), indexing="ij"
    )
    a0, a1, a2, b0, b1, b2, c0, c1 = (transforms[:, i, None, None] for i in range(8))
    denominator = c0 * columns + c1 * rows + 1.0
    x = (a0 * columns + a1 * rows + a2) / denominator  # the input column each pixel reads
    y = (b0 * columns + b1 * rows + b2) / denominator
    # one pixel of `fill` around the image; every read further out lands on it
    grey = images.shape[3] == 1
    if grey:
        padded = tf.pad(images[..., 0], [[0, 0], [1, 1], [1, 1]], constant_values=fill)
    else:
        padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=fill)
    x0, y0 = tf.floor(x), tf.floor(y)
    weight_x, weight_y = x - x0, y - y0
    if not grey:  # each colour channel weighted alike
        weight_x, weight_y = weight_x[..., None], weight_y[..., None]
    batch = tf.broadcast_to(tf.range(count)[:, None, None], (count, height, width))

    def read(row, column):
        row = tf.cast(tf.clip_by_value(row + 1, 0, height + 1), tf.int32)
        column = tf.cast(tf.clip_by_value(column + 1, 0, width + 1), tf.int32)
        return tf.gather_nd(padded, tf.stack([batch, row, column], axis=-1))

    top = read(y0, x0) * (1 - weight_x) + read(y0, x0 + 1) * weight_x
    bottom = read(y0 + 1, x0) * (1 - weight_x) + read(y0 + 1, x0 + 1) * weight_x
    warped = top * (1 - weight_y) + bottom * weight_y
    return warped[..., None] if grey else warped


def random_transforms(
    rng: np.random.Generator, count: int, shape: tuple[int, int], settings: dict, dtype: str
) -> np.ndarray | None:
    """(count, 8) affine rows (warp's) of a random whole-pixel shift of up to `jitter` each way,
    a rotation of up to `rotation` degrees and a scale by 1 +- `scale`, one per image; None when
    every one of the three settings is off."""
    jitter, rotation, scale = (settings[k] for k in ("jitter", "rotation", "scale"))
    if not (jitter or rotation or scale):
        return None
    shifts = rng.integers(-jitter, jitter + 1, size=(count, 2))
    angles = rng.uniform(-rotation, rotation, count)
    factors = rng.uniform(1 - scale, 1 + scale, count)
    rows = np.empty((count, 8), dtype)
    for i in range(count):
        matrix = (
            inverse_matrix("scale", factors[i], shape)
            @ inverse_matrix("rotation", angles[i], shape)
            @ inverse_matrix("vertical_shift", shifts[i, 0], shape)
            @ inverse_matrix("horizontal_shift", shifts[i, 1], shape)
        )
        rows[i] = np.concatenate([matrix[0], matrix[1], matrix[2, :2]])
    return rows


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalised 1-D Gaussian of `sigma` pixels, 3 sigma either side."""
    radius = max(1, math.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return kernel / kernel.sum()
