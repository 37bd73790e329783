"""A browsable gallery of every projected filter: results/<data set>/{run}/gallery/index.html,
and of what the other analyses found (mistakes, features through training, optimised inputs,
occlusion, invariance).

One self-contained page that opens from disk (no server, no network): a section per layer,
an anchor per filter (`#conv2-f05`), and for each of the filter's top hits the whole test
image with the receptive field boxed, the patch, its projection by each method, and the
rank, activation, label and index of the image in the test file. The pixels travel as
JSON inside the page (images as bytes, projections as int8 on a per-filter scale, stated),
and a short script draws them into canvases.

The page itself is the Jinja template gallery.html beside this module (its HTML, CSS and
drawing script); page_data builds the JSON it draws, navigation its links.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from mnist_filters.atomic import atomic_directory
from mnist_filters.dataset import label_text
from mnist_filters.idx import read_idx
from mnist_filters.stages.rank import read_rankings

# The page: HTML, CSS and the script that draws the data into canvases; the data arrive as JSON.
TEMPLATE = Path(__file__).with_name("gallery.html")


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


# The kinds of section the page shows beyond the projections, by how each is read: a strip
# through training per filter (evolution.csv), optimised inputs (features.h5), or a folder of
# figures under a title.
SECTION_KINDS = ("evolution", "features", "figures")


def gallery(
    rankings: str,
    test_images: str,
    projections: str,
    output: str,
    *,
    run: str,
    classes: Sequence[str],
    mistakes: str | None = None,
    sections: dict[str, dict] | None = None,
) -> None:
    """Write `output`/index.html: see page_data for what it shows."""
    data = page_data(
        rankings, test_images, projections, classes=classes, mistakes=mistakes, sections=sections
    )
    page = render(data, run)
    with atomic_directory(output) as folder:
        (Path(folder) / "index.html").write_text(page, encoding="utf-8")


def page_data(
    rankings: str,
    test_images: str,
    projections: str,
    *,
    classes: Sequence[str],
    mistakes: str | None = None,
    sections: dict[str, dict] | None = None,
) -> dict:
    """What the page shows, as JSON-ready data: the projected filters of rankings.csv
    (`classes`: the class name of each label), every mistake (mistakes.csv) where given, and
    `sections`: name -> {kind, path, and for figures title and note} (rules/common.smk's
    RUN_STAGES), of the SECTION_KINDS: each filter's strip through training (evolution.csv),
    each unit's optimised input(s) and best test image (features.h5), a folder of figures.
    Every test image it shows is in `images`, once, as base64 bytes."""
    sections = sections or {}
    unknown = {entry["kind"] for entry in sections.values()} - set(SECTION_KINDS)
    if unknown:
        raise ValueError(f"unknown gallery section kind {sorted(unknown)}; known: {SECTION_KINDS}")
    by_kind = {
        kind: [(name, entry) for name, entry in sections.items() if entry["kind"] == kind]
        for kind in SECTION_KINDS
    }
    evolution = next((entry["path"] for _name, entry in by_kind["evolution"]), None)
    features = next((entry["path"] for _name, entry in by_kind["features"]), None)
    images = read_idx(test_images)
    ranked = {unit.number: unit for units in read_rankings(rankings).values() for unit in units}
    layers, used = {}, set()
    with h5py.File(projections, "r") as h5:
        methods = [str(m) for m in h5.attrs["methods"]]
        for layer in h5:
            rows = h5[f"{layer}/{methods[0]}"].attrs["rows"]
            maps = {method: h5[f"{layer}/{method}"][:] for method in methods}
            origins = h5[f"{layer}/field_origin"][:]
            by_filter: dict[int, list[int]] = {}
            for position, number in enumerate(rows):
                by_filter.setdefault(ranked[int(number)].filter, []).append(position)
            filters = []
            for f, positions in sorted(by_filter.items()):
                positions.sort(key=lambda p: ranked[int(rows[p])].rank)
                scales = {m: float(np.abs(maps[m][positions]).max()) or 1.0 for m in methods}
                hits = []
                for p in positions:
                    unit = ranked[int(rows[p])]
                    used.add(unit.image_index)
                    hits.append(
                        {
                            "rank": unit.rank,
                            "activation": f"{unit.activation:.3g}",
                            "label": label_text(unit.label, classes),
                            "image": unit.image_index,
                            "box": list(unit.box),
                            "origin": [int(v) for v in origins[p]],
                            "projections": {
                                m: _b64(np.round(maps[m][p] / scales[m] * 127).astype(np.int8))
                                for m in methods
                            },
                        }
                    )
                filters.append({"filter": f, "scales": scales, "hits": hits})
            layers[layer] = {"field": list(maps[methods[0]].shape[1:]), "filters": filters}
    data = {
        "methods": methods,
        "image_shape": list(images.shape[1:]),
        "layers": layers,
        "mistakes": _mistakes(mistakes, classes, used) if mistakes else None,
        "evolution": _evolution(evolution, used) if evolution else None,
        "features": _features(features, used) if features else None,
        "figures": [_figure_group(name, entry) for name, entry in by_kind["figures"]],
    }
    data["images"] = {str(i): _b64(images[i].astype(np.uint8)) for i in sorted(used)}
    return data


def navigation(data: dict) -> str:
    """The page's links: each layer and its filters, then each further section, as HTML."""
    links = " ".join(
        f'<a href="#{layer}"><b>{layer}</b></a> '
        + " ".join(
            f'<a href="#{layer}-f{entry["filter"]:02d}">{entry["filter"]}</a>'
            for entry in info["filters"]
        )
        + "<br>"
        for layer, info in data["layers"].items()
    )
    return links + " ".join(
        [
            f'<a href="#evolution-{layer}">{layer} through training</a>'
            for layer in data["evolution"] or {}
        ]
        + [
            f'<a href="#features-{layer}">{layer} optimised inputs</a>'
            for layer in data["features"] or {}
        ]
        + (['<a href="#mistakes">mistakes</a>'] if data["mistakes"] is not None else [])
        + [
            f'<a href="#{group["id"]}">{html.escape(group["title"].lower())}</a>'
            for group in data["figures"]
        ]
    )


def render(data: dict, run: str) -> str:
    """The page of `data` (page_data's) for run `run`, from TEMPLATE."""
    import jinja2
    from markupsafe import Markup

    environment = jinja2.Environment(
        autoescape=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined
    )
    template = environment.from_string(TEMPLATE.read_text(encoding="utf-8"))
    # "</" escaped, so that no string in the data can close the script element that holds it
    return template.render(
        title=f"mnist-filters: what the filters of run {run} see",
        navigation=Markup(navigation(data)),
        colour=len(data["image_shape"]) == 3,
        data=Markup(json.dumps(data).replace("</", "<\\/")),
    )


def _mistakes(path: str, classes: Sequence[str], used: set[int]) -> list[dict]:
    from mnist_filters.stages.mistakes import read_mistakes

    rows = read_mistakes(path)
    used.update(row["image_index"] for row in rows)
    return [
        {
            "rank": row["rank"],
            "image": row["image_index"],
            "label": label_text(row["label"], classes),
            "predicted": label_text(row["predicted"], classes),
            "p_label": f"{row['probability_label']:.2g}",
            "p_predicted": f"{row['probability_predicted']:.3f}",
        }
        for row in rows
    ]


def _evolution(path: str, used: set[int]) -> dict:
    from mnist_filters.formats.snapshots import read_evolution

    layers: dict[str, dict] = {}
    for row in read_evolution(path):
        layer = layers.setdefault(row["layer"], {"steps": [], "filters": {}})
        if row["step"] not in layer["steps"]:
            layer["steps"].append(row["step"])
        used.add(row["image_index"])
        layer["filters"].setdefault(row["filter"], []).append(
            {
                "image": row["image_index"],
                "activation": f"{row['activation']:.3g}",
                "box": [row[key] for key in ("y0", "x0", "y1", "x1")],
            }
        )
    return {
        name: {
            "steps": sorted(info["steps"]),
            "filters": [
                {"filter": f, "cells": cells} for f, cells in sorted(info["filters"].items())
            ],
        }
        for name, info in layers.items()
    }


def _features(path: str, used: set[int]) -> dict:
    from mnist_filters.formats.features import read_features

    layers = {}
    for layer, entry in read_features(path).items():
        images = entry.get("diverse_images", entry["images"][:, None])
        names = entry.get("unit_names")
        used.update(int(i) for i in entry["best_test_index"])
        layers[layer] = {
            "objective": entry["objective_kind"],
            "units": [
                {
                    "unit": int(unit),
                    "name": names[i] if names else None,
                    "images": [_b64(np.round(image).astype(np.uint8)) for image in images[i]],
                    "objective": f"{entry['objective'][i]:.3g}",
                    "best": f"{entry['best_test_value'][i]:.3g}",
                    "best_image": int(entry["best_test_index"][i]),
                }
                for i, unit in enumerate(entry["units"])
            ],
        }
    return layers


def _figure_group(name: str, entry: dict) -> dict:
    files = sorted(Path(entry["path"]).glob("*.png"))
    return {
        "id": name,
        "title": entry["title"],
        "note": entry["note"],
        "figures": [
            {"name": path.stem, "png": base64.b64encode(path.read_bytes()).decode("ascii")}
            for path in files
        ],
    }
