"""A run's `model:` block as the network it declares: `model.layers` with each layer's kind's
defaults (the run schema's $defs/layer_kinds) and the changes given by a layer's name
(`model.conv1.filters`), checked as the workflow starts. The layer table
(network/table.py) is made from what this returns."""

from __future__ import annotations

import jsonschema

from mnist_filters.errors import ConfigError, did_you_mean
from mnist_filters.schema import schema_problem, validate

# What `model:` holds besides changes to a layer, named by the layer.
MODEL_KEYS = ("layers", "init_stddev", "bias_init", "file", "input_range")
# Only a model read from a file has these: a declared network's settings stay as they were.
FILE_KEYS = ("file", "input_range")


def check_old_model_form(model: dict, where: str) -> None:
    """The one setting of the old form whose meaning moved: fc1_units is now fc1's units."""
    if "fc1_units" in model:
        raise ConfigError(
            f"{where}: model.fc1_units is now a setting of the layer fc1: "
            f"model: {{fc1: {{units: {model['fc1_units']}}}}}"
        )


def resolve_model(model: dict, run_schema: dict, where: str) -> dict:
    """`model:` as the network it declares: `layers`, each with the changes given by its name
    (`model.conv1.filters`) and its kind's defaults (the run schema's $defs/layer_kinds), then
    init_stddev and bias_init. A ConfigError names the layer and the setting."""
    kinds = run_schema["$defs"]["layer_kinds"]
    layers = [dict(layer) for layer in model["layers"]]
    by_name: dict[str, dict] = {}
    for layer in layers:
        by_name.setdefault(layer["name"], layer)
    for name, change in model.items():
        if name in MODEL_KEYS:
            continue
        if name not in by_name:
            hint = did_you_mean(name, [*by_name, *MODEL_KEYS])
            raise ConfigError(
                f"{where}: model.{name}: the network has no layer {name!r}; {hint}its layers: "
                f"{', '.join(by_name)} (and the settings {', '.join(MODEL_KEYS)})"
            )
        by_name[name].update(change)
    resolved = []
    for layer in layers:
        name, kind = layer["name"], layer["kind"]
        body = {key: value for key, value in layer.items() if key not in ("name", "kind")}
        schema = kinds[kind]
        for key in body:
            if key not in schema["properties"]:
                known = list(schema["properties"])
                hint = did_you_mean(key, known)
                raise ConfigError(
                    f"{where}: model.layers: layer {name} ({kind}) has no setting '{key}'; "
                    f"{hint}a {kind} layer's settings: {', '.join(known)}"
                )
        try:
            validate(body, {**schema, "$defs": run_schema["$defs"]})
        except jsonschema.ValidationError as error:
            raise ConfigError(
                f"{where}: model.layers: layer {name} ({kind}): {schema_problem(error)}"
            ) from None
        resolved.append({"name": name, "kind": kind, **body})
    from_file = {"file": model.get("file"), "input_range": model.get("input_range", "auto")}
    return {
        "layers": resolved,
        **{key: model[key] for key in MODEL_KEYS[1:] if key not in FILE_KEYS},
        **(from_file if model.get("file") else {}),
    }
