"""A user's own images: one `.npz` file (data.format: npz) or a folder of class folders
(data.format: folder), checked, and turned into the four IDX files every stage reads.

- npz: `x_train`, `y_train`, `x_test`, `y_test`, the layout of the mnist.npz that
  keras.datasets downloads, and optionally `class_names` (strings, one per label).
- folder: `train/` and `test/`, each holding one folder of PNG or JPEG files per class, the
  layout of keras.utils.image_dataset_from_directory; the classes are the folder names in
  sorted order, and files of other kinds are ignored, as Keras ignores them.

Images are uint8, (N, H, W) greyscale, any size; labels run 0..K-1, K >= 2. The checks that
need only the headers, the labels and the folder listing run while the workflow plans
(`layout`), so a bad file stops it before any job; those that need every pixel (a folder's
unreadable image, or one of another size) run in the data stage (`read`), which writes
nothing unless every image passes.

Order: a .npz keeps its own. A folder's test images are in sorted order (class folder, then
file name), so test image i is the i-th file of that listing; its training images are that
listing permuted by FOLDER_TRAIN_ORDER_SEED, because the first training images validate and
a listing sorted by class would hold out one class only.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_filters.errors import ConfigError

FORMATS = ("npz", "folder")
NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")
SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
FOLDER_TRAIN_ORDER_SEED = 0
# What the digest cache keys on; a new value misses every entry of an old one.
_CACHE_FORMAT = "1"


@dataclass(frozen=True)
class Layout:
    """What the workflow plans with: the classes' names by label, the images per split and
    one image's shape ((H, W) greyscale, (H, W, 3) colour)."""

    classes: tuple[str, ...]
    counts: tuple[int, int]
    image_shape: tuple[int, ...]


def _where(path: Path, fmt: str) -> str:
    return f"data.path {path} (data.format: {fmt})"


# --- npz -------------------------------------------------------------------------------------


def _open_npz(path: Path) -> zipfile.ZipFile:
    if not path.is_file():
        raise ConfigError(f"{_where(path, 'npz')}: not found")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise ConfigError(f"{path}: not a .npz file ({error})") from None


def _npz_header(
    path: Path, archive: zipfile.ZipFile, name: str
) -> tuple[tuple[int, ...], np.dtype]:
    """An array's shape and type from its header, without reading the array."""
    try:
        with archive.open(f"{name}.npy") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _fortran, dtype = read_header(handle)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as error:
        raise ConfigError(f"{path}: {name} is not a readable array ({error})") from None
    return tuple(shape), dtype


def _npz_array(path: Path, archive: zipfile.ZipFile, name: str) -> np.ndarray:
    try:
        with archive.open(f"{name}.npy") as handle:
            return np.lib.format.read_array(handle, allow_pickle=False)
    except ValueError as error:
        # allow_pickle=False refuses object arrays: a .npz may hold them, we never unpickle
        raise ConfigError(f"{path}: {name} cannot be read without unpickling ({error})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise ConfigError(f"{path}: {name} is damaged ({error})") from None


def _npz_names(path: Path, archive: zipfile.ZipFile) -> set[str]:
    return {n[: -len(".npy")] for n in archive.namelist() if n.endswith(".npy")}


def _image_shape(where: str, name: str, shape: tuple[int, ...], dtype: np.dtype) -> tuple:
    """(H, W) or (H, W, 3) of an (N, H, W), (N, H, W, 1) or (N, H, W, 3) uint8 array."""
    if dtype != np.uint8:
        raise ConfigError(
            f"{where}: {name} is {dtype}; images must be uint8 (0 to 255), as keras.datasets "
            "gives them (floats in [0, 1]: (x * 255).round().astype('uint8'))"
        )
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if not (len(shape) == 3 or (len(shape) == 4 and shape[3] == 3)):
        raise ConfigError(
            f"{where}: {name} has shape {shape}; images must be (N, H, W) greyscale or "
            "(N, H, W, 3) colour"
        )
    return tuple(int(d) for d in shape[1:])


def _labels(where: str, name: str, labels: np.ndarray, images: int) -> np.ndarray:
    if labels.ndim == 2 and labels.shape[1] == 1:  # keras.datasets' CIFAR layout
        labels = labels[:, 0]
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ConfigError(
            f"{where}: {name} is {labels.dtype} of shape {labels.shape}; labels must be "
            "integers, one per image"
        )
    if len(labels) != images:
        x = "x" + name[1:]
        raise ConfigError(f"{where}: {name} holds {len(labels)} labels but {x} {images} images")
    return labels.astype(np.int64)


def _check_label_range(where: str, labels: dict[str, np.ndarray], classes: int | None) -> int:
    """The number of classes K: `classes` (class_names' length) or the largest label + 1;
    ConfigError unless every label is in 0..K-1, K >= 2, and each has a training image."""
    largest = max(int(v.max(initial=-1)) for v in labels.values())
    count = largest + 1 if classes is None else classes
    for name, values in labels.items():
        bad = np.flatnonzero((values < 0) | (values >= count))
        if bad.size:
            raise ConfigError(
                f"{where}: {name} holds label {values[bad[0]]} at item {bad[0]} "
                f"({bad.size} out of range); labels must run 0..{count - 1}"
                + ("" if classes is None else f", one per entry of class_names ({classes})")
            )
    if count < 2:
        raise ConfigError(f"{where}: every label is 0; a classifier needs at least two classes")
    missing = sorted(set(range(count)) - set(np.unique(labels["y_train"]).tolist()))
    if missing:
        raise ConfigError(
            f"{where}: no training image has label {missing[0]}"
            + (f" (nor {len(missing) - 1} other labels)" if len(missing) > 1 else "")
            + f"; labels must run 0..{count - 1} with every label trained"
        )
    if count > 256:
        raise ConfigError(f"{where}: {count} classes; at most 256 are supported")
    return count


def _npz_layout(path: Path) -> tuple[Layout, dict[str, np.ndarray]]:
    with _open_npz(path) as archive:
        names = _npz_names(path, archive)
        missing = [name for name in NPZ_ARRAYS if name not in names]
        if missing:
            raise ConfigError(
                f"{path}: holds no {', '.join(missing)}; a .npz of images holds x_train, "
                f"y_train, x_test and y_test (as keras.datasets' mnist.npz), it holds "
                f"{', '.join(sorted(names)) or 'no arrays'}"
            )
        shapes, counts = {}, {}
        for split in SPLITS:
            shape, dtype = _npz_header(path, archive, f"x_{split}")
            shapes[split] = _image_shape(str(path), f"x_{split}", shape, dtype)
            counts[split] = int(shape[0])
            if not counts[split]:
                raise ConfigError(f"{path}: x_{split} holds no images")
        if shapes["train"] != shapes["test"]:
            raise ConfigError(
                f"{path}: x_train's images are {shapes['train']} but x_test's {shapes['test']}"
            )
        labels = {
            f"y_{split}": _labels(
                str(path), f"y_{split}", _npz_array(path, archive, f"y_{split}"), counts[split]
            )
            for split in SPLITS
        }
        class_names = None
        if "class_names" in names:
            class_names = _npz_array(path, archive, "class_names")
            if class_names.ndim != 1 or class_names.dtype.kind not in "US":
                raise ConfigError(
                    f"{path}: class_names is {class_names.dtype} of shape {class_names.shape}; "
                    "it must be strings, one per label"
                )
            class_names = [
                n.decode() if isinstance(n, bytes) else str(n) for n in class_names.tolist()
            ]
    count = _check_label_range(str(path), labels, None if class_names is None else len(class_names))
    classes = tuple(class_names or (str(label) for label in range(count)))
    return Layout(classes, (counts["train"], counts["test"]), shapes["train"]), labels


# --- folder ----------------------------------------------------------------------------------


def _listing(path: Path) -> dict[str, dict[str, list[Path]]]:
    """split -> class name -> its image files, sorted; ConfigError for a missing split, a
    class in one split only, or an empty class folder."""
    where = _where(path, "folder")
    if not path.is_dir():
        raise ConfigError(f"{where}: not found, or not a folder")
    listing = {}
    for split in SPLITS:
        folder = path / split
        if not folder.is_dir():
            raise ConfigError(
                f"{where}: holds no {split}/ folder; it must hold train/ and test/, each with "
                "one folder of PNG or JPEG files per class"
            )
        classes = sorted(
            e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith(".")
        )
        if not classes:
            raise ConfigError(f"{folder}: holds no class folders")
        listing[split] = {
            name: sorted(
                Path(e.path)
                for e in os.scandir(folder / name)
                if e.is_file()
                and not e.name.startswith(".")
                and e.name.lower().endswith(IMAGE_SUFFIXES)
            )
            for name in classes
        }
        for name, files in listing[split].items():
            if not files:
                raise ConfigError(f"{folder / name}: an empty class folder (no PNG or JPEG files)")
    train, test = set(listing["train"]), set(listing["test"])
    if train != test:
        one = sorted(train ^ test)[0]
        raise ConfigError(
            f"{where}: class {one!r} is a folder of {'train' if one in train else 'test'}/ "
            f"only; train/ and test/ must hold the same class folders"
        )
    if len(train) < 2:
        raise ConfigError(f"{where}: one class folder; a classifier needs at least two")
    if len(train) > 256:
        raise ConfigError(f"{where}: {len(train)} class folders; at most 256 are supported")
    return listing


def _open_image(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(path)
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ConfigError(f"{path}: not a readable image ({error})") from None
    return image


def _pixels(path: Path, image) -> np.ndarray:
    """uint8 (H, W) for a greyscale image, (H, W, 3) for a colour one."""
    if image.mode in ("L", "LA", "1", "I", "I;16", "F") or (
        image.mode == "P" and _grey_palette(image)
    ):
        if image.mode in ("I", "I;16", "F"):
            raise ConfigError(f"{path}: a {image.mode} image; images must be 8 bits per channel")
        return np.asarray(image.convert("L"), np.uint8)
    return np.asarray(image.convert("RGB"), np.uint8)


def _grey_palette(image) -> bool:
    palette = np.asarray(image.getpalette() or [], np.uint8).reshape(-1, 3)
    return bool((palette == palette[:, :1]).all())


def _folder_layout(path: Path) -> tuple[Layout, dict[str, dict[str, list[Path]]]]:
    listing = _listing(path)
    classes = tuple(listing["train"])
    first = listing["train"][classes[0]][0]
    shape = _pixels(first, _open_image(first)).shape
    counts = tuple(sum(len(files) for files in listing[split].values()) for split in SPLITS)
    return Layout(classes, counts, tuple(int(d) for d in shape)), listing


def _read_folder(path: Path, listing) -> dict[str, np.ndarray]:
    """Every image decoded and checked: readable, one size and one kind (greyscale or colour)."""
    arrays = {}
    first: tuple[Path, tuple] | None = None
    for split in SPLITS:
        images, labels = [], []
        for label, files in enumerate(listing[split].values()):
            for file in files:
                pixels = _pixels(file, _open_image(file))
                if first is None:
                    first = (file, pixels.shape)
                elif pixels.shape != first[1]:
                    differ = "sizes" if pixels.shape[:2] != first[1][:2] else "kinds"
                    raise ConfigError(
                        f"{_where(path, 'folder')}: images of two {differ}: {first[0]} is "
                        f"{_shape_text(first[1])}, {file} is {_shape_text(pixels.shape)}"
                    )
                images.append(pixels)
                labels.append(label)
        images, labels = np.stack(images), np.asarray(labels, np.uint8)
        if split == "train":
            order = np.random.default_rng(FOLDER_TRAIN_ORDER_SEED).permutation(len(labels))
            images, labels = images[order], labels[order]
        arrays[f"x_{split}"], arrays[f"y_{split}"] = images, labels
    return arrays


def _shape_text(shape: tuple) -> str:
    text = f"{shape[1]} pixels wide and {shape[0]} high"
    return text + (", in colour" if len(shape) == 3 else ", greyscale")


# --- both ------------------------------------------------------------------------------------


def layout(fmt: str, path: str | os.PathLike) -> Layout:
    """The checks that need no pixel, made while the workflow plans; ConfigError naming the
    file and the problem."""
    path = Path(path).expanduser()
    return _npz_layout(path)[0] if fmt == "npz" else _folder_layout(path)[0]


def read(fmt: str, path: str | os.PathLike) -> tuple[Layout, dict[str, np.ndarray]]:
    """Every check, and the arrays: train_images, train_labels, test_images, test_labels
    (images uint8 (N, H, W) or (N, H, W, 3), labels uint8)."""
    path = Path(path).expanduser()
    if fmt == "npz":
        found, labels = _npz_layout(path)
        with _open_npz(path) as archive:
            x = {f"x_{s}": _npz_array(path, archive, f"x_{s}") for s in SPLITS}
        arrays = {**x, **{k: v.astype(np.uint8) for k, v in labels.items()}}
        for split in SPLITS:
            if arrays[f"x_{split}"].ndim == 4 and arrays[f"x_{split}"].shape[3] == 1:
                arrays[f"x_{split}"] = arrays[f"x_{split}"][..., 0]
    else:
        found, listing = _folder_layout(path)
        arrays = _read_folder(path, listing)
    return found, {
        "train_images": arrays["x_train"],
        "train_labels": arrays["y_train"],
        "test_images": arrays["x_test"],
        "test_labels": arrays["y_test"],
    }


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def content_digest(fmt: str, path: str | os.PathLike, cache: str | os.PathLike | None) -> str:
    """The sha256 of what the images are: of the .npz file, or of a folder's listing of image
    files (relative path and sha256 of each). `cache`: a JSON file keeping each file's sha256
    by its size, modification time and inode, so that a planning after the first hashes only
    the files that changed."""
    path = Path(path).expanduser()
    if fmt == "npz":
        return _file_sha256(path)
    root = str(path.resolve())
    known = {}
    if cache is not None:
        try:
            entries = json.loads(Path(cache).read_text())
            if entries.get("format") == _CACHE_FORMAT and entries.get("root") == root:
                known = entries["files"]
        except (OSError, ValueError, KeyError, AttributeError):
            known = {}
    digest, kept = hashlib.sha256(), {}
    for split, classes in _listing(path).items():
        for name, files in classes.items():
            for file in files:
                stat = file.stat()
                relative = f"{split}/{name}/{file.name}"
                stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
                entry = known.get(relative)
                sha = entry[3] if entry and entry[:3] == stamp else _file_sha256(file)
                kept[relative] = [*stamp, sha]
                digest.update(f"{relative}\0{sha}\n".encode())
    if cache is not None and kept != known:
        _write_cache(Path(cache), {"format": _CACHE_FORMAT, "root": root, "files": kept})
    return digest.hexdigest()


def _write_cache(cache: Path, entries: dict) -> None:
    temporary = cache.with_name(f".{cache.name}.{os.getpid()}")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(entries))
        os.replace(temporary, cache)
    except OSError:
        temporary.unlink(missing_ok=True)  # a read-only folder: the cache only saves time
