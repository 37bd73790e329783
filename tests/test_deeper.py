"""A deeper network than the notebook's (examples/deeper.yaml) through every stage, on the
generated digits with few steps: each convolution dumped, ranked, projected, traced through
training and visualised, and its gallery, opened in headless Chromium, with a section per
ranked layer."""

from __future__ import annotations

import copy
import csv

import h5py
import pytest
import yaml
from test_pages import open_page

from conftest import REPO, TERMINAL, resolved_model, snakemake, tiny_config
from mnist_filters.network.table import LayerTable

pytestmark = pytest.mark.slow

CONVOLUTIONS = ["conv1", "conv2", "conv3"]


@pytest.fixture(scope="module")
def deeper(tiny_mnist, tmp_path_factory):
    example = yaml.safe_load((REPO / "examples" / "deeper.yaml").read_text())["runs"]["deeper"]
    run = copy.deepcopy(example)
    # few steps: what is checked is that every stage takes the network, not what it learns
    run["training"] = {"steps": 60, "log_every": 30}
    run["evolution"]["steps"] = [0, 60]
    run["invariance"]["images"] = 20
    run["feature_visualisation"] = {"enabled": True, "steps": 8}
    workdir = tmp_path_factory.mktemp("deeper")
    # beside the notebook's network, as the example runs beside `seed`: the two are compared
    notebook = {"training": run["training"]}
    result = snakemake(workdir, tiny_config(tiny_mnist, runs={"deeper": run, "notebook": notebook}))
    (workdir / TERMINAL).write_text(result.stderr)
    return workdir / "results" / "mnist" / "deeper", example


def test_every_convolution_is_dumped_with_the_tables_geometry(deeper):
    folder, example = deeper
    table = LayerTable.declared(resolved_model(example["model"])["layers"], (28, 28), 10)
    with h5py.File(folder / "activations.h5") as h5:
        for name in CONVOLUTIONS:
            assert h5[name].shape[1:] == table[name].output_shape
            assert (
                list(h5[name].attrs["receptive_field_size"]) == [table[name].geometry.rows.size] * 2
            )
        assert list(h5["conv3"].attrs["receptive_field_size"]) == [14, 14]  # 5, pool 2, 3, 3
        assert h5["weights/conv1/kernel"].shape == (5, 5, 1, 32)
    with open(folder / "rankings.csv", newline="") as handle:
        assert {row["layer"] for row in csv.DictReader(handle)} == set(CONVOLUTIONS)
    with h5py.File(folder / "projections.h5") as h5:
        assert sorted(h5) == CONVOLUTIONS
        assert h5["conv3/deconvnet"].shape[1:] == (14, 14)


def test_every_analysis_takes_the_deeper_network(deeper):
    folder, _example = deeper
    with h5py.File(folder / "snapshots.h5") as h5:
        assert sorted(name for name in h5 if name != "steps") == CONVOLUTIONS
    with open(folder / "evolution.csv", newline="") as handle:
        assert {row["layer"] for row in csv.DictReader(handle)} == set(CONVOLUTIONS)
    with h5py.File(folder / "features.h5") as h5:
        assert list(h5) == [*CONVOLUTIONS, "logits"]
        assert h5["conv3/images"].shape == (128, 28, 28)
    with h5py.File(folder / "occlusion.h5") as h5:
        assert h5.attrs["layer"] == "conv3"  # the last convolution, by default
    with open(folder / "invariance.csv", newline="") as handle:
        header = next(csv.reader(handle))
    assert [c for c in header if c.endswith("_distance")] == [
        "conv1_distance",
        "pool3_distance",
        "fc1_distance",
    ]
    overviews = {p.name for p in (folder / "figures" / "top_patches").glob("*_overview.png")}
    assert overviews == {f"{name}_overview.png" for name in CONVOLUTIONS}
    assert (folder / "figures" / "top_patches" / "progression.png").is_file()
    assert (folder / "figures" / "evolution" / "conv1_filters_through_training.png").is_file()
    assert (folder / "figures" / "features" / "conv3.png").is_file()


def test_runs_of_two_networks_are_compared(deeper):
    folder, _example = deeper
    comparison = folder.parent / "sweeps" / "runs"
    with open(comparison / "runs.csv", newline="") as handle:
        rows = {row["run"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"deeper", "notebook"}
    # a layer one network lacks is an empty cell of the other's row
    assert rows["deeper"]["model.conv3.filters"] == "128"
    assert rows["notebook"]["model.conv3.filters"] == ""
    assert (comparison / "filters.png").is_file()


def test_the_gallery_has_a_section_per_ranked_layer(deeper, tmp_path):
    folder, _example = deeper
    dom = open_page(folder / "gallery" / "index.html", tmp_path, "--dump-dom").stdout
    for name, filters in zip(CONVOLUTIONS, (32, 64, 128)):
        assert f'id="{name}"' in dom, name
        assert all(f'id="{name}-f{f:02d}"' in dom for f in range(filters)), name
    assert 'id="evolution-conv3"' in dom and 'id="features-conv3-u127"' in dom
