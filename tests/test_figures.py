"""Each figure is a readable, non-blank PNG of the expected size, drawn from the right images."""

import csv
import json
from pathlib import Path

import h5py
import matplotlib.image
import numpy as np
import pytest

from mnist_filters.dataset import DATA_SETS, FILES
from mnist_filters.idx import read_idx
from mnist_filters.stages.figures import filters, samples, sheets, top_patches, training_curve
from mnist_filters.stages.rank import read_rankings

DIGITS = DATA_SETS["mnist"].classes
CLOTHES = DATA_SETS["fashion-mnist"].classes


def read_png(path):
    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    return pixels


def assert_figure(path, size=None):
    pixels = read_png(path)
    if size:
        assert pixels.shape[:2] == size
    grey = pixels[..., :3].mean(axis=2)
    assert grey.std() > 0.05, f"{path} looks blank"


def test_samples(tiny_mnist, tmp_path):
    out = tmp_path / "samples.png"
    samples.samples(
        str(tiny_mnist / FILES["train_images"]),
        str(tiny_mnist / FILES["train_labels"]),
        str(out),
        first=100,
        count=16,
        classes=DIGITS,
        dpi=50,
    )
    assert_figure(out, (int((4 * 1.6 + 0.3) * 50), int(4 * 1.6 * 50)))


def titles_when_saved(monkeypatch, module) -> dict[str, list[str]]:
    """File name -> the titles of its panels, recorded as `module` saves each figure."""
    seen, save = {}, module.save

    def recording(figure, path, *args, **kwargs):
        seen[Path(path).name] = [axes.get_title() for axes in figure.axes]
        return save(figure, path, *args, **kwargs)

    monkeypatch.setattr(module, "save", recording)
    return seen


@pytest.mark.parametrize(
    "names, run_classes",
    [(CLOTHES, None), (DIGITS, [7, 2])],
    ids=["every-class-named", "a-class-subsets-own"],
)
def test_sample_titles_name_the_class(tiny_mnist, tmp_path, monkeypatch, names, run_classes):
    """Each sample is titled with its class's name; a class subset's are of its classes."""
    seen = titles_when_saved(monkeypatch, samples)
    samples.samples(
        str(tiny_mnist / FILES["train_images"]),
        str(tiny_mnist / FILES["train_labels"]),
        str(tmp_path / "samples.png"),
        first=100,
        count=6,
        classes=names,
        dpi=30,
        run_classes=run_classes,
    )
    labels = read_idx(tiny_mnist / FILES["train_labels"])[100:]
    if run_classes:
        labels = labels[np.isin(labels, run_classes)]
    expected = [
        f"label {label}" if names[label] == str(label) else f"label {label} ({names[label]})"
        for label in labels[:6]
    ]
    assert seen["samples.png"] == expected


def test_patch_titles_name_the_class(tiny_mnist, tmp_path, monkeypatch):
    seen = titles_when_saved(monkeypatch, sheets)
    write_rankings(
        tmp_path / "rankings.csv",
        [
            ["conv1", 0, r, r, label, 1, 2, 5.0 - r, 2, 4, 14, 16]
            for r, label in ((1, 9), (2, 0), (3, 5))
        ],
    )
    top_patches.top_patches(
        str(tmp_path / "rankings.csv"),
        str(tiny_mnist / FILES["test_images"]),
        str(tmp_path / "out"),
        classes=CLOTHES,
        dpi=30,
    )
    assert seen["conv1_filter00.png"] == [
        "#1: 4.00\nlabel 9 (Ankle boot)",
        "#2: 3.00\nlabel 0 (T-shirt/top)",
        "#3: 2.00\nlabel 5 (Sandal)",
    ]


def test_filters(tmp_path):
    import h5py

    path = tmp_path / "a.h5"
    with h5py.File(path, "w") as h5:
        h5["weights/conv1/kernel"] = (
            np.random.default_rng(0).normal(size=(12, 12, 1, 25)).astype(np.float32)
        )
    out = tmp_path / "filters.png"
    filters.filters(str(path), str(out), layer="conv1", dpi=40)
    assert_figure(out, (int((5 * 1.7 + 0.6) * 40), int((5 * 1.7 + 1.2) * 40)))


def write_rankings(path, rows):
    from mnist_filters.stages.rank import COLUMNS as columns

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)


def test_top_patches_one_per_filter_and_an_overview(tiny_mnist, tmp_path):
    rows = [
        ["conv1", f, r, 10 * f + r, 3, 1, 2, 5.0 - r, 2, 4, 14, 16]
        for f in (0, 3)
        for r in range(1, 7)
    ]
    rows += [["conv2", 1, r, r, 4, 0, 8, 1.0, 0, 12, 16, 28] for r in (1, 2)]  # clipped boxes
    write_rankings(tmp_path / "rankings.csv", rows)
    out = tmp_path / "top_patches"
    top_patches.top_patches(
        str(tmp_path / "rankings.csv"),
        str(tiny_mnist / FILES["test_images"]),
        str(out),
        classes=DIGITS,
        dpi=40,
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "conv1_filter00.png",
        "conv1_filter03.png",
        "conv1_overview.png",
        "conv2_filter01.png",
        "conv2_overview.png",
        "progression.png",  # two layers ranked: the first to the last
    ]
    for name in names:
        assert_figure(out / name)
    assert [
        p.name for p in tmp_path.iterdir() if p.name.startswith(".")
    ] == []  # no partial folder left


def test_top_patches_are_the_same_drawn_by_one_or_three_processes(tiny_mnist, tmp_path):
    rows = [
        ["conv1", f, r, 10 * f + r, 3, 1, 2, 5.0 - r, 2, 4, 14, 16]
        for f in range(5)
        for r in range(1, 4)
    ]
    rows += [["conv2", 1, r, r, 4, 0, 8, 1.0, 0, 12, 16, 28] for r in (1, 2)]
    write_rankings(tmp_path / "rankings.csv", rows)
    for workers in (1, 3):
        top_patches.top_patches(
            str(tmp_path / "rankings.csv"),
            str(tiny_mnist / FILES["test_images"]),
            str(tmp_path / f"by{workers}"),
            classes=DIGITS,
            dpi=40,
            workers=workers,
        )
    names = sorted(p.name for p in (tmp_path / "by1").iterdir())
    assert len(names) == 9 and names == sorted(p.name for p in (tmp_path / "by3").iterdir())
    for name in names:
        np.testing.assert_array_equal(
            read_png(tmp_path / "by1" / name), read_png(tmp_path / "by3" / name)
        )


def test_crop_is_the_test_images_box(tiny_mnist, tmp_path):
    test_images = read_idx(tiny_mnist / FILES["test_images"])
    train_images = read_idx(tiny_mnist / FILES["train_images"])
    write_rankings(tmp_path / "rankings.csv", [["conv1", 0, 1, 7, 3, 1, 2, 5.0, 3, 5, 15, 17]])
    (unit,) = read_rankings(str(tmp_path / "rankings.csv"))[("conv1", 0)]
    patch = top_patches.crop(test_images, unit)
    np.testing.assert_array_equal(patch, test_images[7, 3:15, 5:17])
    assert not np.array_equal(patch, train_images[7, 3:15, 5:17])


def test_training_curve(tmp_path):
    from mnist_filters.formats.training_log import LogRow, write_training_log

    log = tmp_path / "training_log.csv"
    write_training_log(
        str(log),
        [
            LogRow(0, 0.1, 2.3, 0.11, 0.5, 0.0),
            LogRow(100, 0.8, 0.6, 0.85, 1.5, 1.0),
            LogRow(200, 0.9, 0.3, 0.9, 2.5, 2.0),
        ],
    )
    (tmp_path / "metrics.json").write_text(json.dumps({"test_accuracy": 0.91}))
    out = tmp_path / "curve.png"
    training_curve.training_curve(str(log), str(tmp_path / "metrics.json"), str(out), dpi=50)
    assert_figure(out, (225, 350))


def test_a_failed_figure_leaves_nothing(tmp_path):
    out = tmp_path / "figure" / "filters.png"
    with pytest.raises(FileNotFoundError):
        filters.filters(str(tmp_path / "missing.h5"), str(out), layer="conv1", dpi=40)
    with h5py.File(tmp_path / "two-channels.h5", "w") as h5:
        h5["weights/conv2/kernel"] = np.zeros((5, 5, 2, 3), np.float32)
    with pytest.raises(
        ValueError,
        match="conv2 has 2 input channels; only filters of a greyscale or an RGB input draw as",
    ):
        filters.filters(str(tmp_path / "two-channels.h5"), str(out), layer="conv2", dpi=40)
    assert not out.parent.exists()
