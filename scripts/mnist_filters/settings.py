"""The workflow's settings, read once as it starts: `load` is the one entry, for the workflow
(rules/common.smk) and the tests alike.

It checks the config files and the top-level config against schemas/config.schema.yaml,
makes each run's settings (`defaults:` merged with the run's overrides, or a sweep's base
and grid point) and checks them against schemas/run.schema.yaml, which fill in every
default. It adds what a schema cannot say: unknown keys with a suggestion, safe run names,
how many images the data hold, and (mnist_filters/settings_checks.py) each block of settings
against the data and the model. Every refusal is a ConfigError naming the key.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from mnist_filters import own_images
from mnist_filters.dataset import DATA_SETS, FILES, DataSet, local_files
from mnist_filters.errors import ConfigError, IdxFormatError, did_you_mean
from mnist_filters.idx import read_idx, read_idx_dims
from mnist_filters.network.declaration import check_old_model_form, resolve_model
from mnist_filters.network.table import LayerError, LayerTable
from mnist_filters.schema import (
    check_config,
    check_duplicate_keys,
    coerce_scalars,
    load_yaml,
    schema_problem,
    validate,
)
from mnist_filters.settings_checks import check_run
from mnist_filters.sweeps import (
    PLAIN_RUNS,
    compared_settings,
    expand_sweeps,
    nested,
    setting_schema,
)
from mnist_filters.transfer_plan import (
    FEW_SHOT_KINDS,
    FOLDER,
    Training,
    data_source,
    fit_batch,
    plan,
)

SAFE_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+~-]{0,127}$")
# results/<data set>/sweeps/ holds the comparisons of sweeps and of the `runs:` map.
# and results/<data set>/transfer/ the transfer experiment's networks.
RESERVED_RUN_NAMES = {"sweeps", FOLDER}
OWN_PATHS = {
    "npz": ".npz file of x_train, y_train, x_test and y_test",
    "folder": "folder holding train/ and test/",
}


@dataclass(frozen=True)
class Settings:
    """What the workflow runs: every run's settings, the comparisons, and the data they need."""

    config: dict  # the top-level config, defaults filled in
    run_schema: dict
    runs: dict[str, dict]  # run -> its full settings
    sweep_runs: dict[str, tuple[str, dict, dict]]  # a sweep's run -> (sweep, base, grid point)
    comparisons: dict[
        str, list[str]
    ]  # comparison -> its runs: each sweep's, and `runs:` with two or more
    swept: dict[str, list[str]]  # comparison -> the settings that differ among its runs
    data_set: DataSet
    # every network trained: the runs, and the transfer experiment's (transfer_plan.py)
    trainings: dict[str, dict]
    transfer: dict[str, Training]
    train_count: (
        int  # images in the training file (a local copy's header, else the data set's table)
    )
    test_count: int
    # every training's layer table (network/table.py): training -> its network's layers
    tables: dict[str, LayerTable]


def load(config: dict, config_files: Iterable[str | Path], schemas: Path) -> Settings:
    """Check `config` (as Snakemake read it from `config_files`, `--config` strings
    included) and make every run's settings. `config` is updated in place: strings read as the
    types the schema wants, defaults filled in."""
    for path in config_files:
        check_duplicate_keys(path)
    config_schema = load_yaml(schemas / "config.schema.yaml")
    config.update(coerce_scalars(config, config_schema))
    check_config(config, config_schema)
    run_schema = load_yaml(schemas / "run.schema.yaml")
    sweeps = sweep_runs(config, run_schema)
    runs = resolve_runs(config, run_schema, sweeps)
    # a model read from a file has no training to compare (its runs are analysed alone)
    imported = [run for run, settings in runs.items() if settings["model"].get("file")]
    compared = [run for run in config["runs"] if run not in imported]
    comparisons = {PLAIN_RUNS: compared} if len(compared) > 1 else {}
    for run, (sweep, _base, _point) in sweeps.items():
        if run in imported:
            raise ConfigError(
                f"sweeps.{sweep}: model.file is set; a sweep compares trainings, so analyse a "
                "model file as a run of `runs:`"
            )
        comparisons.setdefault(sweep, []).append(run)
    source = config["transfer"]["few_shot"]["source"]
    if config["transfer"]["enabled"] and source in imported:
        raise ConfigError(
            f"transfer.few_shot.source: run {source} reads its model from model.file; the "
            "transfer experiment copies layers of a network it trained"
        )
    swept = {
        name: compared_settings(
            {run: runs[run] for run in members}, config["sweeps"].get(name, {}).get("grid", ())
        )
        for name, members in comparisons.items()
    }
    data_set, (train_count, test_count) = workflow_data_set(config["data"])
    transfer = transfer_trainings(config, run_schema, len(data_set.classes), list(runs))
    trainings = {**runs, **{name: settings for name, (_t, settings) in transfer.items()}}
    on_own_set = {name: s for name, s in trainings.items() if not data_set_of(transfer, name)}
    data = {None: (train_count, test_count, drawn_labels(config["data"], on_own_set))}
    others = {name: s for name, s in trainings.items() if name not in on_own_set}
    if others:
        target_set = DATA_SETS[config["transfer"]["few_shot"]["target"]["set"]]
        target, local_dir_key = data_source(config, target_set.name)
        data[target_set.name] = (
            *image_counts(target, target_set, local_dir_key),
            drawn_labels(target, others),
        )
    tables = {}
    for name, settings in trainings.items():
        counts = data[data_set_of(transfer, name)]
        tables[name] = check_run(
            name,
            settings,
            run_schema,
            counts[0],
            counts[1],
            tuple(config["data"]["image_shape"]),
            len(data_set.classes),
            counts[2],
            f"transfer, network {name}" if name in transfer else None,
        )
    return Settings(
        config,
        run_schema,
        runs,
        sweeps,
        comparisons,
        swept,
        data_set,
        trainings,
        {name: planned for name, (planned, _s) in transfer.items()},
        train_count,
        test_count,
        tables,
    )


def data_set_of(transfer: dict, name: str) -> str | None:
    """The data set training `name` trains on, where it is not the workflow's (None)."""
    return transfer[name][0].data_set if name in transfer else None


def transfer_trainings(
    config: dict, run_schema: dict, labels: int, runs: list[str]
) -> dict[str, tuple[Training, dict]]:
    """The transfer experiment's networks (none unless transfer.enabled): name -> (its plan,
    its full settings: `defaults` with its overrides)."""
    block = config["transfer"]
    if not block["enabled"]:
        return {}
    defaults = coerce_scalars(config.get("defaults") or {}, run_schema)
    base = _run_settings(defaults, {}, run_schema, "defaults")
    try:
        network = LayerTable.declared(
            base["model"]["layers"], tuple(config["data"]["image_shape"]), labels
        )
    except LayerError as error:
        raise ConfigError(f"defaults: {error}") from None
    trainings = {}
    for name, planned in plan(
        block, base["seed"], labels, tuple(network.transferable), config["data"]["set"], runs
    ).items():
        where = f"transfer.training_{planned.half.lower()}"
        try:
            settings = _run_settings(
                defaults, coerce_scalars(planned.overrides, run_schema), run_schema, where
            )
        except jsonschema.ValidationError as error:
            raise ConfigError(
                f"transfer, network {name} (defaults merged with {where}): {schema_problem(error)}"
            ) from None
        if planned.kind in FEW_SHOT_KINDS:
            fit_batch(settings)
        trainings[name] = (planned, settings)
    return trainings


def drawn_labels(data: dict, runs: dict[str, dict]) -> Any:
    """The local copy's training labels where a run draws examples per class, for the check
    before any job; else None, as when the file is damaged: the data stage says how."""
    if not data["local_dir"] or all(
        settings["training"]["examples_per_class"] is None for settings in runs.values()
    ):
        return None
    try:
        return read_idx(local_files(data["local_dir"])["train_labels"])
    except IdxFormatError:
        return None


def workflow_data_set(data: dict) -> tuple[DataSet, tuple[int, int]]:
    """The data set `data:` names, and its training and test image counts. Your own images
    (data.format npz or folder) are checked as far as their headers, labels and listing go
    (mnist_filters/own_images.py), and set data.image_shape to theirs."""
    name, fmt = data["set"], data["format"]
    if fmt == "idx":
        if name not in DATA_SETS:
            raise ConfigError(
                f"data.set: {name!r} is not a data set the workflow fetches "
                f"({', '.join(DATA_SETS)}); {did_you_mean(name, DATA_SETS)}for your own images "
                "set data.format: npz or folder, and data.path"
            )
        if data["path"]:
            raise ConfigError(
                "data.path is for data.format npz or folder; IDX files are copied from "
                "data.local_dir"
            )
        if data["image_shape"] is None:
            data["image_shape"] = list(DATA_SETS[name].image_shape)
        return DATA_SETS[name], image_counts(data, DATA_SETS[name])
    if not data["path"]:
        raise ConfigError(f"data.format is {fmt}: set data.path to the {OWN_PATHS[fmt]}")
    if data["local_dir"]:
        raise ConfigError(
            f"data.local_dir is for IDX files; with data.format: {fmt} the images come from "
            "data.path alone"
        )
    found = own_images.layout(fmt, data["path"])
    known = DATA_SETS.get(name)
    classes = found.classes
    if (
        known
        and len(known.classes) == len(classes)
        and classes == tuple(map(str, range(len(classes))))
    ):
        classes = known.classes  # mnist.npz holds no class names: MNIST's are its digits anyway
    data["image_shape"] = list(found.image_shape)
    own = DataSet(
        name, known.title if known else name, classes, {}, (), found.counts, found.image_shape
    )
    return own, found.counts


def image_counts(
    data: dict, data_set: DataSet, local_dir_key: str = "data.local_dir"
) -> tuple[int, int]:
    """Training and test images the run will have, checking `data.image_shape` against them: a
    local copy's headers (read, not the files), else the data set's own table.
    `local_dir_key` names the setting data["local_dir"] comes from."""
    wanted = tuple(data["image_shape"] or data_set.image_shape)
    if not data["local_dir"]:
        found = {f"the {data_set.name} download": data_set.image_shape}
        counts = data_set.counts
    elif data_set.archive:
        # what an archive holds shows only once read: the data stage checks it
        path = data_set.source_files(data["local_dir"])[data_set.archive]
        if not path.is_file():
            raise ConfigError(f"{local_dir_key}: {path} not found; the folder must hold it")
        found, counts = {str(path): data_set.image_shape}, data_set.counts
    else:
        paths = local_files(data["local_dir"])
        for path in paths.values():
            if not path.is_file():
                raise ConfigError(
                    f"{local_dir_key}: {path} not found; the folder must hold "
                    + ", ".join(FILES.values())
                )
        dims = {key: read_idx_dims(paths[key]) for key in ("train_images", "test_images")}
        # A header of another rank is the data stage's format error, with its own message.
        found = {str(paths[key]): d[1:] for key, d in dims.items() if len(d) == 3}
        counts = (dims["train_images"][0], dims["test_images"][0])
    for source, shape in found.items():
        if tuple(shape) != wanted:
            raise ConfigError(
                f"data.image_shape is {list(wanted)}, but {source} holds "
                f"{'x'.join(map(str, shape))} images; set data.image_shape: {list(shape)}"
            )
    return counts


def deep_merge(base: dict, overrides: dict) -> dict:
    """`base` updated with `overrides`, recursing into nested mappings; inputs untouched."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def unknown_keys(data: Any, schema: dict, where: str, definitions: dict | None = None) -> list[str]:
    """Messages for keys of `data` that `schema` does not declare, each with a guess
    (`definitions`: the schema's $defs, for the entries that refer to one)."""
    definitions = schema.get("$defs", {}) if definitions is None else definitions
    if not isinstance(data, dict) or "properties" not in schema:
        return []
    known = schema["properties"]
    messages = []
    extra = schema.get("additionalProperties", True)
    for key, value in data.items():
        if key in known:
            messages += unknown_keys(value, known[key], f"{where}.{key}", definitions)
        elif isinstance(extra, dict) and isinstance(value, dict):
            entry = definitions.get(extra.get("$ref", "").split("/")[-1], extra)
            messages += unknown_keys(value, entry, f"{where}.{key}", definitions)
        elif extra is False or isinstance(extra, dict):  # open to mappings only (model's layers)
            guess = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
            hint = f"; did you mean '{guess[0]}'?" if guess else f"; known keys: {', '.join(known)}"
            messages.append(f"{where}: unknown key '{key}'{hint}")
    return messages


def check_run_name(name: Any, where: str = "runs") -> None:
    if not isinstance(name, str) or not SAFE_RUN_NAME.match(name):
        raise ConfigError(
            f"{where}: {name!r} is not a usable run name: it names the folder results/<data "
            f"set>/<run>/, so it must be "
            "1-128 letters, digits, '_', '-', '.', '+' or '~', starting with a letter or digit (no "
            "'/', no '..')"
        )
    if name in RESERVED_RUN_NAMES:
        raise ConfigError(
            f"{where}: {name!r} is not a usable run name: results/<data set>/{name}/ holds the "
            + ("comparisons" if name == "sweeps" else "transfer experiment's networks")
        )


def resolve_runs(config: dict, run_schema: dict, swept: dict | None = None) -> dict[str, dict]:
    """Each run's full settings, `runs:` first, then each sweep's grid points (see
    mnist_filters.sweeps).

    A run is `defaults` merged with its overrides (a sweep run's: the sweep's `base`, then
    its grid values), checked against `run_schema`. `swept` is sweep_runs(config, run_schema),
    for a caller that needs it too.
    """
    runs = config.get("runs") or {}
    if not runs and not config.get("sweeps") and not (config.get("transfer") or {}).get("enabled"):
        raise ConfigError(
            "runs: no runs are configured; add at least one, e.g. `runs: {seed: {}}`, a sweep, "
            "or the transfer experiment"
        )
    defaults = coerce_scalars(config.get("defaults") or {}, run_schema)
    check_old_model_form(defaults.get("model") or {}, "defaults")
    problems = unknown_keys(defaults, run_schema, "defaults")
    if problems:
        raise ConfigError("\n".join(problems))
    resolved = {}
    for name, overrides in runs.items():
        check_run_name(name)
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, dict):
            raise ConfigError(
                f"runs.{name}: must be a mapping of settings to override, got {overrides!r}"
            )
        try:
            resolved[name] = _run_settings(
                defaults, coerce_scalars(overrides, run_schema), run_schema, f"runs.{name}"
            )
        except jsonschema.ValidationError as error:
            raise ConfigError(
                f"runs.{name} (defaults merged with its overrides): {schema_problem(error)}"
            ) from None
    swept = sweep_runs(config, run_schema) if swept is None else swept
    for run, (sweep, base, point) in swept.items():
        where = f"sweeps.{sweep}"
        check_run_name(run, where)
        if run in resolved:
            raise ConfigError(
                f"{where}: its run {run} has the name of a run in `runs:`; rename the sweep or the "
                f"run"
            )
        try:
            resolved[run] = _run_settings(
                defaults, overrides_of(base, point), run_schema, f"{where}.base"
            )
        except jsonschema.ValidationError as error:
            path = ".".join(str(p) for p in error.absolute_path)
            if path in point:
                raise ConfigError(
                    f"{where}.grid: {path} = {point[path]!r} is not a valid value: {error.message}"
                ) from None
            raise ConfigError(
                f"{where}, run {run} (defaults, the sweep's base and its grid values): "
                f"{schema_problem(error)}"
            ) from None
    return resolved


def sweep_runs(config: dict, run_schema: dict) -> dict[str, tuple[str, dict, dict]]:
    """Each sweep's runs: run name -> (sweep, base overrides, {dotted setting: value}), in the
    order written.

    Values are parsed as resolve_runs parses them (a command line's '1e-4' is the number),
    so a run's name is the same however its sweep was given.
    """
    coerced = {}
    for name, sweep in (config.get("sweeps") or {}).items():
        if name == PLAIN_RUNS:
            raise ConfigError(
                f"sweeps: '{name}' is not a usable sweep name: results/<data set>/sweeps/{name}/ "
                f"compares `runs:`"
            )
        grid = {}
        for path, values in sweep["grid"].items():
            schema = setting_schema(run_schema, path, f"sweeps.{name}.grid")
            grid[path] = [
                coerce_scalars(value, schema, run_schema.get("$defs", {})) for value in values
            ]
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
    check_old_model_form(overrides.get("model") or {}, where)
    problems = unknown_keys(overrides, run_schema, where)
    if problems:
        raise ConfigError("\n".join(problems))
    settings = deep_merge(defaults, overrides)
    validate(settings, run_schema)
    settings["model"] = resolve_model(settings["model"], run_schema, where)
    return settings
