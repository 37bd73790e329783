"""What a schema cannot check in a run's settings: each block against the data and the network.

The run's layer table (network/table.py) is made first, from its declared layers; a network
that cannot be (a window that does not fit, a convolution after a dense layer, two layers of
one name) is refused there. Then every setting that names layers (LAYER_SETTINGS) is resolved
against the table, its selectors (`first_convolution`, ...) replaced by the layers' names in
the run's settings, so that each stage gets names. Then one function per block of run
settings, registered in BLOCK_CHECKS by its decorator, each raising a ConfigError that names
the run and the key. They run as the workflow starts (settings.load), before any job, so
they live here rather than in the stage modules: those import NumPy and h5py, which would
add about 0.17 s to every Snakemake start, no-op reruns included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_filters.dataset import check_examples_per_class, sha256_file
from mnist_filters.errors import ConfigError
from mnist_filters.network import from_keras
from mnist_filters.network.table import LayerError, LayerTable
from mnist_filters.schema import invariance_ranges, snapshot_steps


@dataclass(frozen=True)
class Context:
    """What the checks know beyond the settings: the data, and the model the settings make."""

    train_count: int
    test_count: int
    image_shape: tuple[int, int]
    table: LayerTable  # the run's network
    kept_steps: list[int]  # the training steps whose weights the run keeps
    classes: int  # classes of the data set: the logits' units
    # the training file's labels where a run draws examples per class and a local copy holds
    # them before any job (a download's are checked by the training job)
    train_labels: Any = None


# Block of run settings -> its check, in the order they are defined here (the run schema's);
# a check joins it by its decorator. The network's (every layer's window fits its input) runs
# first, as the context's table is made.
BLOCK_CHECKS: dict[str, Callable[[dict, Context], None]] = {}


def checks(block: str):
    """Register the decorated function as the check of settings block `block`."""

    def register(check: Callable[[dict, Context], None]):
        BLOCK_CHECKS[block] = check
        return check

    return register


@checks("training")
def check_training(settings: dict, data: Context) -> None:
    training = settings["training"]
    classes = training["classes"]
    unknown = [label for label in classes or () if label >= data.classes]
    if unknown:
        raise ConfigError(
            f"training.classes: {unknown} are not labels of the data set, whose labels are "
            f"0..{data.classes - 1}"
        )
    if settings["model"].get("file"):
        return  # nothing is trained: of `training`, only the classes apply
    held_out = training["validation_size"]
    if held_out >= data.train_count:
        raise ConfigError(
            f"training.validation_size is {held_out} but the training set holds only "
            f"{data.train_count} images; "
            "leave some to train on"
        )
    remaining = data.train_count - held_out
    if training["batch_size"] > remaining:
        raise ConfigError(
            f"training.batch_size is {training['batch_size']}, larger than the {remaining} "
            f"training images left "
            f"after holding out {held_out} for validation"
        )
    per_class = training["examples_per_class"]
    if per_class is not None:
        if data.train_labels is not None:
            rest = data.train_labels[held_out:]
            check_examples_per_class(rest, per_class, held_out, classes)
        drawn = per_class * len(classes or range(data.classes))
        if training["batch_size"] > drawn:
            raise ConfigError(
                f"training.batch_size is {training['batch_size']}, larger than the {drawn} "
                f"training images of {per_class} per class"
            )


@checks("ranking")
def check_ranking(settings: dict, data: Context) -> None:
    ranking = settings["ranking"]
    for layer in settings["activations"]["layers"]:
        channels = data.table[layer].units
        bad = [f for f in ranking["filters"] or [] if f >= channels]
        if bad:
            raise ConfigError(
                f"ranking.filters {bad} out of range: layer {layer} has {channels} filters "
                f"(0..{channels - 1})"
            )
        geometry = data.table[layer].geometry
        per_image = 1 if ranking["one_per_image"] else geometry.rows.length * geometry.cols.length
        positions = data.test_count * per_image
        if ranking["top_k"] > positions:
            raise ConfigError(
                f"ranking.top_k is {ranking['top_k']} but layer {layer} has only {positions} "
                f"positions to rank "
                f"({data.test_count} test images x {per_image} per image)"
            )


@checks("projections")
def check_projections(settings: dict, data: Context) -> None:
    dumped = settings["activations"]["layers"]
    not_dumped = [layer for layer in settings["projections"]["layers"] or [] if layer not in dumped]
    if not_dumped:
        raise ConfigError(
            f"projections.layers {not_dumped} are not dumped (activations.layers is {dumped}); "
            f"projections start "
            "from ranked units of dumped layers"
        )


@checks("evolution")
def check_evolution(settings: dict, data: Context) -> None:
    steps = settings["training"]["steps"]
    late = [step for step in data.kept_steps if step > steps]
    if late:
        raise ConfigError(
            f"evolution.steps {late} are past training.steps ({steps}); training keeps weights "
            f"only at the steps "
            "it reaches"
        )


@checks("occlusion")
def check_occlusion(settings: dict, data: Context) -> None:
    occlusion = settings["occlusion"]
    if occlusion["size"] > min(data.image_shape[:2]):
        raise ConfigError(
            f"occlusion.size is {occlusion['size']}, larger than the "
            f"{data.image_shape[0]}x{data.image_shape[1]} "
            "images"
        )
    bad = [i for i in occlusion["images"] or [] if i >= data.test_count]
    if bad:
        raise ConfigError(
            f"occlusion.images {bad} out of range: the test set has {data.test_count} images "
            f"(0..{data.test_count - 1})"
        )


@checks("invariance")
def check_invariance(settings: dict, data: Context) -> None:
    invariance = settings["invariance"]
    # a small test set (your own images) must not need a setting for an analysis left off
    if invariance["enabled"] and invariance["images"] > data.test_count:
        raise ConfigError(
            f"invariance.images is {invariance['images']} but the test set has {data.test_count} "
            f"images"
        )
    for transformation, values in invariance_ranges(invariance).items():
        if values["min"] > values["max"]:
            raise ConfigError(
                f"invariance.{transformation}: min {values['min']} is above max {values['max']}"
            )
    if invariance["scale"]["min"] <= 0:
        raise ConfigError(
            f"invariance.scale.min is {invariance['scale']['min']}; a scale must be above 0"
        )


@checks("feature_visualisation")
def check_feature_visualisation(settings: dict, data: Context) -> None:
    visualisation = settings["feature_visualisation"]
    units = {layer: data.table[layer].units for layer in visualisation["layers"]}
    for layer in visualisation["layers"]:
        bad = [u for u in visualisation["units"] or [] if u >= units[layer]]
        if bad:
            raise ConfigError(
                f"feature_visualisation.units {bad} out of range: layer {layer} has "
                f"{units[layer]} units (0..{units[layer] - 1})"
            )
    if visualisation["jitter"] >= min(data.image_shape[:2]):
        raise ConfigError(
            f"feature_visualisation.jitter is {visualisation['jitter']} pixels, as large as the "
            f"{data.image_shape[0]}x{data.image_shape[1]} images: a shift would move the whole "
            "image out of view"
        )


# Each setting that names layers: (block, key) -> (the table's layers it may name, what those
# are, for errors). A key of one layer (occlusion.layer) holds a name, the others lists.
LAYER_SETTINGS: dict[tuple[str, str], tuple[Callable[[LayerTable], list[str]], str]] = {
    ("activations", "layers"): (lambda t: t.spatial, "the layers with a spatial output are"),
    ("projections", "layers"): (lambda t: t.spatial, "the layers with a spatial output are"),
    ("evolution", "layers"): (lambda t: t.spatial, "the layers with a spatial output are"),
    ("occlusion", "layer"): (lambda t: t.spatial, "the layers with a spatial output are"),
    ("invariance", "layers"): (lambda t: t.comparable, "the layers it compares are"),
    ("feature_visualisation", "layers"): (
        lambda t: t.visualisable,
        "the convolutions and dense layers are",
    ),
}


def resolve_layer_settings(settings: dict, table: LayerTable) -> None:
    """Every setting of LAYER_SETTINGS as the table's layer names, in place."""
    for (block, key), (among, what) in LAYER_SETTINGS.items():
        value = settings[block][key]
        if value is None:
            continue
        names = table.resolve(
            [value] if isinstance(value, str) else value, f"{block}.{key}", among(table), what
        )
        if isinstance(value, str):
            if len(names) != 1:
                raise ConfigError(f"{block}.{key}: {value} stands for {names}; name one layer")
            names = names[0]
        settings[block][key] = names


def run_table(settings: dict, image_shape: tuple[int, ...], classes: int) -> LayerTable:
    """The layer table of the network a run's settings declare; `classes`: the data set's.
    A model read from a file (model.file) is checked against the data, and its layers and
    the file's sha256 (what reruns the run when the file changes) enter the settings."""
    units = len(settings["training"]["classes"] or range(classes))
    model = settings["model"]
    if not model.get("file"):
        return LayerTable.declared(model["layers"], tuple(image_shape), units)
    path = Path(model["file"]).expanduser()
    table = from_keras.planned_table(path, model["input_range"])
    from_keras.check_fits(table, path, tuple(image_shape), units)
    model["layers"] = [{"name": layer.name, "kind": layer.kind} for layer in table]
    model["sha256"] = sha256_file(path)
    return table


def check_run(
    name: str,
    settings: dict,
    run_schema: dict,
    train_count: int,
    test_count: int,
    image_shape: tuple[int, int],
    classes: int,
    train_labels: Any = None,
    where: str | None = None,
) -> LayerTable:
    """The run's layer table, its layer settings resolved (in place), and every block's check
    for run `name`; a ConfigError names the run (or `where`) and the setting. Returns the
    table."""
    try:
        table = run_table(settings, image_shape, classes)
        resolve_layer_settings(settings, table)
        context = Context(
            train_count,
            test_count,
            tuple(image_shape),
            table,
            snapshot_steps(settings, run_schema),
            classes,
            train_labels,
        )
        for check in BLOCK_CHECKS.values():
            check(settings, context)
        return table
    except (ConfigError, LayerError, ValueError) as error:
        raise ConfigError(f"{where or f'runs.{name}'}: {error}") from None
