# Configuration checks and helpers shared by the rules.

import math
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# The rule scripts' library, also importable here for config checks.
sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from mnist_filters.dataset import FILES, local_files
from mnist_filters.idx import read_idx_dims
from mnist_filters.settings import (
    ConfigError,
    check_against_data,
    check_duplicate_keys,
    coerce_scalars,
    resolve_runs,
)
import yaml

for _path in workflow.configfiles:
    check_duplicate_keys(_path)
CONFIG_SCHEMA = Path(workflow.basedir) / "schemas" / "config.schema.yaml"
config.update(coerce_scalars(config, yaml.safe_load(CONFIG_SCHEMA.read_text())))
validate(config, schema="../schemas/config.schema.yaml")

RUN_SCHEMA = Path(workflow.basedir) / "schemas" / "run.schema.yaml"
RUNS = resolve_runs(
    config,
    yaml.safe_load(RUN_SCHEMA.read_text()),
    lambda settings: validate(settings, schema=str(RUN_SCHEMA)),
)
MNIST_DIR = "resources/mnist"
# Canonical MNIST has 60,000 training images; a local copy says in its header.
LOCAL_MNIST = config["mnist"]["local_dir"]
if LOCAL_MNIST:
    for _path in local_files(LOCAL_MNIST).values():
        if not _path.is_file():
            raise ConfigError(
                f"mnist.local_dir: {_path} not found; the folder must hold "
                + ", ".join(FILES.values())
            )
    TRAIN_COUNT = read_idx_dims(local_files(LOCAL_MNIST)["train_images"])[0]
    TEST_COUNT = read_idx_dims(local_files(LOCAL_MNIST)["test_images"])[0]
else:
    TRAIN_COUNT, TEST_COUNT = 60000, 10000
for _name, _settings in RUNS.items():
    check_against_data(
        _name, _settings, TRAIN_COUNT, TEST_COUNT, tuple(config["mnist"]["image_shape"])
    )


wildcard_constraints:
    run="|".join(RUNS),


def mnist_files():
    """The data stage's outputs, by key (train_images, ...)."""
    return {key: f"{MNIST_DIR}/{name}" for key, name in FILES.items()}


def local_mnist_inputs(wildcards):
    """The user's local copy, so that Snakemake notices when it changes."""
    if not LOCAL_MNIST:
        return {}
    return {key: str(path) for key, path in local_files(LOCAL_MNIST).items()}


def run_setting(*keys):
    """A params function: the named (nested) setting of the job's run."""

    def lookup(wildcards):
        value = RUNS[wildcards.run]
        for key in keys:
            value = value[key]
        return value

    return lookup


def train_runtime(wildcards, attempt):
    """Minutes for `train`: measured 24 s for 2000 steps of 50 on 2 cores; allow for nodes
    ten times slower (1,000 examples/s), at least 10 minutes, and more on each retry."""
    training = RUNS[wildcards.run]["training"]
    minutes = training["steps"] * training["batch_size"] / 1000 / 60
    return max(10, math.ceil(minutes)) * attempt


def all_outputs():
    return expand(
        [
            "results/{run}/model.keras",
            "results/{run}/metrics.json",
            "results/{run}/rankings.csv",
            "results/{run}/figures/samples.png",
            "results/{run}/figures/filters.png",
            "results/{run}/figures/training_curve.png",
            "results/{run}/figures/top_patches",
        ],
        run=RUNS,
    )
