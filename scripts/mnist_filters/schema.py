"""The config files and their JSON schemas: reading YAML strictly, filling in the schemas'
defaults while checking, reading `--config` strings as the types the schema wants, and
reading the two settings whose meaning the schema defines beyond a value (the kept training
steps, the invariance ranges).

schemas/*.schema.yaml are the one place where a setting's type, default and description live
(docs/settings.md is generated from them).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mnist_filters.errors import ConfigError

# libyaml's parser where PyYAML has it: the Snakefile's parse reads these files on every
# Snakemake start, dry runs and no-op reruns included.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: str | Path) -> Any:
    with open(path) as handle:
        return yaml.load(handle, Loader=YAML_LOADER)  # noqa: S506  (a safe loader)


def check_duplicate_keys(path: str | Path) -> None:
    """Refuse a YAML file in which a mapping repeats a key (YAML would keep the last silently)."""

    class StrictLoader(YAML_LOADER):
        pass

    def mapping(loader, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"{path}, line {line}: duplicate key '{key}' (first on line {seen[key]})"
                )
            seen[key] = line
        return loader.construct_mapping(node, deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    with open(path) as handle:
        yaml.load(handle, Loader=StrictLoader)  # noqa: S506  (a safe loader's subclass)


def _with_defaults(validator_class):
    """`validator_class`, also filling in each property's schema default (jsonschema's FAQ
    recipe)."""
    check_properties = validator_class.VALIDATORS["properties"]

    def properties_with_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties_with_defaults})


_FILLING_VALIDATOR = _with_defaults(jsonschema.Draft202012Validator)


def validate(data: dict, schema: dict) -> None:
    """Check `data` against a JSON schema, filling in defaults, as snakemake.utils.validate does.

    Not snakemake.utils.validate itself: it takes a schema file and reads it through its YAML
    templating on every call, about 0.1 s each, and the workflow checks every run's settings
    on every start (dry runs and no-op reruns too). Raises jsonschema.ValidationError.
    """
    _FILLING_VALIDATOR(schema).validate(data)


def schema_problem(error: jsonschema.ValidationError) -> str:
    """`key.path: what is wrong`."""
    return f"{'.'.join(str(p) for p in error.absolute_path) or '(top level)'}: {error.message}"


def check_config(config: dict, schema: dict) -> None:
    """The top-level config against schemas/config.schema.yaml, defaults filled in."""
    try:
        validate(config, schema)
    except jsonschema.ValidationError as error:
        raise ConfigError(f"config: {schema_problem(error)}") from None


_SCALARS = {"integer": (int,), "number": (int, float), "boolean": (bool,), "null": (type(None),)}


def coerce_scalars(data: Any, schema: dict, definitions: dict | None = None) -> Any:
    """Strings where the schema wants a number, boolean or null, parsed as YAML scalars.

    Snakemake reads nested `--config` values as strings (`steps: '100'`); without this a
    user overriding a setting on the command line would be told 100 is not an integer.
    Anything that does not parse to a wanted type is left for the schema to reject.
    """
    definitions = definitions if definitions is not None else schema.get("$defs", {})
    if "$ref" in schema:
        schema = {**definitions[schema["$ref"].split("/")[-1]], **schema}
    wanted = schema.get("type", [])
    wanted = [wanted] if isinstance(wanted, str) else wanted
    if isinstance(data, str):
        kinds = tuple(kind for name in wanted for kind in _SCALARS.get(name, ()))
        if "string" in wanted or not kinds or not data.strip():
            return data
        try:
            value = yaml.safe_load(data)
        except yaml.YAMLError:
            return data
        if isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool)):
            return value
        if float in kinds:  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(data)
            except ValueError:
                pass
        return data
    if isinstance(data, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        fallback = extra if isinstance(extra, dict) else {}
        return {
            key: coerce_scalars(value, properties.get(key, fallback), definitions)
            for key, value in data.items()
        }
    if isinstance(data, list) and isinstance(schema.get("items"), dict):
        return [coerce_scalars(value, schema["items"], definitions) for value in data]
    return data


def snapshot_steps(settings: dict, run_schema: dict) -> list[int]:
    """The training steps whose weights a run keeps, ascending: evolution.steps, or where it is
    null, the `kept_when_null` list of evolution.steps in the run schema before training.steps, and
    training.steps.

    That list does not move with training.steps, so that a longer run still resumes a shorter
    one's checkpoint (a checkpoint serves only a run that keeps the same steps up to its own)."""
    chosen = settings["evolution"]["steps"]
    if chosen is None:
        steps = settings["training"]["steps"]
        kept = run_schema["properties"]["evolution"]["properties"]["steps"]["kept_when_null"]
        chosen = [step for step in kept if step < steps] + [steps]
    return sorted(set(chosen))


def invariance_ranges(invariance: dict) -> dict[str, dict]:
    """The transformations of an `invariance` block and their {min, max, count} ranges: its
    object-valued settings (the schema's `range`)."""
    return {key: value for key, value in invariance.items() if isinstance(value, dict)}
