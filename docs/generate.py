"""Write the documentation's generated parts (`make docs`), or check them (`--check`).

- docs/settings.md, whole, from schemas/*.schema.yaml: the schemas are the one place where a
  setting's type, default, allowed values and description live.
- docs/output.md, between its `<!-- docstring: PATH -->` and `<!-- end docstring -->`
  markers: the docstring of the module at PATH, the one that writes the file described
  there, so that a file's layout is written once, beside the code that writes it.
- in README.md and the prose pages, between `<!-- measured: KEY -->` and `<!-- /measured -->`:
  a figure of a run on real data, from docs/measured.json (docs/measured.py writes it from a
  results folder), so that each measured figure has one source that no hand edits.

`python docs/generate.py --check` exits 1 and names each page that differs from what it
would write; the test suite runs the same comparison.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import measured  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"
SETTINGS_PAGE = REPO / "docs" / "settings.md"
OUTPUT_PAGE = REPO / "docs" / "output.md"
MEASURED_BLOCK = re.compile(
    r"(<!-- measured: (?P<key>[^ ]+) -->)(?P<body>.*?)(<!-- /measured -->)", re.DOTALL
)
# The pages whose measured figures are filled in (docs/measured.py); docs/development.md
# shows the block's syntax and quotes none.
PROSE_PAGES = ("README.md", "docs/usage.md", "docs/output.md", "docs/speed.md")
DOCSTRING_BLOCK = re.compile(
    r"(<!-- docstring: (?P<path>[^ ]+) -->\n)(?P<body>.*?)(<!-- end docstring -->)", re.DOTALL
)


class Setting:
    """One row of the settings table: a leaf of a schema, by its dotted key."""

    def __init__(self, key: str, node: dict, context: str = ""):
        self.key = key
        self.node = node
        self.context = context

    @property
    def description(self) -> str:
        text = " ".join(str(self.node.get("description", "")).split())
        return f"{self.context}: {text}" if self.context and text else text or self.context


def _resolve(node: dict, defs: dict) -> dict:
    """`node` with its `$ref` (to the schema's own $defs) merged in; the node's own keys win."""
    if "$ref" not in node:
        return node
    target = defs[node["$ref"].rsplit("/", 1)[-1]]
    return {**target, **{key: value for key, value in node.items() if key != "$ref"}}


def settings_of(schema: dict, prefix: str = "") -> list[Setting]:
    """Every leaf setting of `schema`, depth first in the schema's order.

    An object whose default is empty (or absent) is a block of settings and is walked; an
    object with a default of its own (a range's {min, max, count}) is one setting."""
    defs = schema.get("$defs", {})
    rows: list[Setting] = []

    def walk(properties: dict, path: str, context: str) -> None:
        for name, raw in properties.items():
            node = _resolve(raw, defs)
            key = f"{path}{name}"
            if "properties" in node and not node.get("default"):
                # a nested block's description leads its first row (a top-level block's
                # stands above its table)
                inner = " ".join(str(raw.get("description", "")).split()) if path else ""
                walk(node["properties"], f"{key}.", inner.rstrip("."))
            else:
                rows.append(Setting(key, node, context))
                context = ""

    walk(schema.get("properties", {}), prefix, "")
    return rows


def blocks_of(schema: dict) -> dict[str, str]:
    """Each top-level block's description (empty where it has none)."""
    defs = schema.get("$defs", {})
    return {
        name: " ".join(str(_resolve(node, defs).get("description", "")).split())
        for name, node in schema.get("properties", {}).items()
    }


def _type(node: dict) -> str:
    if "enum" in node:
        return "string" if all(isinstance(v, str) for v in node["enum"]) else "value"
    kinds = node.get("type", "object")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    names = []
    for kind in kinds:
        if kind == "array" and "items" in node:
            item = node["items"]
            names.append(f"list of {_type(item) if 'type' in item or 'enum' in item else 'values'}")
        elif kind == "object" and {"min", "max", "count"} <= set(node.get("properties", {})):
            names.append("range {min, max, count}")
        else:
            names.append(kind)
    return " or ".join(names)


def _value(value) -> str:
    return "`" + json.dumps(value, separators=(", ", ": ")) + "`"


def _allowed(node: dict) -> str:
    parts = []
    if "enum" in node:
        parts.append(", ".join(f"`{v}`" for v in node["enum"]))
    items = node.get("items", {})
    if "enum" in items:
        parts.append("each of " + ", ".join(f"`{v}`" for v in items["enum"]))
    for source in (node, items):
        bounds = []
        if "minimum" in source:
            bounds.append(f">= {source['minimum']}")
        if "exclusiveMinimum" in source:
            bounds.append(f"> {source['exclusiveMinimum']}")
        if "maximum" in source:
            bounds.append(f"<= {source['maximum']}")
        if bounds:
            parts.append(("each " if source is items else "") + " and ".join(bounds))
    if "minItems" in node and node.get("type") != "object":
        count = node["minItems"]
        if node.get("maxItems") == count:
            parts.append(f"exactly {count} items")
        else:
            parts.append(f"at least {count} item{'s' if count > 1 else ''}")
    if node.get("uniqueItems"):
        parts.append("no repeats")
    if "pattern" in items:
        parts.append(f"each matching `{items['pattern']}`")
    if "properties" in node and "count" in node["properties"]:
        count = node["properties"]["count"]
        parts.append(f"count {count.get('minimum', 1)} to {count.get('maximum', '')}".rstrip(" to"))
    return "; ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def settings_table(rows: list[Setting], key_prefix: str = "") -> list[str]:
    lines = ["| setting | type | default | allowed | description |", "|---|---|---|---|---|"]
    for row in rows:
        default = _value(row.node["default"]) if "default" in row.node else "required"
        if "kept_when_null" in row.node:
            default += f"; `kept_when_null`: {_value(row.node['kept_when_null'])}"
        lines.append(
            "| "
            + " | ".join(
                _cell(cell)
                for cell in (
                    f"`{key_prefix}{row.key}`",
                    _type(row.node),
                    default,
                    _allowed(row.node),
                    row.description,
                )
            )
            + " |"
        )
    return lines


def settings_page(schemas: Path = SCHEMAS) -> str:
    """docs/settings.md: every setting of both schemas, a table per block."""
    config = yaml.safe_load((schemas / "config.schema.yaml").read_text())
    run = yaml.safe_load((schemas / "run.schema.yaml").read_text())
    lines = [
        "# Settings",
        "",
        "<!-- Generated by `make docs` (docs/generate.py) from schemas/*.schema.yaml: edit the",
        "schemas, not this page. A test fails when the two disagree. -->",
        "",
        "Every setting the workflow reads, with its type, its default, the values it allows",
        "and what it does. A setting left out of your config takes the default shown here;",
        "[usage](usage.md#configuration) says how to set one (in `config.yaml`, a file added",
        "with `CONFIG=`, or `--config` on the command line) and how a run's settings are made",
        "from `defaults:`, `runs:` and `sweeps:`.",
        "",
        "## Run settings",
        "",
        " ".join(str(run["description"]).split()),
        "Write them under `defaults:` (every run), `runs.<name>:` (one run), or a sweep's",
        "`base:` and `grid:` (with the dotted keys below, as `training.learning_rate`).",
        "Each reaches only the rules whose outputs it can change, so changing one reruns exactly",
        "what depends on it ([usage](usage.md#partial-reruns)).",
        "",
    ]
    lines += block_tables(run)
    lines += ["## Top-level settings", "", " ".join(str(config["description"]).split()), ""]
    lines += block_tables(config)
    return "\n".join(lines).rstrip("\n") + "\n"


def block_tables(schema: dict) -> list[str]:
    """A heading, a description and a table per top-level block of `schema`."""
    lines = []
    every_row = settings_of(schema)
    for block, description in blocks_of(schema).items():
        rows = [row for row in every_row if row.key == block or row.key.startswith(f"{block}.")]
        lines += [f"### `{block}`", ""]
        if description and not (len(rows) == 1 and rows[0].key == block):
            lines += [description, ""]
        lines += settings_table(rows) + [""]
        if block == "model" and "layer_kinds" in schema.get("$defs", {}):
            lines += layer_kind_tables(schema)
    return lines


def layer_kind_tables(schema: dict) -> list[str]:
    """The settings of each kind of layer that model.layers may declare, a table per kind."""
    lines = [
        "#### Layer kinds",
        "",
        "Each entry of `model.layers` is `{name, kind, ...}` with the settings of its kind; "
        "`name` is a letter followed by letters, digits or `_`.",
        "",
    ]
    for kind, node in schema["$defs"]["layer_kinds"].items():
        description = " ".join(str(node.get("description", "")).split())
        rows = [
            Setting(key, _resolve(raw, schema["$defs"])) for key, raw in node["properties"].items()
        ]
        for row, raw in zip(rows, node["properties"].values()):
            row.node = {**row.node, **raw}
        lines += [f"`kind: {kind}`: {description}", ""] + settings_table(rows) + [""]
    return lines


def module_docstring(path: Path) -> str:
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    if not docstring:
        raise ValueError(f"{path} has no module docstring to show in docs/output.md")
    return docstring


def fill_docstrings(page: str, repo: Path = REPO) -> str:
    """`page` with each docstring block replaced by the named module's docstring, fenced."""

    def fill(match: re.Match) -> str:
        text = module_docstring(repo / match["path"])
        return f"{match[1]}```text\n{text}\n```\n{match[4]}"

    return DOCSTRING_BLOCK.sub(fill, page)


def fill_measured(page: str, figures: dict[str, str], name: str = "the page") -> str:
    """`page` with each measured block holding its figure (a table on lines of its own)."""

    def fill(match: re.Match) -> str:
        if match["key"] not in figures:
            raise KeyError(
                f"{name} quotes a measured figure `{match['key']}` that docs/measured.py does "
                f"not make"
            )
        figure = figures[match["key"]]
        body = f"\n{figure}\n" if "\n" in figure or figure.startswith("|") else figure
        return f"{match[1]}{body}{match[4]}"

    return MEASURED_BLOCK.sub(fill, page)


def pages(repo: Path = REPO) -> dict[Path, str]:
    """Each generated page, by path, as `make docs` writes it."""
    figures = measured.figures(measured.load(repo / "docs" / "measured.json"))
    texts = {repo / name: (repo / name).read_text() for name in PROSE_PAGES}
    output_page = repo / OUTPUT_PAGE.relative_to(REPO)
    texts[output_page] = fill_docstrings(texts[output_page], repo)
    texts = {path: fill_measured(text, figures, path.name) for path, text in texts.items()}
    return {SETTINGS_PAGE: settings_page(repo / "schemas"), **texts}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a page is out of date"
    )
    args = parser.parse_args(argv)
    try:
        generated = pages()
    except (measured.MeasuredError, KeyError) as error:
        print(error.args[0], file=sys.stderr)
        return 1
    stale = []
    for path, text in generated.items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path.relative_to(REPO))
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print(f"out of date (run `make docs`): {', '.join(map(str, stale))}", file=sys.stderr)
        return 1
    for path in stale:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
