"""Small learnable stand-ins for MNIST: digit glyphs drawn with random shifts and noise.

For tests and benchmarks on machines without MNIST. Each image is a font-rendered digit
moved by up to `max_shift` pixels, with random stroke intensity and a little noise, so a
CNN can learn it (noise alone could not be learnt, and would test nothing).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from mnist_filters.dataset import FILES
from mnist_filters.idx import write_idx


@functools.lru_cache(maxsize=4)
def digit_glyphs(size: int = 28) -> np.ndarray:
    """(10, size, size) float32 in [0, 1]: the digits 0-9 drawn white on black."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scale = 4  # draw large, then average down: anti-aliased strokes like MNIST's
    glyphs = []
    for digit in range(10):
        figure = Figure(figsize=(1, 1), dpi=size * scale, facecolor="black")
        figure.text(
            0.5,
            0.5,
            str(digit),
            color="white",
            fontsize=size * 0.62 * 72 / size,
            ha="center",
            va="center",
            fontweight="bold",
        )
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba())[..., 0].astype(np.float32) / 255.0
        glyphs.append(pixels.reshape(size, scale, size, scale).mean(axis=(1, 3)))
    return np.stack(glyphs)


def make_digits(
    count: int, seed: int, size: int = 28, max_shift: int = 3, noise: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """`count` images (uint8, (count, size, size)) and their labels (uint8); `noise`: the
    standard deviation of the Gaussian noise, on the [0, 1] scale."""
    rng = np.random.default_rng(seed)
    glyphs = digit_glyphs(size)
    labels = rng.integers(0, 10, count).astype(np.uint8)
    shifts = rng.integers(-max_shift, max_shift + 1, size=(count, 2))
    intensity = rng.uniform(0.6, 1.0, size=(count, 1, 1)).astype(np.float32)
    images = np.empty((count, size, size), np.float32)
    for i in range(count):
        images[i] = np.roll(glyphs[labels[i]], tuple(shifts[i]), axis=(0, 1))
    images = images * intensity + rng.normal(0, noise, images.shape).astype(np.float32)
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8), labels


def write_digits(
    paths: dict[str, str | Path], train_count: int, test_count: int, seed: int = 0, **looks
) -> None:
    """The four IDX files (paths by FILES's keys) of `train_count` training and `test_count`
    test images of generated digits (`looks`: make_digits's max_shift and noise), the same
    bytes for the same arguments."""
    train_images, train_labels = make_digits(train_count, seed, **looks)
    test_images, test_labels = make_digits(test_count, seed + 1, **looks)
    for key, array in {
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
    }.items():
        write_idx(paths[key], array)


def write_mnist_folder(
    folder: str | Path, train_count: int, test_count: int, seed: int = 0
) -> Path:
    """A folder with the four MNIST-named IDX files holding synthetic digits."""
    folder = Path(folder)
    write_digits({key: folder / name for key, name in FILES.items()}, train_count, test_count, seed)
    return folder
