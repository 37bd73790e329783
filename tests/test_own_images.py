"""Your own images (mnist_filters/own_images.py): a .npz in keras.datasets' layout and a folder
of class folders give the same results as the same images in IDX files; every mistake in
them stops the workflow with one line naming the file, before any job where the headers and
the listing show it, and in the data stage, leaving nothing, where only the pixels do; and
a changed image reruns what depends on it, an unchanged one nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, TINY_DEFAULTS, planned, snakemake
from mnist_filters import own_images
from mnist_filters.dataset import FILES
from mnist_filters.errors import ConfigError
from mnist_filters.idx import read_idx, write_idx

SPLITS = ("train", "test")


def tiny_arrays(tiny_mnist: Path) -> dict[str, np.ndarray]:
    return {key: read_idx(tiny_mnist / name) for key, name in FILES.items()}


def write_npz(path: Path, arrays: dict[str, np.ndarray], **extra) -> Path:
    """`arrays` (FILES's keys) as keras.datasets lays out a .npz."""
    np.savez_compressed(
        path,
        x_train=arrays["train_images"],
        y_train=arrays["train_labels"],
        x_test=arrays["test_images"],
        y_test=arrays["test_labels"],
        **extra,
    )
    return path


def write_folder(folder: Path, arrays: dict[str, np.ndarray], classes: list[str]) -> Path:
    """`arrays` as train/ and test/ of one folder of PNG files per class (`classes`, sorted),
    each file named by its image's index in its split."""
    assert classes == sorted(classes)
    for split in SPLITS:
        for name in classes:
            (folder / split / name).mkdir(parents=True, exist_ok=True)
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            Image.fromarray(image).save(folder / split / classes[label] / f"{index:05d}.png")
    return folder


DIGIT_FOLDERS = [f"digit-{label}" for label in range(10)]


def config_for(data: dict, **defaults) -> dict:
    # few steps: what is compared is bytes, not accuracy
    training = {**TINY_DEFAULTS["training"], "steps": 50}
    merged = {**TINY_DEFAULTS, "training": training, **defaults}
    return {"data": data, "defaults": merged, "runs": {"tiny": {}}}


# --- the order of a folder's images, and what the checks find, without the workflow ----------


def test_a_folder_reads_in_its_documented_order(tiny_mnist, tmp_path):
    arrays = tiny_arrays(tiny_mnist)
    folder = write_folder(tmp_path / "images", arrays, DIGIT_FOLDERS)
    layout, read = own_images.read("folder", folder)
    assert layout.classes == tuple(DIGIT_FOLDERS)
    assert layout.counts == (2000, 500) and layout.image_shape == (28, 28)
    for split in SPLITS:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        # the listing: by class folder, then by file name (here the original index)
        listing = np.concatenate([np.flatnonzero(labels == label) for label in range(10)])
        if split == "train":
            listing = listing[np.random.default_rng(0).permutation(len(listing))]
        assert np.array_equal(read[f"{split}_images"], images[listing])
        assert np.array_equal(read[f"{split}_labels"], labels[listing])


def test_an_npz_keeps_its_order_names_and_keras_shapes(tiny_mnist, tmp_path):
    arrays = tiny_arrays(tiny_mnist)
    # keras.datasets' CIFAR layout: labels (N, 1), as int64; images with a channel axis of 1
    shaped = {
        **arrays,
        "train_labels": arrays["train_labels"].astype(np.int64)[:, None],
        "train_images": arrays["train_images"][..., None],
    }
    names = np.array([f"class {label}" for label in range(10)])
    path = write_npz(tmp_path / "images.npz", shaped, class_names=names)
    layout, read = own_images.read("npz", path)
    assert layout.classes == tuple(names) and layout.counts == (2000, 500)
    for key in FILES:
        assert read[key].dtype == np.uint8 and np.array_equal(read[key], arrays[key])


def broken_npz(tmp_path: Path, arrays: dict, case: str) -> tuple[Path, str]:
    """An .npz with one mistake; (its path, what the error must say)."""
    arrays = dict(arrays)
    extra = {}
    if case == "lengths-differ":
        arrays["train_labels"] = arrays["train_labels"][:-1]
        problem = "y_train holds 1999 labels but x_train 2000 images"
    elif case == "label-out-of-range":
        extra["class_names"] = np.array(["a", "b", "c"])
        arrays["train_labels"] = arrays["train_labels"] % 3
        arrays["test_labels"] = arrays["test_labels"] % 3
        arrays["test_labels"][7] = 5
        problem = "y_test holds label 5 at item 7"
    elif case == "float-images":
        arrays["train_images"] = arrays["train_images"] / np.float32(255)
        problem = "x_train is float32; images must be uint8"
    elif case == "missing-x_test":
        path = tmp_path / "broken.npz"
        np.savez(path, x_train=arrays["train_images"], y_train=arrays["train_labels"])
        return path, "holds no x_test, y_test"
    elif case == "not-an-npz":
        path = tmp_path / "broken.npz"
        path.write_text("x_train,y_train\n")
        return path, "not a .npz file"
    elif case == "pickled-class-names":
        extra["class_names"] = np.array(["a", 2], dtype=object)
        problem = "class_names cannot be read without unpickling"
    elif case == "one-class":
        arrays["train_labels"] = np.zeros_like(arrays["train_labels"])
        arrays["test_labels"] = np.zeros_like(arrays["test_labels"])
        problem = "at least two classes"
    elif case == "colour":
        arrays["train_images"] = np.repeat(arrays["train_images"][..., None], 3, axis=3)
        arrays["test_images"] = np.repeat(arrays["test_images"][..., None], 3, axis=3)
        return write_npz(tmp_path / "broken.npz", arrays), "greyscale images only"
    return write_npz(tmp_path / "broken.npz", arrays, **extra), problem


NPZ_CASES = [
    "lengths-differ",
    "label-out-of-range",
    "float-images",
    "missing-x_test",
    "not-an-npz",
    "pickled-class-names",
    "one-class",
]


@pytest.mark.parametrize("case", NPZ_CASES)
def test_a_broken_npz_is_named_with_its_problem(tiny_mnist, tmp_path, case):
    path, problem = broken_npz(tmp_path, tiny_arrays(tiny_mnist), case)
    with pytest.raises(ConfigError) as error:
        own_images.layout("npz", path)
    message = str(error.value)
    assert str(path) in message and problem in message and "\n" not in message, message


def broken_folder(tmp_path: Path, arrays: dict, case: str) -> tuple[Path, str, bool]:
    """A folder with one mistake; (the file or folder the error must name, what it must say,
    whether planning finds it (else the data stage does))."""
    few = {key: value[:60] for key, value in arrays.items()}
    folder = write_folder(tmp_path / "images", few, DIGIT_FOLDERS)
    some = sorted((folder / "train" / "digit-3").iterdir())
    if case == "two-sizes":
        Image.fromarray(np.zeros((32, 30), np.uint8)).save(some[1])
        first = sorted((folder / "train" / "digit-0").iterdir())[0]
        problem = f"images of two sizes: {first} is 28 pixels wide and 28 high, greyscale, "
        return some[1], problem + f"{some[1]} is 30 pixels wide and 32 high", False
    if case == "unreadable-image":
        some[0].write_bytes(b"\x89PNG\r\n\x1a\n not really")
        return some[0], "not a readable image", False
    if case == "empty-class-folder":
        for file in sorted((folder / "test" / "digit-5").iterdir()):
            file.unlink()
        return folder / "test" / "digit-5", "an empty class folder", True
    if case == "no-test-folder":
        shutil.rmtree(folder / "test")
        return folder, "holds no test/ folder", True
    if case == "class-in-one-split":
        (folder / "train" / "digit-99").mkdir()
        Image.fromarray(few["train_images"][0]).save(folder / "train" / "digit-99" / "a.png")
        return folder, "class 'digit-99' is a folder of train/ only", True
    raise ValueError(case)


FOLDER_CASES = [
    "two-sizes",
    "unreadable-image",
    "empty-class-folder",
    "no-test-folder",
    "class-in-one-split",
]


@pytest.mark.parametrize("case", FOLDER_CASES)
def test_a_broken_folder_is_named_with_its_problem(tiny_mnist, tmp_path, case):
    named, problem, at_planning = broken_folder(tmp_path, tiny_arrays(tiny_mnist), case)
    folder = tmp_path / "images"
    if at_planning:
        with pytest.raises(ConfigError) as error:
            own_images.layout("folder", folder)
    else:
        own_images.layout("folder", folder)  # the listing and the first image are fine
        with pytest.raises(ConfigError) as error:
            own_images.read("folder", folder)
    message = str(error.value)
    assert str(named) in message and problem in message and "\n" not in message, message


def test_a_folder_digest_follows_content_not_file_times(tiny_mnist, tmp_path, monkeypatch):
    few = {key: value[:40] for key, value in tiny_arrays(tiny_mnist).items()}
    folder = write_folder(tmp_path / "images", few, DIGIT_FOLDERS)
    cache = tmp_path / "cache.json"
    first = own_images.content_digest("folder", folder, cache)
    hashed = []
    real = own_images._file_sha256
    monkeypatch.setattr(own_images, "_file_sha256", lambda p: hashed.append(p) or real(p))
    assert own_images.content_digest("folder", folder, cache) == first and not hashed
    png = sorted(folder.rglob("*.png"))[5]
    png.touch()  # a new time, the same bytes: hashed again, the same digest
    assert own_images.content_digest("folder", folder, cache) == first and hashed == [png]
    pixels = np.asarray(Image.open(png)).copy()
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(png)
    assert own_images.content_digest("folder", folder, cache) != first
    assert own_images.content_digest("folder", folder, None) != first


# --- through the workflow ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_formats(tiny_mnist, tmp_path_factory):
    """The same images as a folder, as an .npz and as IDX files, each ranked by a workflow of
    its own (the folder's order: the images as the folder reads them)."""
    root = tmp_path_factory.mktemp("three-formats")
    folder = write_folder(root / "folder", tiny_arrays(tiny_mnist), DIGIT_FOLDERS)
    _layout, arrays = own_images.read("folder", folder)
    npz = write_npz(root / "images.npz", arrays)
    (root / "idx").mkdir()
    for key, name in FILES.items():
        write_idx(root / "idx" / name, arrays[key])
    sources = {
        "folder": {"set": "digits", "format": "folder", "path": str(folder)},
        "npz": {"set": "digits", "format": "npz", "path": str(npz)},
        "idx": {"set": "mnist", "local_dir": str(root / "idx")},
    }
    workdirs = {}
    for fmt, data in sources.items():
        workdirs[fmt] = root / f"work-{fmt}"
        workdirs[fmt].mkdir()
        results = f"results/{data['set']}/tiny"
        snakemake(
            workdirs[fmt],
            config_for(data),
            f"{results}/rankings.csv",
            f"{results}/activations.h5",
            f"{results}/metrics.json",
        )
    return sources, workdirs


@pytest.mark.slow
def test_three_formats_give_byte_identical_activations_and_rankings(three_formats):
    sources, workdirs = three_formats
    made = {
        fmt: {
            name: (workdirs[fmt] / "results" / data["set"] / "tiny" / name).read_bytes()
            for name in ("activations.h5", "rankings.csv", "model.keras")
        }
        for fmt, data in sources.items()
    }
    assert made["npz"] == made["idx"] and made["folder"] == made["idx"]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["npz", "folder"])
def test_a_changed_image_reruns_every_job_and_an_unchanged_one_none(three_formats, fmt):
    sources, workdirs = three_formats
    data, workdir = sources[fmt], workdirs[fmt]
    config = config_for(data)
    target = f"results/{data['set']}/tiny/rankings.csv"
    assert not planned_for(workdir, config, target)
    path = Path(data["path"])
    if fmt == "npz":
        touched = path
        path.touch()  # the same bytes
        assert not planned_for(workdir, config, target)
        with np.load(path) as npz:
            arrays = {name: npz[name] for name in npz.files}
        arrays["x_test"][3, 10, 10] ^= 1
        np.savez_compressed(path, **arrays)
    else:
        touched = sorted((path / "test" / "digit-4").iterdir())[2]
        touched.touch()
        assert not planned_for(workdir, config, target)
        pixels = np.asarray(Image.open(touched)).copy()
        pixels[10, 10] ^= 1
        Image.fromarray(pixels).save(touched)
    assert {rule for rule, _run in planned_for(workdir, config, target)} == {
        "get_mnist",
        "train",
        "dump_activations",
        "rank_patches",
    }


def planned_for(workdir: Path, config: dict, target: str) -> set:
    return planned(workdir, config, REPO, target)


@pytest.mark.slow
def test_bad_images_stop_the_workflow_with_one_line_and_leave_nothing(tiny_mnist, tmp_path):
    arrays = tiny_arrays(tiny_mnist)
    npz, problem = broken_npz(tmp_path, arrays, "label-out-of-range")
    planning = tmp_path / "planning"
    planning.mkdir()
    result = snakemake(
        planning, config_for({"set": "own", "format": "npz", "path": str(npz)}), check=False
    )
    assert result.returncode != 0
    assert any(problem in line and str(npz) in line for line in result.stderr.splitlines())
    assert not (planning / "resources").exists() and not (planning / "results").exists()

    named, problem, _ = broken_folder(tmp_path, arrays, "unreadable-image")
    staged = tmp_path / "stage"
    staged.mkdir()
    data = {"set": "own", "format": "folder", "path": str(tmp_path / "images")}
    config = config_for(data)
    training = {**TINY_DEFAULTS["training"], "validation_size": 20, "batch_size": 10}
    config["defaults"]["training"] = training
    result = snakemake(staged, config, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert any(problem in line and str(named) in line for line in output.splitlines()), output
    resources = staged / "resources" / "own"
    assert not resources.exists() or not any(p.suffix == ".gz" for p in resources.iterdir())
    assert not (staged / "results").exists()


@pytest.mark.slow
def test_named_classes_of_any_number_reach_every_table_and_the_gallery(tiny_mnist, tmp_path):
    arrays = tiny_arrays(tiny_mnist)
    kept = {split: np.flatnonzero(arrays[f"{split}_labels"] < 3) for split in SPLITS}
    three = {key: arrays[key][kept[key.split("_")[0]]] for key in FILES}
    names = ["zero", "one", "two"]
    npz = write_npz(tmp_path / "three.npz", three, class_names=np.array(names))
    workdir = tmp_path / "work"
    workdir.mkdir()
    config = config_for({"set": "three", "format": "npz", "path": str(npz)})
    config["defaults"]["training"] = {**TINY_DEFAULTS["training"], "steps": 100}
    snakemake(workdir, config, "notebook", "results/three/tiny/gallery")
    run = workdir / "results" / "three" / "tiny"
    confusion = (run / "confusion.csv").read_text().splitlines()
    assert confusion[0].endswith("predicted_0,predicted_1,predicted_2")
    assert [line.split(",")[1] for line in confusion[1:]] == names
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["classes"] == [0, 1, 2]
    gallery = (run / "gallery" / "index.html").read_text()
    assert all(name in gallery for name in names)
