"""A browsable gallery of every projected filter: results/<data set>/{run}/gallery/index.html,
and of what the other analyses found (mistakes, features through training, occlusion, invariance).

One self-contained page that opens from disk (no server, no network): a section per layer,
an anchor per filter (`#conv2-f05`), and for each of the filter's top hits the whole test
image with the receptive field boxed, the patch, its projection by each method, and the
rank, activation, label and index of the image in the test file. The pixels travel as
JSON inside the page (images as bytes, projections as int8 on a per-filter scale, stated),
and a short script draws them into canvases.
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

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 1em 2em; color: #222; }}
nav a {{ margin-right: 0.4em; }}
.filter {{ border-top: 1px solid #ccc; padding: 0.5em 0; }}
.hits {{ display: flex; flex-wrap: wrap; gap: 10px; }}
.hit {{ font-size: 11px; text-align: center; }}
.hit canvas {{ image-rendering: pixelated; border: 1px solid #bbb; margin: 1px; }}
.scale {{ font-size: 12px; color: #555; }}
.mistake {{ width: 130px; }}
img.figure {{ max-width: 100%; display: block; margin: 0.5em 0; border: 1px solid #ddd; }}
</style></head>
<body>
<h1>{title}</h1>
<p>For each filter, its strongest units on the test set. Per hit: the test image with the unit's
receptive field boxed in red, the patch, and its projection back to pixels by each method (red
raises the activation, blue lowers it, white leaves it; one symmetric scale per filter and method,
given with the filter). Methods: deconvnet (Zeiler &amp; Fergus), guided (guided backpropagation),
gradient (plain). After them, where the run made them: each filter's strongest test patch through
training, every misclassified test image, and the occlusion and invariance figures.</p>
<nav>{navigation}</nav>
<div id="gallery"></div>
<script id="data" type="application/json">{data}</script>
<script>
"use strict";
const data = JSON.parse(document.getElementById("data").textContent);
const bytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const images = Object.fromEntries(Object.entries(data.images).map(([k, v]) => [k, bytes(v)]));
const ZOOM = 4;

function canvas(width, height, paint) {{
  const c = document.createElement("canvas");
  c.width = width; c.height = height;
  c.style.width = width * ZOOM + "px"; c.style.height = height * ZOOM + "px";
  const context = c.getContext("2d");
  const pixels = context.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {{
    const [r, g, b] = paint(i);
    pixels.data.set([r, g, b, 255], 4 * i);
  }}
  context.putImageData(pixels, 0, 0);
  return c;
}}

function signed(value) {{  // -127..127 -> blue, white, red
  const t = Math.min(1, Math.abs(value) / 127);
  const fade = Math.round(255 * (1 - t));
  return value >= 0 ? [255, fade, fade] : [fade, fade, 255];
}}

function hitView(layer, hit, methods) {{
  const box = document.createElement("div");
  box.className = "hit";
  const [rows, cols] = data.image_shape;
  const image = images[hit.image];
  const [y0, x0, y1, x1] = hit.box;
  const [fy, fx] = hit.origin;
  const [fh, fw] = data.layers[layer].field;
  box.appendChild(canvas(cols, rows, (i) => {{
    const y = Math.floor(i / cols), x = i % cols;
    const edge = (y === y0 || y === y1 - 1) && x >= x0 && x < x1 || (x === x0 || x === x1 - 1) && y >= y0 && y < y1;
    return edge ? [220, 30, 30] : [image[i], image[i], image[i]];
  }}));
  box.appendChild(canvas(fw, fh, (i) => {{
    const y = fy + Math.floor(i / fw), x = fx + i % fw;
    if (y < 0 || x < 0 || y >= rows || x >= cols) return [159, 197, 232];
    const v = image[y * cols + x];
    return [v, v, v];
  }}));
  for (const method of methods) {{
    const values = new Int8Array(bytes(hit.projections[method]).buffer);
    box.appendChild(canvas(fw, fh, (i) => signed(values[i])));
  }}
  const caption = document.createElement("div");
  caption.textContent = `#${{hit.rank}} act ${{hit.activation}} ${{hit.label}} image ${{hit.image}}`;
  box.appendChild(caption);
  return box;
}}

const root = document.getElementById("gallery");
for (const [layer, info] of Object.entries(data.layers)) {{
  const section = document.createElement("section");
  section.id = layer;
  section.innerHTML = `<h2>${{layer}}: ${{info.filters.length}} filters, receptive field ${{info.field[0]}}x${{info.field[1]}}</h2>`;
  for (const filter of info.filters) {{
    const block = document.createElement("div");
    block.className = "filter";
    block.id = `${{layer}}-f${{String(filter.filter).padStart(2, "0")}}`;
    const scales = data.methods.map((m) => `${{m}} ±${{filter.scales[m].toPrecision(3)}}`).join(", ");
    block.innerHTML = `<h3><a href="#${{block.id}}">${{layer}} filter ${{filter.filter}}</a></h3>` +
      `<div class="scale">columns per hit: image, patch, ${{data.methods.join(", ")}}; scales: ${{scales}}</div>`;
    const hits = document.createElement("div");
    hits.className = "hits";
    for (const hit of filter.hits) hits.appendChild(hitView(layer, hit, data.methods));
    block.appendChild(hits);
    section.appendChild(block);
  }}
  root.appendChild(section);
}}

function heading(id, text, note) {{
  const section = document.createElement("section");
  section.id = id;
  section.innerHTML = `<h2>${{text}}</h2>` + (note ? `<p class="scale">${{note}}</p>` : "");
  root.appendChild(section);
  return section;
}}

function patchCanvas(hit) {{
  const [rows, cols] = data.image_shape;
  const image = images[hit.image];
  const [y0, x0, y1, x1] = hit.box;
  return canvas(x1 - x0, y1 - y0, (i) => {{
    const v = image[(y0 + Math.floor(i / (x1 - x0))) * cols + x0 + i % (x1 - x0)];
    return [v, v, v];
  }});
}}

if (data.evolution) {{
  for (const [layer, info] of Object.entries(data.evolution)) {{
    const section = heading(`evolution-${{layer}}`, `${{layer}} through training`,
      `each filter's strongest test patch at training steps ${{info.steps.join(", ")}} (left to right), its activation below`);
    for (const filter of info.filters) {{
      const block = document.createElement("div");
      block.className = "filter";
      block.id = `evolution-${{layer}}-f${{String(filter.filter).padStart(2, "0")}}`;
      block.innerHTML = `<h3><a href="#${{block.id}}">${{layer}} filter ${{filter.filter}}</a></h3>`;
      const strip = document.createElement("div");
      strip.className = "hits";
      filter.cells.forEach((cell, i) => {{
        const box = document.createElement("div");
        box.className = "hit";
        box.appendChild(patchCanvas(cell));
        const caption = document.createElement("div");
        caption.textContent = `step ${{info.steps[i]}}: ${{cell.activation}}, image ${{cell.image}}`;
        box.appendChild(caption);
        strip.appendChild(box);
      }});
      block.appendChild(strip);
      section.appendChild(block);
    }}
  }}
}}

if (data.mistakes) {{
  const section = heading("mistakes", `What it gets wrong: ${{data.mistakes.length}} test images`,
    "every misclassified test image, most confident first: its index, true label and predicted label, with the probability of each");
  const strip = document.createElement("div");
  strip.className = "hits";
  for (const m of data.mistakes) {{
    const box = document.createElement("div");
    box.className = "hit mistake";
    const [rows, cols] = data.image_shape;
    box.appendChild(canvas(cols, rows, (i) => {{ const v = images[m.image][i]; return [v, v, v]; }}));
    const caption = document.createElement("div");
    caption.textContent = `#${{m.rank}} image ${{m.image}}: ${{m.label}} (p ${{m.p_label}}) read as ${{m.predicted}} (p ${{m.p_predicted}})`;
    box.appendChild(caption);
    strip.appendChild(box);
  }}
  section.appendChild(strip);
}}

for (const group of data.figures) {{
  const section = heading(group.id, group.title, group.note);
  for (const figure of group.figures) {{
    const img = document.createElement("img");
    img.className = "figure";
    img.src = `data:image/png;base64,${{figure.png}}`;
    img.alt = figure.name;
    img.title = figure.name;
    section.appendChild(img);
  }}
}}
</script>
</body></html>
"""


def _b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")


# The other analyses' figures a gallery shows (section id, title, note), when the run made them.
FIGURE_SECTIONS = {
    "occlusion": ("Occlusion sensitivity", "Zeiler & Fergus, Fig. 7: one figure per occluded test image"),
    "invariance": ("Invariance", "Zeiler & Fergus, Fig. 5: one figure per transformation"),
}


def gallery(rankings: str, test_images: str, projections: str, output: str, *, run: str,
            classes: Sequence[str], mistakes: str | None = None, evolution: str | None = None,
            figures: dict[str, str] | None = None) -> None:
    """Write `output`/index.html for the projected filters of rankings.csv (`classes`: the class
    name of each label), and, where given, every mistake (mistakes.csv), each filter's strip
    through training (evolution.csv) and the figure folders of FIGURE_SECTIONS (`figures`:
    section -> folder)."""
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
                    hits.append({
                        "rank": unit.rank, "activation": f"{unit.activation:.3g}",
                        "label": label_text(unit.label, classes), "image": unit.image_index,
                        "box": list(unit.box),
                        "origin": [int(v) for v in origins[p]],
                        "projections": {m: _b64(np.round(maps[m][p] / scales[m] * 127).astype(np.int8))
                                        for m in methods},
                    })
                filters.append({"filter": f, "scales": scales, "hits": hits})
            layers[layer] = {"field": list(maps[methods[0]].shape[1:]), "filters": filters}
    data = {"methods": methods, "image_shape": list(images.shape[1:]), "layers": layers,
            "mistakes": _mistakes(mistakes, classes, used) if mistakes else None,
            "evolution": _evolution(evolution, used) if evolution else None,
            "figures": [_figure_group(name, folder) for name, folder in (figures or {}).items()]}
    data["images"] = {str(i): _b64(images[i].astype(np.uint8)) for i in sorted(used)}
    navigation = " ".join(
        f'<a href="#{layer}"><b>{layer}</b></a> ' + " ".join(
            f'<a href="#{layer}-f{entry["filter"]:02d}">{entry["filter"]}</a>' for entry in info["filters"])
        + "<br>" for layer, info in layers.items())
    navigation += " ".join(
        [f'<a href="#evolution-{layer}">{layer} through training</a>' for layer in data["evolution"] or {}]
        + (['<a href="#mistakes">mistakes</a>'] if data["mistakes"] is not None else [])
        + [f'<a href="#{group["id"]}">{html.escape(group["title"].lower())}</a>' for group in data["figures"]])
    page = PAGE.format(title=html.escape(f"mnist-filters: what the filters of run {run} see"),
                       navigation=navigation, data=json.dumps(data).replace("</", "<\\/"))
    with atomic_directory(output) as folder:
        (Path(folder) / "index.html").write_text(page, encoding="utf-8")


def _mistakes(path: str, classes: Sequence[str], used: set[int]) -> list[dict]:
    from mnist_filters.stages.mistakes import read_mistakes

    rows = read_mistakes(path)
    used.update(row["image_index"] for row in rows)
    return [{"rank": row["rank"], "image": row["image_index"], "label": label_text(row["label"], classes),
             "predicted": label_text(row["predicted"], classes), "p_label": f"{row['probability_label']:.2g}",
             "p_predicted": f"{row['probability_predicted']:.3f}"} for row in rows]


def _evolution(path: str, used: set[int]) -> dict:
    from mnist_filters.snapshots import read_evolution

    layers: dict[str, dict] = {}
    for row in read_evolution(path):
        layer = layers.setdefault(row["layer"], {"steps": [], "filters": {}})
        if row["step"] not in layer["steps"]:
            layer["steps"].append(row["step"])
        used.add(row["image_index"])
        layer["filters"].setdefault(row["filter"], []).append({
            "image": row["image_index"], "activation": f"{row['activation']:.3g}",
            "box": [row[key] for key in ("y0", "x0", "y1", "x1")]})
    return {name: {"steps": sorted(info["steps"]),
                   "filters": [{"filter": f, "cells": cells} for f, cells in sorted(info["filters"].items())]}
            for name, info in layers.items()}


def _figure_group(name: str, folder: str) -> dict:
    title, note = FIGURE_SECTIONS[name]
    files = sorted(Path(folder).glob("*.png"))
    return {"id": name, "title": title, "note": note,
            "figures": [{"name": path.stem, "png": base64.b64encode(path.read_bytes()).decode("ascii")}
                        for path in files]}
