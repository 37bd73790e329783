"""Sweeps: a grid of setting values expanded into ordinary runs, and what differs among runs.

A sweep in config.yaml is `name: {base: <overrides>, grid: {<dotted setting>: [values]}}`.
Each point of the grid (every combination, in the order written) becomes a run whose
name follows Snakemake's Paramspace convention, `key~value` joined by `_`, after the
sweep's name: `optimizers_optimizer~adam_learning_rate~0.0001`. A name depends only on
the point's values, never on its position, so adding or removing a value renames no
other run, and a run's folder under results/ stays valid.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Iterable
from typing import Any

from mnist_filters.errors import ConfigError

# The comparison of the `runs:` map is made under this name, beside the sweeps'.
PLAIN_RUNS = "runs"
_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]")


def value_token(value: Any) -> str:
    """A grid value as it appears in a run name: exact (floats by their shortest repr),
    filesystem-safe."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if not value or _TOKEN_UNSAFE.search(value):
            raise ValueError(
                f"{value!r} cannot be part of a folder name (letters, digits, '.', '+', '-' only)"
            )
        return value
    if isinstance(value, list) and value:
        return "+".join(value_token(item) for item in value)
    raise ValueError(
        f"{value!r} is not a single value (a number, a word, true/false, or a list of them)"
    )


def short_keys(paths: list[str]) -> dict[str, str]:
    """Each dotted path's shortest trailing part that no other path in `paths` ends with."""
    short = {}
    for path in paths:
        parts = path.split(".")
        for count in range(1, len(parts) + 1):
            candidate = ".".join(parts[-count:])
            if not any(
                other != path and (other == candidate or other.endswith("." + candidate))
                for other in paths
            ):
                break
        short[path] = candidate
    return short


def nested(path: str, value: Any) -> dict:
    """`{"a": {"b": value}}` for the path "a.b"."""
    for key in reversed(path.split(".")):
        value = {key: value}
    return value


def setting_schema(schema: dict, path: str, where: str) -> dict:
    """The run schema's entry for a dotted setting path, or a ConfigError naming the nearest
    keys."""
    definitions = schema.get("$defs", {})
    node = schema
    walked = []
    for key in path.split("."):
        if "$ref" in node:
            node = {**definitions[node["$ref"].split("/")[-1]], **node}
        properties = node.get("properties", {})
        extra = node.get("additionalProperties")
        if key not in properties and isinstance(extra, dict):
            # a key the block leaves open: a layer of model.layers, by its name
            node = {**definitions.get(extra.get("$ref", "").split("/")[-1], {}), **extra}
            walked.append(key)
            continue
        if key not in properties:
            place = ".".join(walked) or "(top level)"
            guess = difflib.get_close_matches(key, list(properties), n=1, cutoff=0.6)
            hint = (
                f"did you mean '{'.'.join([*walked, guess[0]])}'?"
                if guess
                else f"settings at {place}: {', '.join(properties) or 'none'}"
            )
            raise ConfigError(f"{where}: '{path}' is not a run setting; {hint}")
        node = properties[key]
        walked.append(key)
    if node.get("type") == "object" or "$ref" in node:
        raise ConfigError(
            f"{where}: '{path}' is a group of settings; sweep one of its settings by its full "
            f"dotted path"
        )
    return node


def grid_points(name: str, grid: dict[str, list]) -> Iterable[tuple[str, dict[str, Any]]]:
    """(run name, {dotted path: value}) for every combination, first key slowest."""
    paths = list(grid)
    short = short_keys(paths)
    tokens = {}
    for path in paths:
        seen = {}
        for value in grid[path]:
            try:
                token = value_token(value)
            except ValueError as error:
                raise ConfigError(f"sweeps.{name}.grid.{path}: {error}") from None
            if token in seen:
                raise ConfigError(
                    f"sweeps.{name}.grid.{path}: {seen[token]!r} and {value!r} would name the same "
                    f"run "
                    f"({short[path]}~{token}); list each value once"
                )
            seen[token] = value
        tokens[path] = seen
    for combination in itertools.product(*(tokens[path].items() for path in paths)):
        run = "_".join(
            [name, *(f"{short[path]}~{token}" for path, (token, _value) in zip(paths, combination))]
        )
        yield run, {path: value for path, (_token, value) in zip(paths, combination)}


def expand_sweeps(sweeps: dict[str, dict]) -> dict[str, tuple[str, dict, dict[str, Any]]]:
    """Run name -> (sweep, base overrides, {dotted path: value}), sweeps and grids in the order
    written."""
    runs: dict[str, tuple[str, dict, dict[str, Any]]] = {}
    for name, sweep in sweeps.items():
        for run, point in grid_points(name, sweep["grid"]):
            if run in runs:
                raise ConfigError(
                    f"sweeps.{name}: its run {run} is also a run of sweep {runs[run][0]}; "
                    "rename one of the sweeps"
                )
            runs[run] = (name, sweep.get("base") or {}, point)
    return runs


def flatten(settings: dict, prefix: str = "") -> dict[str, Any]:
    """{"training.steps": 2000, ...}: one entry per leaf setting (lists are leaves). A list of
    named layers (model.layers) is the list of their names, and each layer's settings are
    keyed by its name, as a run overrides them: `model.conv1.filters`."""
    flat = {}
    for key, value in settings.items():
        path = f"{prefix}{key}"
        if key == "layers" and value and all(isinstance(v, dict) and "name" in v for v in value):
            flat[path] = [layer["name"] for layer in value]
            for layer in value:
                for setting, item in layer.items():
                    if setting != "name":
                        flat[f"{prefix}{layer['name']}.{setting}"] = item
        elif isinstance(value, dict) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def differing_settings(settings_by_run: dict[str, dict], first: Iterable[str] = ()) -> list[str]:
    """The dotted settings whose values are not the same in every run: `first` ones in that order,
    then the rest."""
    flat = {run: flatten(settings) for run, settings in settings_by_run.items()}
    paths = list(dict.fromkeys(itertools.chain(first, *(f for f in flat.values()))))
    return [
        path for path in paths if len({repr(f.get(path, "(unset)")) for f in flat.values()}) > 1
    ]


# The settings that make a run's weights: a comparison's columns come from these, and from
# whatever a sweep's grid names (so a figure's dpi differing between runs changes no comparison).
TRAINING_SETTINGS = ("seed", "model", "training")


def compared_settings(settings_by_run: dict[str, dict], grid: Iterable[str] = ()) -> list[str]:
    """The columns of a comparison: the grid's settings, then other training settings, that
    differ."""
    grid = list(grid)
    return [
        path
        for path in differing_settings(settings_by_run, first=grid)
        if path in grid or path.split(".")[0] in TRAINING_SETTINGS
    ]
