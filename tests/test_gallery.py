"""The gallery's data, links and page, each on its own (the page in Chromium: test_pages.py and
test_projections_workflow.py)."""

from __future__ import annotations

import base64
import json
import re

import h5py
import numpy as np
import pytest

from mnist_filters.stages.gallery import navigation, page_data, render
from mnist_filters.stages.rank import read_rankings

DIGITS = tuple(str(i) for i in range(10))


def decoded(text: str, dtype, shape) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=dtype).reshape(shape)


@pytest.mark.slow
def test_the_data_hold_every_ranked_unit_with_its_projections(tiny_run):
    run = tiny_run / "results" / "mnist" / "tiny"
    test_images = tiny_run / "resources" / "mnist" / "t10k-images-idx3-ubyte.gz"
    data = page_data(
        str(run / "rankings.csv"),
        str(test_images),
        str(run / "projections.h5"),
        classes=DIGITS,
        mistakes=str(run / "mistakes.csv"),
        sections={
            "evolution": {"kind": "evolution", "path": str(run / "evolution.csv")},
            "occlusion": {
                "kind": "figures",
                "path": str(run / "figures" / "occlusion"),
                "title": "Occlusion sensitivity",
                "note": "one figure per occluded test image",
            },
        },
    )
    ranked = read_rankings(str(run / "rankings.csv"))
    with h5py.File(run / "projections.h5") as h5:
        methods = [str(m) for m in h5.attrs["methods"]]
        assert data["methods"] == methods
        for layer, info in data["layers"].items():
            rows = list(h5[f"{layer}/{methods[0]}"].attrs["rows"])
            assert [entry["filter"] for entry in info["filters"]] == sorted(
                f for (name, f) in ranked if name == layer
            )
            for entry in info["filters"]:
                units = ranked[(layer, entry["filter"])]
                assert [hit["rank"] for hit in entry["hits"]] == [unit.rank for unit in units]
                for method in methods:
                    maps = h5[f"{layer}/{method}"][[rows.index(unit.number) for unit in units]]
                    scale = float(np.abs(maps).max()) or 1.0
                    assert entry["scales"][method] == scale
                    shown = np.stack(
                        [
                            decoded(hit["projections"][method], np.int8, maps.shape[1:])
                            for hit in entry["hits"]
                        ]
                    )
                    np.testing.assert_array_equal(
                        shown, np.round(maps / scale * 127).astype(np.int8)
                    )
                for hit, unit in zip(entry["hits"], units):
                    assert hit["image"] == unit.image_index and tuple(hit["box"]) == unit.box
    shown_images = {
        hit["image"]
        for info in data["layers"].values()
        for entry in info["filters"]
        for hit in entry["hits"]
    }
    shown_images |= {m["image"] for m in data["mistakes"]}
    assert set(map(int, data["images"])) == shown_images | {
        cell["image"]
        for info in data["evolution"].values()
        for entry in info["filters"]
        for cell in entry["cells"]
    }
    assert [group["id"] for group in data["figures"]] == ["occlusion"] and data["figures"][0][
        "figures"
    ]


def small_data(label: str = "label 3") -> dict:
    hit = {
        "rank": 1,
        "activation": "1.5",
        "label": label,
        "image": 4,
        "box": [0, 0, 2, 2],
        "origin": [0, 0],
        "projections": {"deconvnet": base64.b64encode(np.zeros(4, np.int8).tobytes()).decode()},
    }
    return {
        "methods": ["deconvnet"],
        "image_shape": [2, 2],
        "layers": {
            "conv1": {
                "field": [2, 2],
                "filters": [
                    {"filter": 0, "scales": {"deconvnet": 1.0}, "hits": [hit]},
                    {"filter": 7, "scales": {"deconvnet": 1.0}, "hits": [hit]},
                ],
            }
        },
        "mistakes": [],
        "evolution": {"conv2": {"steps": [0], "filters": []}},
        "features": {"logits": {"objective": "unit", "units": []}},
        "figures": [{"id": "invariance", "title": "Invariance", "note": "", "figures": []}],
        "images": {"4": base64.b64encode(bytes(4)).decode()},
    }


def test_the_navigation_links_every_filter_and_section():
    assert navigation(small_data()) == (
        '<a href="#conv1"><b>conv1</b></a> <a href="#conv1-f00">0</a> <a '
        'href="#conv1-f07">7</a><br>'
        '<a href="#evolution-conv2">conv2 through training</a> '
        '<a href="#features-logits">logits optimised inputs</a> <a href="#mistakes">mistakes</a> '
        '<a href="#invariance">invariance</a>'
    )
    without = {
        **small_data(),
        "mistakes": None,
        "evolution": None,
        "features": None,
        "figures": [],
    }
    links = navigation(without)
    assert not any(word in links for word in ("mistakes", "training", "optimised"))


def test_the_page_carries_the_data_whole_and_text_in_it_cannot_close_the_script():
    data = small_data(label='</script><script>alert("x")</script>')
    page = render(data, "a~b")
    assert page.count("</script>") == 2  # the data's element and the drawing script's
    found = re.search(
        r'<script id="data" type="application/json">(.*?)</script>', page, re.S
    ).group(1)
    assert json.loads(found) == data
    assert "<title>mnist-filters: what the filters of run a~b see</title>" in page
    assert page.endswith("</html>\n")


def test_a_run_name_is_escaped_in_the_page():
    assert "<title>mnist-filters: what the filters of run &lt;b&gt; see</title>" in render(
        small_data(), "<b>"
    )
