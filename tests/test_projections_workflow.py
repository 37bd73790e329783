"""The projection stage, its figures and the gallery, through the workflow (conv1, conv2 and
pool2)."""

import csv

import h5py
import numpy as np
import pytest

from conftest import open_page, planned, snakemake, tiny_config

pytestmark = pytest.mark.slow
LAYERS = ["conv1", "conv2", "pool2"]
METHODS = ["deconvnet", "guided", "gradient"]
FIELDS = {"conv1": (12, 12), "conv2": (20, 20), "pool2": (22, 22)}


def deep_config(tiny_mnist, **projections):
    config = tiny_config(tiny_mnist)
    config["defaults"]["activations"] = {"layers": LAYERS}
    config["defaults"]["ranking"] = {"top_k": 6}
    if projections:
        config["defaults"]["projections"] = projections
    return config


@pytest.fixture(scope="module")
def deep_run(tiny_mnist, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("deep-run")
    snakemake(workdir, deep_config(tiny_mnist))
    return workdir


@pytest.fixture(autouse=True)
def config_restored(deep_run, tiny_mnist):
    yield
    from conftest import write_config

    write_config(deep_run, deep_config(tiny_mnist))


def rankings(workdir):
    with open(workdir / "results" / "mnist" / "tiny" / "rankings.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_projections_h5_holds_each_layer_and_method_in_rankings_order(deep_run):
    rows = rankings(deep_run)
    with h5py.File(deep_run / "results" / "mnist" / "tiny" / "projections.h5", "r") as h5:
        assert [str(m) for m in h5.attrs["methods"]] == METHODS
        assert len(h5.attrs["model_sha256"]) == 64
        for layer in LAYERS:
            numbers = [i for i, row in enumerate(rows) if row["layer"] == layer]
            for method in METHODS:
                dataset = h5[f"{layer}/{method}"]
                assert (
                    dataset.shape == (len(numbers), *FIELDS[layer]) and dataset.dtype == np.float32
                )
                assert list(dataset.attrs["rows"]) == numbers
                assert dataset.attrs["method"] == method


def test_conv1_projections_are_the_filters_on_the_workflows_own_model(deep_run):
    rows = rankings(deep_run)
    with h5py.File(deep_run / "results" / "mnist" / "tiny" / "activations.h5", "r") as h5:
        kernel = h5["weights/conv1/kernel"][:]
    with h5py.File(deep_run / "results" / "mnist" / "tiny" / "projections.h5", "r") as h5:
        for method in ("deconvnet", "gradient"):
            maps = h5[f"conv1/{method}"][:]
            for i, number in enumerate(h5[f"conv1/{method}"].attrs["rows"]):
                np.testing.assert_allclose(
                    maps[i], kernel[:, :, 0, int(rows[number]["filter"])], rtol=0, atol=1e-6
                )


def test_deeper_projections_are_zero_outside_the_image_and_alive_inside(deep_run):
    with h5py.File(deep_run / "results" / "mnist" / "tiny" / "projections.h5", "r") as h5:
        for layer in ("conv2", "pool2"):
            origins = h5[f"{layer}/field_origin"][:]
            for method in METHODS:
                maps = h5[f"{layer}/{method}"][:]
                for values, (y, x) in zip(maps, origins):
                    rows_in = np.arange(values.shape[0]) + y
                    cols_in = np.arange(values.shape[1]) + x
                    outside = (
                        ~((rows_in >= 0) & (rows_in < 28))[:, None]
                        | ~((cols_in >= 0) & (cols_in < 28))[None, :]
                    )
                    assert not values[outside].any(), (layer, method)
                assert (np.abs(maps).reshape(len(maps), -1).max(axis=1) > 0).all(), (layer, method)


def test_projections_are_bitwise_reproducible(deep_run, tiny_mnist):
    path = deep_run / "results" / "mnist" / "tiny" / "projections.h5"
    with h5py.File(path, "r") as h5:
        before = {
            f"{layer}/{m}": h5[f"{layer}/{m}"][:].tobytes() for layer in LAYERS for m in METHODS
        }
    # what follows is remade too, leaving the workdir complete for the other tests
    snakemake(deep_run, deep_config(tiny_mnist), "--forcerun", "project_patches")
    with h5py.File(path, "r") as h5:
        assert {key: h5[key][:].tobytes() for key in before} == before


def test_a_figure_per_filter_and_an_overview_per_layer_and_method(deep_run):
    names = {
        path.name
        for path in (deep_run / "results" / "mnist" / "tiny" / "figures" / "projections").iterdir()
    }
    for layer, count in (("conv1", 25), ("conv2", 64), ("pool2", 64)):
        assert {f"{layer}_filter{f:02d}.png" for f in range(count)} <= names
        assert {f"{layer}_{m}_overview.png" for m in METHODS} <= names


def test_reruns_top_k_reprojects(deep_run, tiny_mnist):
    config = deep_config(tiny_mnist)
    config["defaults"]["ranking"] = {"top_k": 4}
    assert planned(deep_run, config) == {
        (rule, "tiny")
        for rule in (
            "rank_patches",
            "plot_top_patches",
            "project_patches",
            "plot_projections",
            "gallery",
        )
    }


def test_reruns_a_dpi_only_redraws(deep_run, tiny_mnist):
    config = deep_config(tiny_mnist)
    config["defaults"]["figures"] = {"projections": {"dpi": 50}}
    assert planned(deep_run, config) == {("plot_projections", "tiny")}


def test_reruns_a_method_change_reprojects_only(deep_run, tiny_mnist):
    assert planned(deep_run, deep_config(tiny_mnist, methods=["guided"])) == {
        (rule, "tiny") for rule in ("project_patches", "plot_projections", "gallery")
    }


@pytest.mark.parametrize(
    "projections, message",
    [
        ({"methods": ["lrp"]}, "'lrp' is not one of ['deconvnet', 'guided', 'gradient']"),
        ({"layers": ["conv2"]}, "projections.layers ['conv2'] are not dumped"),
    ],
)
def test_bad_projection_settings_are_refused(tiny_mnist, tmp_path, projections, message):
    config = tiny_config(tiny_mnist)
    config["defaults"]["projections"] = projections
    result = snakemake(tmp_path, config, "-n", check=False)
    assert result.returncode != 0 and message in result.stdout + result.stderr


def test_the_gallery_opens_from_disk_in_chromium(deep_run, tmp_path):
    page = deep_run / "results" / "mnist" / "tiny" / "gallery" / "index.html"
    result = open_page(page, tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom")
    dom = result.stdout
    assert dom.count('class="filter"') == 25 + 64 + 64, result.stderr[-2000:]
    for layer, count in (("conv1", 25), ("conv2", 64)):
        assert all(f'id="{layer}-f{f:02d}"' in dom for f in range(count)), layer
    with open(deep_run / "results" / "mnist" / "tiny" / "mistakes.csv", newline="") as handle:
        mistakes = len(list(csv.DictReader(handle)))
    assert (
        dom.count("<canvas") == (25 + 64 + 64) * 6 * (2 + len(METHODS)) + mistakes
    )  # and each mistake's image
    console = [
        line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
    ]
    assert not console, console
    shot = tmp_path / "gallery.png"
    open_page(page, tmp_path, "--window-size=1200,1400", f"--screenshot={shot}").check_returncode()
    import matplotlib.pyplot as plt

    pixels = plt.imread(shot)[..., :3]
    assert pixels.std() > 0.1, "the gallery's screenshot is blank"
    assert (
        np.abs(pixels - [1.0, 0.0, 0.0]).max(axis=-1) < 0.3
    ).sum() > 200  # red field boxes drawn


def test_the_report_links_the_gallery(deep_run, tiny_mnist):
    snakemake(deep_run, deep_config(tiny_mnist), "--report", "report.html")
    html = (deep_run / "report.html").read_text(errors="replace")
    assert "gallery/index.html" in html
