"""A run's settings: the `defaults:` block merged with the run's overrides, then checked.

The JSON schemas in schemas/ check types and ranges (and fill defaults); this module
adds what a schema cannot say: unknown keys with a suggestion, safe run names, and
checks that need the data (a batch or validation split larger than the training set).
"""

from __future__ import annotations

import copy
import difflib
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mnist_filters.errors import ConfigError
from mnist_filters.sweeps import PLAIN_RUNS, expand_sweeps, nested, setting_schema

# libyaml's parser where PyYAML has it: the Snakefile's parse reads these files on every
# Snakemake start, dry runs and no-op reruns included.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SAFE_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+~-]{0,127}$")
# results/<data set>/sweeps/ holds the comparisons of sweeps and of the `runs:` map.
RESERVED_RUN_NAMES = {"sweeps"}
# Keys that moved out of the run settings, because they cannot change a result: old -> new.
MOVED = {
    "mnist": "data",
    "checkpoint_dir": "checkpoints.dir",
    "training.checkpoint_every": "checkpoints.every",
    "training.keep_checkpoints": "checkpoints.keep",
}


def check_moved_keys(config: dict) -> None:
    """Name the new place of each key an older config.yaml still uses."""
    found = [(key, MOVED[key]) for key in ("mnist", "checkpoint_dir") if key in config]
    blocks = [("defaults", config.get("defaults"))]
    blocks += [(f"runs.{name}", overrides) for name, overrides in (config.get("runs") or {}).items()]
    for where, settings in blocks:
        training = settings.get("training") if isinstance(settings, dict) else None
        for key in training if isinstance(training, dict) else ():
            if f"training.{key}" in MOVED:
                found.append((f"{where}.training.{key}", MOVED[f"training.{key}"]))
    if found:
        raise ConfigError("\n".join(
            f"{where}: renamed `data` (it now also chooses the data set: data.set)" if where == "mnist" else
            f"{where}: moved to `{new}` at the top level of the config (it cannot change a result, "
            "so it is no longer a run setting)" for where, new in found
        ))


def deep_merge(base: dict, overrides: dict) -> dict:
    """`base` updated with `overrides`, recursing into nested mappings; inputs untouched."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def unknown_keys(data: Any, schema: dict, where: str) -> list[str]:
    """Messages for keys of `data` that `schema` does not declare, each with a guess."""
    if not isinstance(data, dict) or "properties" not in schema:
        return []
    known = schema["properties"]
    messages = []
    for key, value in data.items():
        if key in known:
            messages += unknown_keys(value, known[key], f"{where}.{key}")
        elif schema.get("additionalProperties", True) is False:
            guess = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
            hint = f"; did you mean '{guess[0]}'?" if guess else f"; known keys: {', '.join(known)}"
            messages.append(f"{where}: unknown key '{key}'{hint}")
    return messages


def load_yaml(path: str | Path) -> Any:
    with open(path) as handle:
        return yaml.load(handle, Loader=YAML_LOADER)  # noqa: S506  (a safe loader)


def _with_defaults(validator_class):
    """`validator_class`, also filling in each property's schema default (jsonschema's FAQ recipe)."""
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

    Done here on an already loaded schema because Snakemake's reloads the file through its
    YAML templating on every call, which costs a no-op rerun about 0.1 s per call.
    Raises jsonschema.ValidationError.
    """
    _FILLING_VALIDATOR(schema).validate(data)


def check_config(config: dict, schema: dict) -> None:
    """The top-level config against schemas/config.schema.yaml, defaults filled in."""
    try:
        validate(config, schema)
    except jsonschema.ValidationError as error:
        raise ConfigError(f"config: {_schema_problem(error)}") from None


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
                raise ConfigError(f"{path}, line {line}: duplicate key '{key}' (first on line {seen[key]})")
            seen[key] = line
        return loader.construct_mapping(node, deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    with open(path) as handle:
        yaml.load(handle, Loader=StrictLoader)  # noqa: S506  (a safe loader's subclass)


def _schema_problem(error: jsonschema.ValidationError) -> str:
    """`key.path: what is wrong`."""
    return f"{'.'.join(str(p) for p in error.absolute_path) or '(top level)'}: {error.message}"


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
        return {key: coerce_scalars(value, properties.get(key, fallback), definitions) for key, value in data.items()}
    if isinstance(data, list) and isinstance(schema.get("items"), dict):
        return [coerce_scalars(value, schema["items"], definitions) for value in data]
    return data


def check_run_name(name: Any, where: str = "runs") -> None:
    if not isinstance(name, str) or not SAFE_RUN_NAME.match(name):
        raise ConfigError(
            f"{where}: {name!r} is not a usable run name: it names the folder results/<data set>/<run>/, so it must be "
            "1-128 letters, digits, '_', '-', '.', '+' or '~', starting with a letter or digit (no '/', no '..')"
        )
    if name in RESERVED_RUN_NAMES:
        raise ConfigError(f"{where}: {name!r} is not a usable run name: results/<data set>/{name}/ holds the comparisons")


def resolve_runs(config: dict, run_schema: dict, swept: dict | None = None) -> dict[str, dict]:
    """Each run's full settings, `runs:` first, then each sweep's grid points (see mnist_filters.sweeps).

    A run is `defaults` merged with its overrides (a sweep run's: the sweep's `base`, then
    its grid values), checked against `run_schema`. `swept` is sweep_runs(config, run_schema),
    for a caller that needs it too.
    """
    runs = config.get("runs") or {}
    if not runs and not config.get("sweeps"):
        raise ConfigError("runs: no runs are configured; add at least one, e.g. `runs: {seed: {}}`, or a sweep")
    defaults = coerce_scalars(config.get("defaults") or {}, run_schema)
    problems = unknown_keys(defaults, run_schema, "defaults")
    if problems:
        raise ConfigError("\n".join(problems))
    resolved = {}
    for name, overrides in runs.items():
        check_run_name(name)
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, dict):
            raise ConfigError(f"runs.{name}: must be a mapping of settings to override, got {overrides!r}")
        try:
            resolved[name] = _run_settings(defaults, coerce_scalars(overrides, run_schema), run_schema, f"runs.{name}")
        except jsonschema.ValidationError as error:
            raise ConfigError(f"runs.{name} (defaults merged with its overrides): {_schema_problem(error)}") from None
    swept = sweep_runs(config, run_schema) if swept is None else swept
    for run, (sweep, base, point) in swept.items():
        where = f"sweeps.{sweep}"
        check_run_name(run, where)
        if run in resolved:
            raise ConfigError(f"{where}: its run {run} has the name of a run in `runs:`; rename the sweep or the run")
        try:
            resolved[run] = _run_settings(defaults, overrides_of(base, point), run_schema, f"{where}.base")
        except jsonschema.ValidationError as error:
            path = ".".join(str(p) for p in error.absolute_path)
            if path in point:
                raise ConfigError(f"{where}.grid: {path} = {point[path]!r} is not a valid value: {error.message}") \
                    from None
            raise ConfigError(f"{where}, run {run} (defaults, the sweep's base and its grid values): "
                              f"{_schema_problem(error)}") from None
    return resolved


def sweep_runs(config: dict, run_schema: dict) -> dict[str, tuple[str, dict, dict]]:
    """Each sweep's runs: run name -> (sweep, base overrides, {dotted setting: value}), in the order written.

    Values are parsed as resolve_runs parses them (a command line's '1e-4' is the number),
    so a run's name is the same however its sweep was given.
    """
    coerced = {}
    for name, sweep in (config.get("sweeps") or {}).items():
        if name == PLAIN_RUNS:
            raise ConfigError(f"sweeps: '{name}' is not a usable sweep name: results/<data set>/sweeps/{name}/ compares `runs:`")
        grid = {}
        for path, values in sweep["grid"].items():
            schema = setting_schema(run_schema, path, f"sweeps.{name}.grid")
            grid[path] = [coerce_scalars(value, schema, run_schema.get("$defs", {})) for value in values]
        coerced[name] = {"base": coerce_scalars(sweep.get("base") or {}, run_schema), "grid": grid}
    return expand_sweeps(coerced)


def overrides_of(base: dict, point: dict[str, Any]) -> dict:
    """A sweep run's overrides of `defaults`: the sweep's base, then the grid point's values."""
    merged = base
    for path, value in point.items():
        merged = deep_merge(merged, nested(path, value))
    return merged


def _run_settings(defaults: dict, overrides: dict, run_schema: dict, where: str) -> dict:
    """`defaults` merged with `overrides` (named `where` in errors), defaults filled in.
    Raises jsonschema.ValidationError, which each caller words for its kind of run."""
    problems = unknown_keys(overrides, run_schema, where)
    if problems:
        raise ConfigError("\n".join(problems))
    settings = deep_merge(defaults, overrides)
    validate(settings, run_schema)
    return settings


def check_image_shape(image_shape, found: dict[str, tuple[int, ...]]) -> None:
    """data.image_shape against the images' shape in each source ({source: (rows, columns)}),
    before any job starts."""
    wanted = tuple(image_shape)
    for source, shape in found.items():
        if tuple(shape) != wanted:
            raise ConfigError(
                f"data.image_shape is {list(wanted)}, but {source} holds "
                f"{'x'.join(map(str, shape))} images; set data.image_shape: {list(shape)}"
            )


def check_against_data(name: str, settings: dict, train_count: int, test_count: int,
                       image_shape: tuple[int, int]) -> None:
    """Checks that need the data's sizes, made before any job starts."""
    from mnist_filters.receptive_field import filters_of, geometries

    try:
        layers = geometries(settings["model"], image_shape)
    except ValueError as error:
        raise ConfigError(f"runs.{name}: model does not fit {image_shape[0]}x{image_shape[1]} images: {error}") from None
    ranking = settings["ranking"]
    for layer in settings["activations"]["layers"]:
        channels = filters_of(settings["model"], layer)
        bad = [f for f in ranking["filters"] or [] if f >= channels]
        if bad:
            raise ConfigError(
                f"runs.{name}: ranking.filters {bad} out of range: layer {layer} has {channels} filters (0..{channels - 1})"
            )
        geometry = layers[layer]
        per_image = 1 if ranking["one_per_image"] else geometry.rows.length * geometry.cols.length
        positions = test_count * per_image
        if ranking["top_k"] > positions:
            raise ConfigError(
                f"runs.{name}: ranking.top_k is {ranking['top_k']} but layer {layer} has only {positions} "
                f"positions to rank ({test_count} test images x {per_image} per image)"
            )
    projected = settings["projections"]["layers"] or []
    not_dumped = [layer for layer in projected if layer not in settings["activations"]["layers"]]
    if not_dumped:
        raise ConfigError(f"runs.{name}: projections.layers {not_dumped} are not dumped (activations.layers is "
                          f"{settings['activations']['layers']}); projections start from ranked units of dumped layers")
    training = settings["training"]
    held_out = training["validation_size"]
    if held_out >= train_count:
        raise ConfigError(
            f"runs.{name}: training.validation_size is {held_out} but the training set holds only "
            f"{train_count} images; leave some to train on"
        )
    remaining = train_count - held_out
    if training["batch_size"] > remaining:
        raise ConfigError(
            f"runs.{name}: training.batch_size is {training['batch_size']}, larger than the "
            f"{remaining} training images left after holding out {held_out} for validation"
        )
    occlusion = settings["occlusion"]
    if occlusion["size"] > min(image_shape):
        raise ConfigError(f"runs.{name}: occlusion.size is {occlusion['size']}, larger than the "
                          f"{image_shape[0]}x{image_shape[1]} images")
    bad = [i for i in occlusion["images"] or [] if i >= test_count]
    if bad:
        raise ConfigError(f"runs.{name}: occlusion.images {bad} out of range: the test set has {test_count} "
                          f"images (0..{test_count - 1})")
    invariance = settings["invariance"]
    if invariance["images"] > test_count:
        raise ConfigError(f"runs.{name}: invariance.images is {invariance['images']} but the test set has "
                          f"{test_count} images")
    for transformation, values in invariance_ranges(invariance).items():
        if values["min"] > values["max"]:
            raise ConfigError(f"runs.{name}: invariance.{transformation}: min {values['min']} is above max "
                              f"{values['max']}")
    if invariance["scale"]["min"] <= 0:
        raise ConfigError(f"runs.{name}: invariance.scale.min is {invariance['scale']['min']}; a scale must be "
                          "above 0")
    late = [step for step in snapshot_steps(settings) if step > training["steps"]]
    if late:
        raise ConfigError(f"runs.{name}: evolution.steps {late} are past training.steps ({training['steps']}); "
                          "training keeps weights only at the steps it reaches")


# Without evolution.steps: these steps (those before training.steps), and training.steps. The
# list does not move with training.steps, so that a longer run still resumes a shorter one's
# checkpoint (a checkpoint serves only a run that keeps the same steps up to its own).
KEPT_STEPS = (0, 100, 200, 500, 1000, 2000)


def snapshot_steps(settings: dict) -> list[int]:
    """The training steps whose weights a run keeps, ascending: evolution.steps, or without them
    KEPT_STEPS before training.steps, and training.steps."""
    chosen = settings["evolution"]["steps"]
    if chosen is None:
        steps = settings["training"]["steps"]
        chosen = [step for step in KEPT_STEPS if step < steps] + [steps]
    return sorted(set(chosen))


def invariance_ranges(invariance: dict) -> dict[str, dict]:
    """The transformations of an `invariance` block and their {min, max, count} ranges: its
    object-valued settings (the schema's `range`)."""
    return {key: value for key, value in invariance.items() if isinstance(value, dict)}
