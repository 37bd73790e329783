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


# Colour images: a class is a shape in a colour, and two classes share each shape and each
# colour, so that neither colour nor shape alone tells them apart. (name, RGB, shape), in
# the names' sorted order, the order a folder of class folders gives them.
COLOUR_CLASSES = (
    ("blue disc", (0.2, 0.4, 0.95), "disc"),
    ("blue stripes", (0.2, 0.4, 0.95), "stripes"),
    ("red disc", (0.95, 0.25, 0.15), "disc"),
    ("red stripes", (0.95, 0.25, 0.15), "stripes"),
)


def make_colour_shapes(
    count: int, seed: int, shape: tuple[int, int] = (24, 20), noise: float = 0.04
) -> tuple[np.ndarray, np.ndarray]:
    """`count` colour images (uint8, (count, rows, cols, 3)) of COLOUR_CLASSES on dim
    random backgrounds, and their labels (uint8): each shape moved, sized and tinted at random."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    y, x = np.mgrid[:rows, :cols].astype(np.float32)
    labels = rng.integers(0, len(COLOUR_CLASSES), count).astype(np.uint8)
    images = np.empty((count, rows, cols, 3), np.float32)
    for i, label in enumerate(labels):
        _name, colour, kind = COLOUR_CLASSES[label]
        cy = rows / 2 + rng.uniform(-3, 3)
        cx = cols / 2 + rng.uniform(-3, 3)
        radius = rng.uniform(4.5, 7.5)
        inside = np.hypot(y - cy, x - cx) <= radius
        if kind == "stripes":
            period = rng.uniform(3.5, 5.0)
            inside = (np.abs(y - cy) <= radius) & (np.abs(x - cx) <= radius)
            inside &= np.sin(2 * np.pi * (y + x) / period + rng.uniform(0, 2 * np.pi)) > 0
        tint = np.clip(np.asarray(colour) + rng.uniform(-0.1, 0.1, 3), 0, 1)
        background = rng.uniform(0.0, 0.3, 3)
        images[i] = np.where(inside[..., None], tint, background)
    images += rng.normal(0, noise, images.shape).astype(np.float32)
    return (np.clip(images, 0, 1) * 255).round().astype(np.uint8), labels


def colour_shapes(train_count: int, test_count: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A colour data set in keras.datasets' layout: x_train, y_train, x_test, y_test and
    class_names."""
    x_train, y_train = make_colour_shapes(train_count, seed)
    x_test, y_test = make_colour_shapes(test_count, seed + 1)
    names = np.array([name for name, _colour, _kind in COLOUR_CLASSES])
    return {
        "x_train": x_train,
        "y_train": y_train,
        "x_test": x_test,
        "y_test": y_test,
        "class_names": names,
    }


def write_colour_npz(path: str | Path, train_count: int, test_count: int, seed: int = 0) -> Path:
    """colour_shapes as one .npz, the layout of keras.datasets' mnist.npz."""
    np.savez_compressed(path, **colour_shapes(train_count, test_count, seed))
    return Path(path)


def write_colour_folder(
    folder: str | Path, train_count: int, test_count: int, seed: int = 0
) -> Path:
    """colour_shapes as train/ and test/ of one folder of PNG files per class, the layout of
    keras.utils.image_dataset_from_directory; files named by their index in the split, so that
    the folder lists them in the .npz's order within each class."""
    from PIL import Image

    folder = Path(folder)
    arrays = colour_shapes(train_count, test_count, seed)
    for split in ("train", "test"):
        for name, _colour, _kind in COLOUR_CLASSES:
            (folder / split / name).mkdir(parents=True, exist_ok=True)
        for index, (image, label) in enumerate(zip(arrays[f"x_{split}"], arrays[f"y_{split}"])):
            Image.fromarray(image).save(
                folder / split / COLOUR_CLASSES[label][0] / f"{index:05d}.png"
            )
    return folder
