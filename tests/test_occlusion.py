"""Occlusion sensitivity: the occluder's placement, and what the stage records, against oracles."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from conftest import default_settings
from mnist_filters.dataset import FILES, background_value, to_model_input
from mnist_filters.idx import read_idx
from mnist_filters.network.table import LayerTable  # noqa: E402
from mnist_filters.stages.mistakes import read_mistakes
from mnist_filters.stages.occlusion import chosen_images, occlude, occluded, occluder_origins

NOTEBOOK = default_settings()["model"]


def test_occluder_positions_keep_it_inside_the_image():
    assert occluder_origins(28, 8, 2).tolist() == list(range(0, 21, 2))
    assert occluder_origins(28, 8, 3).tolist() == [0, 3, 6, 9, 12, 15, 18]
    assert occluder_origins(28, 28, 1).tolist() == [0]
    with pytest.raises(ValueError, match="does not fit"):
        occluder_origins(28, 29, 1)


def test_each_copy_has_exactly_its_square_filled():
    image = np.arange(1, 37, dtype=np.float32).reshape(6, 6)
    copies = occluded(image, np.array([0, 2]), np.array([1, 3]), 3, -1.0)
    assert copies.shape == (4, 6, 6)
    for copy, (y, x) in zip(copies, [(0, 1), (0, 3), (2, 1), (2, 3)]):
        inside = np.zeros((6, 6), bool)
        inside[y : y + 3, x : x + 3] = True
        assert (copy[inside] == -1).all() and (copy[~inside] == image[~inside]).all()


def test_the_background_is_the_commonest_pixel_value():
    images = np.zeros((3, 4, 4), np.uint8)
    assert background_value(images) == 0
    assert background_value(255 - images) == 255


def test_occluding_outside_a_conv1_units_field_leaves_it_bitwise_unchanged():
    """conv1 unit (3, 5) sees pixels rows 6..17, cols 10..21 (stride 2, 12x12): an occluder
    that misses them leaves the unit's activation bitwise equal, one that covers any changes it."""
    from mnist_filters.network.build import build_model
    from mnist_filters.network.probe import Probe

    model = build_model(NOTEBOOK, seed=1, portable=True)
    image = np.random.default_rng(0).uniform(50, 255, (28, 28)).astype(np.float32)
    rows = cols = occluder_origins(28, 4, 1)
    maps, _ = Probe(model, ["conv1"])(
        to_model_input(np.concatenate([image[None], occluded(image, rows, cols, 4, 0)])),
        batch_size=1000,
    )
    unit_row, unit_col = 3, 5
    table = LayerTable.declared(NOTEBOOK["layers"], (28, 28), 10)
    y0, x0, y1, x1 = table["conv1"].geometry.box(unit_row, unit_col, (28, 28))
    assert (y0, x0, y1, x1) == (6, 10, 18, 22)
    values = maps["conv1"][1:, unit_row, unit_col, :].reshape(len(rows), len(cols), -1)
    original = maps["conv1"][0, unit_row, unit_col, :]
    assert (original > 0).any()
    for i, y in enumerate(rows):
        for j, x in enumerate(cols):
            overlaps = y < y1 and y + 4 > y0 and x < x1 and x + 4 > x0
            if overlaps:
                assert not np.array_equal(values[i, j], original), (y, x)
            else:
                np.testing.assert_array_equal(values[i, j], original)


def test_the_stage_on_the_workflows_model(tiny_run, tiny_mnist, tmp_path):
    """Default images: the 4 most confident mistakes, then the first 4 correct ones. Unoccluded
    values agree with the dump; the deconvnet projection is zero outside the strongest
    unit's receptive field."""
    run = tiny_run / "results" / "mnist" / "tiny"
    out = tmp_path / "occlusion.h5"
    test_images, test_labels = (
        str(tiny_mnist / FILES[key]) for key in ("test_images", "test_labels")
    )
    occlude(
        str(run / "model.keras"),
        test_images,
        test_labels,
        str(run / "mistakes.csv"),
        str(out),
        images=None,
        size=6,
        stride=2,
        fill=None,
        layer="conv2",
        batch_size=64,
    )
    mistakes = [m["image_index"] for m in read_mistakes(str(run / "mistakes.csv"))]
    images, labels = read_idx(test_images), read_idx(test_labels)
    with h5py.File(run / "activations.h5") as dump, h5py.File(out) as h5:
        chosen = h5["test_index"][:].tolist()
        correct = [i for i in range(len(images)) if i not in mistakes][:4]
        assert (
            chosen
            == mistakes[:4] + correct
            == chosen_images(str(run / "mistakes.csv"), np.arange(len(images)), None, len(images))
        )
        logits = dump["logits"][:][chosen]
        from mnist_filters.classification import softmax

        expected = softmax(logits)[np.arange(len(chosen)), labels[chosen]]
        np.testing.assert_allclose(h5["unoccluded/probability_label"][:], expected, rtol=1e-5)
        assert h5["unoccluded/predicted"][:].tolist() == logits.argmax(axis=1).tolist()
        assert h5.attrs["fill"] == 0 and h5.attrs["layer"] == "conv2"
        rows, cols = h5["occluder_rows"][:], h5["occluder_cols"][:]
        assert rows.tolist() == cols.tolist() == list(range(0, 23, 2))
        # conv2's field is 20x20: unit (row, col) sees rows 2*row-4 .. 2*row+15
        projection = h5["projection"][:]
        for i, (unit_row, unit_col) in enumerate(h5["strongest_unit"][:]):
            outside = np.ones((28, 28), bool)
            outside[
                max(0, 2 * unit_row - 4) : 2 * unit_row + 16,
                max(0, 2 * unit_col - 4) : 2 * unit_col + 16,
            ] = False
            assert (projection[i][outside] == 0).all() and np.abs(projection[i]).max() > 0


def test_an_occluder_over_pixels_already_its_fill_changes_nothing(tiny_run, tiny_mnist, tmp_path):
    """The test images with their top-left 10x10 set to the fill: at the 9 positions where a
    6x6 occluder lies inside that corner, every record equals the unoccluded image's."""
    from mnist_filters.idx import write_idx

    run = tiny_run / "results" / "mnist" / "tiny"
    images = read_idx(tiny_mnist / FILES["test_images"]).copy()
    images[:, :10, :10] = 0
    cornered = tmp_path / "t10k-images-idx3-ubyte"
    write_idx(cornered, images)
    out = tmp_path / "occlusion.h5"
    occlude(
        str(run / "model.keras"),
        str(cornered),
        str(tiny_mnist / FILES["test_labels"]),
        str(run / "mistakes.csv"),
        str(out),
        images=[7, 0, 42],
        size=6,
        stride=2,
        fill=0.0,
        layer="conv1",
        batch_size=50,
    )
    with h5py.File(out) as h5:
        assert h5["test_index"][:].tolist() == [7, 0, 42]
        for key in ("probability_label", "predicted", "map_total"):
            inside = h5[key][:, :3, :3]
            unoccluded = h5[f"unoccluded/{key}"][:]
            np.testing.assert_allclose(
                inside, np.broadcast_to(unoccluded[:, None, None], inside.shape), rtol=1e-6
            )
            # and the occluder elsewhere does change the strongest map
        assert not np.allclose(h5["map_total"][:], h5["unoccluded/map_total"][:][:, None, None])
