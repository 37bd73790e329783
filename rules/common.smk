# Configuration checks and helpers shared by the rules.

import math
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

# This repository, found from this file (in a Snakemake module, workflow.basedir is the
# user's project), and its rule scripts' library, importable here for the config checks.
if not isinstance(workflow.current_basedir, os.PathLike):
    raise WorkflowError(
        f"mnist-filters must be used from a folder on disk, not from {workflow.current_basedir}: "
        "its rules import the workflow's own Python library while Snakemake reads them. Clone "
        "the repository (at the tag you want) and give the module the clone's Snakefile."
    )
REPO = Path(workflow.current_basedir).parent
sys.path.insert(0, str(REPO / "scripts"))

from mnist_filters.code_digest import code_digest
from mnist_filters.dataset import DATA_SETS, FILES, local_files, md5_file
from mnist_filters.errors import ConfigError
from mnist_filters.idx import read_idx_dims
from mnist_filters.settings import (
    check_against_data,
    check_config,
    check_duplicate_keys,
    check_image_shape,
    check_moved_keys,
    coerce_scalars,
    invariance_ranges,
    load_yaml,
    resolve_runs,
    snapshot_steps,
    sweep_runs,
)
from mnist_filters.sweeps import PLAIN_RUNS, compared_settings, flatten

SCRIPTS = REPO / "scripts"
# What each library file parses to, by content: spares every start the parsing.
CODE_DIGEST_CACHE = Path(".snakemake") / "mnist-filters" / "code-digests.json"
SCHEMAS = REPO / "schemas"
for _path in workflow.configfiles:
    check_duplicate_keys(_path)
check_moved_keys(config)
# Checked here, not with snakemake.utils.validate, which rereads a schema on every call
# (see mnist_filters.settings.validate): the parse runs on every start, no-op reruns too.
CONFIG_SCHEMA = load_yaml(SCHEMAS / "config.schema.yaml")
config.update(coerce_scalars(config, CONFIG_SCHEMA))
check_config(config, CONFIG_SCHEMA)
RUN_SCHEMA = load_yaml(SCHEMAS / "run.schema.yaml")
SWEEP_RUNS = sweep_runs(config, RUN_SCHEMA)
RUNS = resolve_runs(config, RUN_SCHEMA, SWEEP_RUNS)
# Comparison name -> its runs: each sweep's, and the `runs:` map's when it has two or more.
COMPARISONS = {PLAIN_RUNS: list(config["runs"])} if len(config["runs"]) > 1 else {}
for _run, (_sweep, _base, _point) in SWEEP_RUNS.items():
    COMPARISONS.setdefault(_sweep, []).append(_run)
# ... and the settings that differ among them, a sweep's grid first.
SWEPT = {
    _name: compared_settings(
        {run: RUNS[run] for run in _runs}, config["sweeps"].get(_name, {}).get("grid", ())
    )
    for _name, _runs in COMPARISONS.items()
}
DATA_SET = DATA_SETS[config["data"]["set"]]
# The data set's full training split has 60,000 images; a local copy says in its header.
LOCAL_DATA = config["data"]["local_dir"]
if LOCAL_DATA:
    for _path in local_files(LOCAL_DATA).values():
        if not _path.is_file():
            raise ConfigError(
                f"data.local_dir: {_path} not found; the folder must hold "
                + ", ".join(FILES.values())
            )
    _dims = {
        _key: read_idx_dims(local_files(LOCAL_DATA)[_key])
        for _key in ("train_images", "test_images")
    }
    # A header of another rank is the data stage's format error, with its own message.
    check_image_shape(
        config["data"]["image_shape"],
        {str(local_files(LOCAL_DATA)[_key]): _d[1:] for _key, _d in _dims.items() if len(_d) == 3},
    )
    TRAIN_COUNT, TEST_COUNT = _dims["train_images"][0], _dims["test_images"][0]
else:
    check_image_shape(
        config["data"]["image_shape"],
        {f"the {DATA_SET.name} download": DATA_SET.image_shape},
    )
    TRAIN_COUNT, TEST_COUNT = 60000, 10000
for _name, _settings in RUNS.items():
    check_against_data(
        _name, _settings, TRAIN_COUNT, TEST_COUNT, tuple(config["data"]["image_shape"])
    )


wildcard_constraints:
    run="|".join(map(re.escape, RUNS)),
    comparison="|".join(map(re.escape, COMPARISONS)) or "(?!)",


def data_files():
    """The data stage's outputs, by key (train_images, ...), in the data set's resources/."""
    return {key: f"<resources>/{name}" for key, name in FILES.items()}


def data_content():
    """The md5 of each file the data stage will write: the data set's canonical sums when
    downloading, the local copy's own when copying. As a params entry it reruns the data
    stage (and so everything) when the bytes change, and nothing when only their source
    does: a mirror, a timeout, or a byte-identical copy in another folder."""
    if not LOCAL_DATA:
        return {name: md5 for name, (_size, md5) in DATA_SET.canonical.items()}
    return {path.name: md5_file(path) for path in local_files(LOCAL_DATA).values()}


def code_of(script):
    """A params entry: the digest of a rule script and of every library module it runs
    (see mnist_filters/code_digest.py), so that an edit to that code reruns the rule."""
    return code_digest(SCRIPTS / script, SCRIPTS, cache=CODE_DIGEST_CACHE)


def run_setting(*keys):
    """A params function: the named (nested) setting of the job's run."""

    def lookup(wildcards):
        value = RUNS[wildcards.run]
        for key in keys:
            value = value[key]
        return value

    return lookup


def training_snapshots(wildcards):
    """A params function: the training steps whose weights the job's run keeps."""
    return snapshot_steps(RUNS[wildcards.run])


def projected_layers(wildcards):
    """A params function: the layers whose ranked units are projected (null: every dumped layer)."""
    settings = RUNS[wildcards.run]
    return settings["projections"]["layers"] or settings["activations"]["layers"]


def of_compared_runs(pattern):
    """An input function: `pattern` (with {run}) for each run of the job's comparison."""
    return lambda wildcards: expand(pattern, run=COMPARISONS[wildcards.comparison])


def swept_settings(wildcards):
    """A params function: run -> {setting: value} of the settings that differ in the comparison."""
    runs = COMPARISONS[wildcards.comparison]
    return {
        run: {key: flatten(RUNS[run])[key] for key in SWEPT[wildcards.comparison]} for run in runs
    }


def train_runtime(wildcards, attempt):
    """Minutes for `train`: measured 24 s for 2000 steps of 50 on 2 cores; allow for nodes
    ten times slower (1,000 examples/s), at least 10 minutes, and more on each retry."""
    training = RUNS[wildcards.run]["training"]
    minutes = training["steps"] * training["batch_size"] / 1000 / 60
    return max(10, math.ceil(minutes)) * attempt


# What each optional analysis makes, by its setting block (made where `enabled`).
OPTIONAL_OUTPUTS = {
    "occlusion": ["<results>/{run}/occlusion.h5", "<results>/{run}/figures/occlusion"],
    "invariance": ["<results>/{run}/invariance.csv", "<results>/{run}/figures/invariance"],
    "evolution": ["<results>/{run}/evolution.csv", "<results>/{run}/figures/evolution"],
}


def gallery_sections(wildcards):
    """An input function: what the gallery shows beyond the projections, for the analyses the
    job's run makes (OPTIONAL_OUTPUTS)."""
    settings = RUNS[wildcards.run]
    sections = {
        "evolution": "<results>/{run}/evolution.csv",
        "occlusion": "<results>/{run}/figures/occlusion",
        "invariance": "<results>/{run}/figures/invariance",
    }
    return {
        name: path.format(run=wildcards.run)
        for name, path in sections.items()
        if settings[name]["enabled"]
    }


def all_outputs():
    outputs = [
        path.format(run=run)
        for run, settings in RUNS.items()
        for analysis, paths in OPTIONAL_OUTPUTS.items()
        if settings[analysis]["enabled"]
        for path in paths
    ]
    outputs += expand(
        [
            "<results>/sweeps/{comparison}/runs.csv",
            "<results>/sweeps/{comparison}/curves.png",
            "<results>/sweeps/{comparison}/effects.png",
            "<results>/sweeps/{comparison}/filters.png",
        ],
        comparison=COMPARISONS,
    )
    return outputs + expand(
        [
            "<results>/{run}/model.keras",
            "<results>/{run}/metrics.json",
            "<results>/{run}/rankings.csv",
            "<results>/{run}/figures/projections",
            "<results>/{run}/gallery",
            "<results>/{run}/figures/samples.png",
            "<results>/{run}/figures/filters.png",
            "<results>/{run}/figures/training_curve.png",
            "<results>/{run}/figures/top_patches",
            "<results>/{run}/confusion.csv",
            "<results>/{run}/figures/confusion.png",
            "<results>/{run}/figures/mistakes.png",
        ],
        run=RUNS,
    )
