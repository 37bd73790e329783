"""What a schema cannot check in a run's settings: each block against the data and the model.

One function per block of run settings, listed in BLOCK_CHECKS, each raising a ConfigError
that names the run and the key. They run as the workflow starts (settings.load), before any
job, so they live here rather than in the stage modules: those import NumPy and h5py, which
would add about 0.17 s to every Snakemake start, no-op reruns included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mnist_filters.dataset import check_examples_per_class
from mnist_filters.errors import ConfigError
from mnist_filters.network.geometry import Geometry, filters_of, geometries
from mnist_filters.schema import invariance_ranges, snapshot_steps


@dataclass(frozen=True)
class Context:
    """What the checks know beyond the settings: the data, and the model the settings make."""

    train_count: int
    test_count: int
    image_shape: tuple[int, int]
    layers: dict[str, Geometry]  # each spatial layer's geometry
    kept_steps: list[int]  # the training steps whose weights the run keeps
    classes: int  # classes of the data set: the logits' units
    # the training file's labels where a run draws examples per class and a local copy holds
    # them before any job (a download's are checked by the training job)
    train_labels: Any = None


def check_training(settings: dict, data: Context) -> None:
    training = settings["training"]
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
    classes = training["classes"]
    unknown = [label for label in classes or () if label >= data.classes]
    if unknown:
        raise ConfigError(
            f"training.classes: {unknown} are not labels of the data set, whose labels are "
            f"0..{data.classes - 1}"
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


def check_ranking(settings: dict, data: Context) -> None:
    ranking = settings["ranking"]
    for layer in settings["activations"]["layers"]:
        channels = filters_of(settings["model"], layer)
        bad = [f for f in ranking["filters"] or [] if f >= channels]
        if bad:
            raise ConfigError(
                f"ranking.filters {bad} out of range: layer {layer} has {channels} filters "
                f"(0..{channels - 1})"
            )
        geometry = data.layers[layer]
        per_image = 1 if ranking["one_per_image"] else geometry.rows.length * geometry.cols.length
        positions = data.test_count * per_image
        if ranking["top_k"] > positions:
            raise ConfigError(
                f"ranking.top_k is {ranking['top_k']} but layer {layer} has only {positions} "
                f"positions to rank "
                f"({data.test_count} test images x {per_image} per image)"
            )


def check_projections(settings: dict, data: Context) -> None:
    dumped = settings["activations"]["layers"]
    not_dumped = [layer for layer in settings["projections"]["layers"] or [] if layer not in dumped]
    if not_dumped:
        raise ConfigError(
            f"projections.layers {not_dumped} are not dumped (activations.layers is {dumped}); "
            f"projections start "
            "from ranked units of dumped layers"
        )


def check_evolution(settings: dict, data: Context) -> None:
    steps = settings["training"]["steps"]
    late = [step for step in data.kept_steps if step > steps]
    if late:
        raise ConfigError(
            f"evolution.steps {late} are past training.steps ({steps}); training keeps weights "
            f"only at the steps "
            "it reaches"
        )


def check_occlusion(settings: dict, data: Context) -> None:
    occlusion = settings["occlusion"]
    if occlusion["size"] > min(data.image_shape):
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


def check_invariance(settings: dict, data: Context) -> None:
    invariance = settings["invariance"]
    if invariance["images"] > data.test_count:
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


def check_feature_visualisation(settings: dict, data: Context) -> None:
    visualisation = settings["feature_visualisation"]
    model = settings["model"]
    units = {
        "conv1": filters_of(model, "conv1"),
        "conv2": filters_of(model, "conv2"),
        "fc1": model["fc1_units"],
        "logits": len(settings["training"]["classes"] or range(data.classes)),
    }
    for layer in visualisation["layers"]:
        bad = [u for u in visualisation["units"] or [] if u >= units[layer]]
        if bad:
            raise ConfigError(
                f"feature_visualisation.units {bad} out of range: layer {layer} has "
                f"{units[layer]} units (0..{units[layer] - 1})"
            )
    if visualisation["jitter"] >= min(data.image_shape):
        raise ConfigError(
            f"feature_visualisation.jitter is {visualisation['jitter']} pixels, as large as the "
            f"{data.image_shape[0]}x{data.image_shape[1]} images: a shift would move the whole "
            "image out of view"
        )


# Block of run settings -> its check, in the order of the run schema. The model's (every
# layer's window fits its input) runs first, as the context's geometries are made.
BLOCK_CHECKS: dict[str, Callable[[dict, Context], None]] = {
    "training": check_training,
    "ranking": check_ranking,
    "projections": check_projections,
    "evolution": check_evolution,
    "occlusion": check_occlusion,
    "invariance": check_invariance,
    "feature_visualisation": check_feature_visualisation,
}


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
) -> None:
    """Every block's check for run `name`; a ConfigError names the run (or `where`) and the
    setting."""
    try:
        context = Context(
            train_count,
            test_count,
            tuple(image_shape),
            geometries(settings["model"], image_shape),
            snapshot_steps(settings, run_schema),
            classes,
            train_labels,
        )
        for check in BLOCK_CHECKS.values():
            check(settings, context)
    except (ConfigError, ValueError) as error:
        raise ConfigError(f"{where or f'runs.{name}'}: {error}") from None
