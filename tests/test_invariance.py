"""Invariance to shifts, rotation and scale: the transforms and the distances against oracles."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from test_occlusion import NOTEBOOK

from mnist_filters.dataset import FILES, to_model_input
from mnist_filters.idx import read_idx
from mnist_filters.stages.invariance import (
    TRANSFORMATIONS,
    measure_invariance,
    relative_distance,
    sampled_images,
    transform_values,
    transformed,
)

SMALL = {
    "vertical_shift": {"min": -2, "max": 2, "count": 3},
    "horizontal_shift": {"min": -4, "max": 4, "count": 5},
    "rotation": {"min": -30, "max": 30, "count": 3},
    "scale": {"min": 0.8, "max": 1.2, "count": 3},
}


def test_range_settings_are_evenly_spaced_with_both_ends():
    assert transform_values({"min": -8, "max": 8, "count": 17}).tolist() == list(range(-8, 9))
    assert transform_values({"min": 0.5, "max": 1.5, "count": 3}).tolist() == [0.5, 1.0, 1.5]


@pytest.mark.parametrize(
    "transformation, identity",
    [("vertical_shift", 0), ("horizontal_shift", 0), ("rotation", 0), ("scale", 1)],
)
def test_the_identity_of_each_transformation_changes_no_pixel(transformation, identity):
    images = np.random.default_rng(0).random((3, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(transformed(images, transformation, identity, 0.0), images)


def test_shifts_move_whole_pixels_and_fill_what_comes_in():
    images = np.random.default_rng(1).random((2, 28, 28, 1)).astype(np.float32)
    down = transformed(images, "vertical_shift", 3, 0.25)
    np.testing.assert_array_equal(down[:, 3:], images[:, :-3])
    assert (down[:, :3] == 0.25).all()
    left = transformed(images, "horizontal_shift", -2, 0.0)
    np.testing.assert_array_equal(left[:, :, :-2], images[:, :, 2:])
    assert (left[:, :, -2:] == 0).all()


def test_rotation_is_anticlockwise_and_scale_grows_about_the_centre():
    image = np.zeros((1, 29, 29, 1), np.float32)
    image[0, 14, 24] = 1.0  # 10 pixels right of the centre (14, 14)
    turned = transformed(image, "rotation", 90, 0.0)[0, :, :, 0]
    assert np.unravel_index(turned.argmax(), turned.shape) == (4, 14)  # now 10 above it
    assert turned.max() == pytest.approx(1.0, abs=1e-5)
    image = np.zeros((1, 29, 29, 1), np.float32)
    image[0, 14, 18] = 1.0
    grown = transformed(image, "scale", 2, 0.0)[0, :, :, 0]
    assert np.unravel_index(grown.argmax(), grown.shape) == (14, 22)


def test_relative_distance():
    original = np.array([[3.0, 4.0], [0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    changed = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
    assert relative_distance(original, changed).tolist() == [0.0, 0.0, np.inf, 2.0]


def test_the_sample_is_seeded_unique_and_ascending():
    first = sampled_images(500, 50, seed=3)
    assert first.tolist() == sampled_images(500, 50, seed=3).tolist() == sorted(set(first.tolist()))
    assert first.tolist() != sampled_images(500, 50, seed=4).tolist()
    with pytest.raises(ValueError, match="the test set has 500"):
        sampled_images(500, 501, seed=0)


@pytest.mark.parametrize("axis", [1, 2], ids=["down", "right"])
def test_a_shift_by_one_conv1_stride_shifts_conv1s_map_by_one_unit(axis):
    """conv1 (12x12, stride 2, VALID): 2 pixels down (right) move every unit one row (column),
    bitwise; the first row (column) is the only one that sees the filled-in border."""
    from mnist_filters.network.build import build_model
    from mnist_filters.network.probe import Probe

    model = build_model(NOTEBOOK, seed=2, portable=True)
    images = to_model_input(np.random.default_rng(2).integers(0, 256, (4, 28, 28), dtype=np.uint8))
    shifted = transformed(images, "vertical_shift" if axis == 1 else "horizontal_shift", 2, 0.0)
    probe = Probe(model, ["conv1"])
    original, moved = probe(images, 8)[0]["conv1"], probe(shifted, 8)[0]["conv1"]
    assert original.shape == (4, 9, 9, 25)
    if axis == 1:
        np.testing.assert_array_equal(moved[:, 1:], original[:, :-1])
        assert not np.array_equal(moved[:, 0], original[:, 0])
    else:
        np.testing.assert_array_equal(moved[:, :, 1:], original[:, :, :-1])
        assert not np.array_equal(moved[:, :, 0], original[:, :, 0])


def test_the_stage_on_the_workflows_model(tiny_run, tiny_mnist, tmp_path):
    """Every (transformation, value, image) once; identities at distance exactly 0, with the
    dump's probability of the true label; larger changes further away on average."""
    import h5py

    from mnist_filters.classification import softmax

    run = tiny_run / "results" / "mnist" / "tiny"
    out, examples = tmp_path / "invariance.csv", tmp_path / "examples.h5"
    measure_invariance(
        str(run / "model.keras"),
        str(tiny_mnist / FILES["test_images"]),
        str(tiny_mnist / FILES["test_labels"]),
        str(out),
        str(examples),
        images=40,
        seed=5,
        ranges=SMALL,
        layers=["conv1", "pool2", "fc1"],
        batch_size=16,
    )
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    chosen = sampled_images(500, 40, seed=5)
    assert len(rows) == 40 * (3 + 5 + 3 + 3)
    assert [r["transformation"] for r in rows[::40]] == [
        t for t in TRANSFORMATIONS for _ in range(SMALL[t]["count"])
    ]
    with h5py.File(run / "activations.h5") as h5:
        dump = softmax(h5["logits"][:])
    labels = read_idx(tiny_mnist / FILES["test_labels"])
    for row in rows:
        assert (
            int(row["test_index"]) in chosen and int(row["label"]) == labels[int(row["test_index"])]
        )
        if float(row["value"]) == (1.0 if row["transformation"] == "scale" else 0.0):
            assert all(float(row[f"{layer}_distance"]) == 0 for layer in ("conv1", "pool2", "fc1"))
            assert float(row["probability_label"]) == pytest.approx(
                dump[int(row["test_index"]), int(row["label"])], rel=1e-5
            )
    shifts = {
        v: np.mean(
            [
                float(r["fc1_distance"])
                for r in rows
                if r["transformation"] == "horizontal_shift" and float(r["value"]) == v
            ]
        )
        for v in (-4.0, -2.0, 0.0, 2.0, 4.0)
    }
    assert shifts[0.0] == 0 < shifts[2.0] < shifts[4.0] and shifts[-2.0] < shifts[-4.0]
    with h5py.File(examples) as h5:
        assert h5.attrs["test_index"] == chosen[0]
        assert h5["rotation"].shape == (3, 28, 28) and h5["rotation"].attrs["values"].tolist() == [
            -30,
            0,
            30,
        ]
        np.testing.assert_array_equal(
            h5["rotation"][1],
            to_model_input(read_idx(tiny_mnist / FILES["test_images"])[chosen[:1]])[0, :, :, 0],
        )
