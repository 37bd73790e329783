"""`make verify`'s parts: bitwise comparisons that say where two results first differ, the
user's arguments kept, and the run's data set found."""

import h5py
import numpy as np
import pytest
import yaml

from mnist_filters.verify import (
    compare_csv,
    compare_hdf5,
    config_items,
    first_difference,
    locate,
    split_config_arguments,
)


def test_first_difference_is_bitwise_and_finds_the_first_index():
    a = np.zeros((3, 4), np.float32)
    b = a.copy()
    assert first_difference(a, b) is None
    b[2, 1], b[2, 3] = 1e-30, 5
    assert first_difference(a, b) == (2, 1)
    assert first_difference(np.array([np.nan]), np.array([np.nan])) is None
    assert first_difference(np.array([0.0]), np.array([-0.0])) == (0,)


def test_hdf5_and_csv_comparisons_say_where(tmp_path):
    def h5(path, value):
        with h5py.File(path, "w") as f:
            data = np.zeros((2500, 2), np.float32)
            data[2100, 1] = value
            f["conv1"] = data
            f["labels"] = np.arange(3)
            f.attrs["started"] = str(path)  # attributes are not compared

    h5(tmp_path / "a.h5", 0)
    h5(tmp_path / "b.h5", 0)
    h5(tmp_path / "c.h5", 1)
    assert compare_hdf5(tmp_path / "a.h5", tmp_path / "b.h5").identical
    outcome = compare_hdf5(tmp_path / "a.h5", tmp_path / "c.h5")
    assert not outcome.identical and "conv1 first differs at index (2100, 1)" in outcome.detail
    (tmp_path / "a.csv").write_text("layer,filter,activation\nconv1,0,1.5\nconv1,1,1.25\n")
    (tmp_path / "b.csv").write_text("layer,filter,activation\nconv1,0,1.5\nconv1,1,1.5\n")
    outcome = compare_csv(tmp_path / "a.csv", tmp_path / "b.csv")
    assert (
        not outcome.identical
        and "line 3, column activation: '1.25' (cached) vs '1.5'" in outcome.detail
    )
    assert compare_csv(tmp_path / "a.csv", tmp_path / "a.csv").identical


def test_verify_keeps_the_users_config_arguments():
    files, items, threads, rest = split_config_arguments(
        [
            "--configfile",
            "a.yaml",
            "b.yaml",
            "--cores",
            "2",
            "--config",
            "data={local_dir: x}",
            "--set-threads",
            "plot_top_patches=1",
            "-n",
        ]
    )
    assert (files, items, threads, rest) == (
        ["a.yaml", "b.yaml"],
        ["data={local_dir: x}"],
        ["plot_top_patches=1"],
        ["--cores", "2", "-n"],
    )


def test_verify_merges_its_data_block_into_the_users():
    items = config_items(
        ["data={local_dir: x, retries: 5}", "runs={a: {}}"],
        data={"set": "kmnist", "local_dir": "y"},
    )
    assert [yaml.safe_load(item.split("=", 1)[1]) for item in items] == [
        {"local_dir": "y", "retries": 5, "set": "kmnist"},
        {"a": {}},
    ]


def test_verify_finds_the_data_set_of_a_run_or_asks_for_it(tmp_path):
    (tmp_path / "results" / "fashion-mnist" / "seed").mkdir(parents=True)
    assert locate(tmp_path, "seed") == ("fashion-mnist", "seed")
    assert locate(tmp_path, "kmnist/seed") == ("kmnist", "seed")
    assert locate(tmp_path, "other") == ("mnist", "other")  # not made yet: the default set says so
    (tmp_path / "results" / "mnist" / "seed").mkdir(parents=True)
    with pytest.raises(SystemExit, match="RUN=fashion-mnist/seed or RUN=mnist/seed"):
        locate(tmp_path, "seed")
