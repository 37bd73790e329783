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
    return inverse_matrices(transformation, [value], shape)[0]


def inverse_matrices(transformation: str, values, shape: tuple[int, int]) -> np.ndarray:
    """(n, 3, 3): inverse_matrix of each of `values`. One stacked product per step, where one
    product per image cost feature visualisation about 0.9 s of each layer's 256 steps; NumPy
    multiplies each 3x3 of a stack as it multiplies one alone, so the matrices are the same."""
    values = np.asarray(values, np.float64)
    matrices = np.zeros((len(values), 3, 3))
    matrices[:, 0, 0] = matrices[:, 1, 1] = matrices[:, 2, 2] = 1.0
    if transformation == "vertical_shift":
        matrices[:, 1, 2] = -values
        return matrices
    if transformation == "horizontal_shift":
        matrices[:, 0, 2] = -values
        return matrices
    cy, cx = (shape[0] - 1) / 2, (shape[1] - 1) / 2
    to_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], np.float64)
    back = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]], np.float64)
    if transformation == "rotation":
        # anticlockwise as seen (rows grow downwards): the pixel above the centre is read from the
        # right
        angles = [math.radians(value) for value in values]
        cosines = [math.cos(t) for t in angles]
        sines = [math.sin(t) for t in angles]
        matrices[:, 0, 0] = matrices[:, 1, 1] = cosines
        matrices[:, 0, 1] = np.negative(sines)
        matrices[:, 1, 0] = sines
    elif transformation == "scale":
        matrices[:, 0, 0] = matrices[:, 1, 1] = 1 / values
    else:
        raise ValueError(
            f"unknown transformation {transformation!r}; choose from {', '.join(TRANSFORMATIONS)}"
        )
    return back @ matrices @ to_centre


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
    transform, which a test holds this equal to), with its exact adjoint as the gradient.
    TensorFlow's registered gradient of that op instead warps the gradient back by the inverse
    transform, which bilinear sampling's adjoint is not."""
    import tensorflow as tf

    count, height, width, channels = images.shape
    dtype = images.dtype
    rows, columns = tf.meshgrid(
        tf.range(height, dtype=dtype), tf.range(width, dtype=dtype), indexing="ij"
    )
    a0, a1, a2, b0, b1, b2, c0, c1 = (transforms[:, i, None, None] for i in range(8))
    denominator = c0 * columns + c1 * rows + 1.0
    x = (a0 * columns + a1 * rows + a2) / denominator  # the input column each pixel reads
    y = (b0 * columns + b1 * rows + b2) / denominator
    # one pixel of `fill` around the image; every read further out lands on it
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=fill)
    x0, y0 = tf.floor(x), tf.floor(y)
    weight_x, weight_y = (x - x0)[..., None], (y - y0)[..., None]  # each channel alike
    pixels = count * (height + 2) * (width + 2)
    first = tf.range(count)[:, None, None] * ((height + 2) * (width + 2))

    def position(row, column):  # in the padded images' pixels, flattened
        row = tf.cast(tf.clip_by_value(row + 1, 0, height + 1), tf.int32)
        column = tf.cast(tf.clip_by_value(column + 1, 0, width + 1), tf.int32)
        return first + row * (width + 2) + column

    positions = [
        position(y0, x0),
        position(y0, x0 + 1),
        position(y0 + 1, x0),
        position(y0 + 1, x0 + 1),
    ]

    @tf.custom_gradient
    def corners(padded):
        flat = tf.reshape(padded, [pixels, channels])

        def adjoint(*gradients):
            # each corner's gradient summed into the pixels it read, in the order of its reads,
            # then the four added: the sums gather_nd's own gradient makes (bitwise, so that
            # features.h5 stayed the same bytes), at a third of its cost (docs/speed.md)
            dense = [
                tf.math.unsorted_segment_sum(gradient, where, pixels)
                for gradient, where in zip(gradients, positions)
            ]
            return tf.reshape(((dense[0] + dense[1]) + dense[2]) + dense[3], tf.shape(padded))

        return [tf.gather(flat, where) for where in positions], adjoint

    top_left, top_right, bottom_left, bottom_right = corners(padded)
    top = top_left * (1 - weight_x) + top_right * weight_x
    bottom = bottom_left * (1 - weight_x) + bottom_right * weight_x
    return top * (1 - weight_y) + bottom * weight_y


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
    matrices = (
        inverse_matrices("scale", factors, shape)
        @ inverse_matrices("rotation", angles, shape)
        @ inverse_matrices("vertical_shift", shifts[:, 0], shape)
        @ inverse_matrices("horizontal_shift", shifts[:, 1], shape)
    )
    return matrices.reshape(count, 9)[:, :8].astype(dtype)


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalised 1-D Gaussian of `sigma` pixels, 3 sigma either side."""
    radius = max(1, math.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    return kernel / kernel.sum()
