# Configuration checks and helpers shared by the rules.

import hashlib
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

from mnist_filters.closing_message import where_to_look
from mnist_filters.code_digest import code_digest
from mnist_filters import own_images
from mnist_filters.dataset import DATA_SETS, FILES, md5_file
from mnist_filters.schema import invariance_ranges, snapshot_steps
from mnist_filters.settings import load
from mnist_filters.sweeps import flatten
from mnist_filters.transfer_plan import FEW_SHOT_KINDS, TREATMENTS, data_source

SCRIPTS = REPO / "scripts"
# What each library file parses to, by content: spares every start the parsing.
CODE_DIGEST_CACHE = Path(".snakemake") / "mnist-filters" / "code-digests.json"
# The sha256 of each of your own image files, by size and time: spares hashing a folder again.
OWN_IMAGES_CACHE = Path(".snakemake") / "mnist-filters" / "own-images.json"
# Every check of the config, before any job: the schemas' types, ranges and defaults, run
# names, sweeps, and each run's settings against the data and the model.
SETTINGS = load(config, workflow.configfiles, REPO / "schemas")
RUNS = SETTINGS.runs
# every network trained: the runs, and the transfer experiment's (transfer/<network>)
TRAININGS = SETTINGS.trainings
TRANSFER = SETTINGS.transfer
COMPARISONS = SETTINGS.comparisons
DATA_SET = SETTINGS.data_set
LOCAL_DATA = config["data"]["local_dir"]
# The data sets the workflow fetches: data.set, and the few-shot target's if it is another.
FETCHED = [DATA_SET.name, *{planned.data_set for planned in TRANSFER.values()} - {None}]
DATA_SOURCES = {name: data_source(config, name)[0]["local_dir"] for name in FETCHED}


# Runs whose model comes from a file (model.file) rather than from training.
IMPORTED = [run for run, settings in RUNS.items() if settings["model"].get("file")]
TRAINED = [run for run in TRAININGS if run not in IMPORTED]


def runs_pattern(runs):
    """A wildcard pattern matching exactly `runs` (none: a pattern no name matches)."""
    return "|".join(map(re.escape, runs)) or "(?!)"


wildcard_constraints:
    run="|".join(map(re.escape, TRAININGS)),
    data_set="|".join(map(re.escape, DATA_SOURCES)),
    comparison="|".join(map(re.escape, COMPARISONS)) or "(?!)",


def data_files(data_set=None):
    """The data stage's outputs, by key (train_images, ...), in the data set's resources/
    (data.set's unless another is named)."""
    folder = f"resources/{data_set}" if data_set else "<resources>"
    return {key: f"{folder}/{name}" for key, name in FILES.items()}


def training_data(wildcards):
    """An input function: the data files a training reads, those of the set it trains on."""
    planned = TRANSFER.get(wildcards.run)
    return data_files(planned.data_set if planned else None)


def class_count(wildcards):
    """A params function: the number of labels of the data set a training trains on."""
    planned = TRANSFER.get(wildcards.run)
    if planned and planned.data_set:
        return len(DATA_SETS[planned.data_set].classes)
    return len(DATA_SET.classes)


def data_content(wildcards):
    """A params function: the md5 of each file the data stage will write, the data set's
    canonical sums when downloading, the local copy's own when copying (a generated set's:
    its counts and seed). As a params entry it
    reruns the data stage (and so everything) when the bytes change, and nothing when only
    their source does: a mirror, a timeout, or a byte-identical copy in another folder."""
    source = data_source(config, wildcards.data_set)[0]
    if source["format"] != "idx":
        # your own images: what they hold, whatever their file or folder is called
        digest = own_images.content_digest(source["format"], source["path"], OWN_IMAGES_CACHE)
        return {"format": source["format"], "sha256": digest}
    local = DATA_SOURCES[wildcards.data_set]
    data_set = DATA_SETS[wildcards.data_set]
    if not local and data_set.generated is not None:
        # the generator's code is in the rule's code digest
        return {"generated": {"counts": list(data_set.counts), **data_set.generated}}
    if not local:
        canonical = data_set.canonical
        return {name: md5 for name, (_size, md5) in canonical.items()}
    return {name: md5_file(path) for name, path in data_set.source_files(local).items()}


def code_of(script):
    """A params entry: the digest of a rule script and of every library module it runs
    (see mnist_filters/code_digest.py), so that an edit to that code reruns the rule."""
    return code_digest(SCRIPTS / script, SCRIPTS, cache=CODE_DIGEST_CACHE)


def file_content(path):
    """A params entry: the sha256 of a file under scripts/ that a rule's code reads (a page
    template), which the code digest does not cover, so that an edit to it reruns the rule."""
    return hashlib.sha256((SCRIPTS / path).read_bytes()).hexdigest()


def run_setting(*keys):
    """A params function: the named (nested) setting of the job's run."""

    def lookup(wildcards):
        value = TRAININGS[wildcards.run]
        for key in keys:
            value = value[key]
        return value

    return lookup


def training_snapshots(wildcards):
    """A params function: the training steps whose weights the job's run keeps."""
    return snapshot_steps(TRAININGS[wildcards.run], SETTINGS.run_schema)


def report_category(wildcards):
    """The report's category for a training's metrics: its run, or `transfer` for every
    network of the transfer experiment (each its own subcategory)."""
    return "transfer" if wildcards.run in TRANSFER else wildcards.run


def report_subcategory(wildcards):
    """The report's subcategory for a training's metrics: a transfer network's name."""
    return wildcards.run.split("/", 1)[1] if wildcards.run in TRANSFER else None


def transfer_source(wildcards):
    """An input function: the model.keras a transfer network copies its first layers from."""
    planned = TRANSFER.get(wildcards.run)
    if planned is None or planned.copy is None:
        return {}
    return {"source": rules.train.output.model.format(run=planned.copy.source)}


def copied_layers(wildcards):
    """A params function: what a transfer network copies from its source ({depth, frozen,
    layers}); None for a network trained from scratch."""
    planned = TRANSFER.get(wildcards.run)
    return planned.copy.params() if planned and planned.copy else None


TREATMENT_KINDS = ("base", *TREATMENTS)
# the layers the transfer experiment's depths count (those of the network of `defaults`)
TRANSFERABLE = SETTINGS.tables[next(iter(TRANSFER))].transferable if TRANSFER else []


def transfer_metrics(kinds):
    """The metrics.json of each transfer network of `kinds`, in the plan's order."""
    return [
        f"<results>/{name}/metrics.json"
        for name, planned in TRANSFER.items()
        if planned.kind in kinds
    ]


def transfer_networks(kinds):
    """What the tables say of each transfer network of `kinds` beyond its metrics, in the
    plan's order (that of transfer_metrics)."""
    networks = {}
    for name, planned in TRANSFER.items():
        if planned.kind not in kinds:
            continue
        if planned.kind in FEW_SHOT_KINDS:
            networks[name] = {
                "kind": planned.kind,
                "examples_per_class": planned.examples_per_class,
                "depth": planned.depth,
                "source": planned.copy.source if planned.copy else "",
                "data_set": planned.data_set or DATA_SET.name,
            }
        else:
            networks[name] = {
                "treatment": planned.kind if planned.copy else f"base{planned.half}",
                "n": planned.depth,
                "frozen": planned.copy.frozen if planned.copy else None,
            }
    return networks


def dumped_settings(wildcards):
    """A params function: the settings that made the job's run's activations (not the ranking's
    or the figures', which come later), recorded in activations.h5."""
    settings = RUNS[wildcards.run]
    return {key: settings[key] for key in ("seed", "model", "training", "activations")}


def transformations(wildcards):
    """A params function: the invariance transformations of the job's run, with their ranges."""
    return invariance_ranges(RUNS[wildcards.run]["invariance"])


def visualisation_settings(wildcards):
    """A params function: the job's run's feature_visualisation block, but `enabled`, which
    decides whether the job exists, not what it writes."""
    block = RUNS[wildcards.run]["feature_visualisation"]
    return {key: value for key, value in block.items() if key != "enabled"}


def first_convolution(wildcards):
    """A params function: the name of the first convolution of the job's run."""
    return SETTINGS.tables[wildcards.run].first_convolution


def compared_first_convolutions(wildcards):
    """A params function: the first convolution's name of each run of the job's comparison."""
    return [SETTINGS.tables[run].first_convolution for run in COMPARISONS[wildcards.comparison]]


def projected_layers(wildcards):
    """A params function: the layers whose ranked units are projected (null: every dumped layer)."""
    settings = RUNS[wildcards.run]
    return settings["projections"]["layers"] or settings["activations"]["layers"]


def of_compared_runs(pattern):
    """An input function: `pattern` (with {run}) for each run of the job's comparison."""

    def compared(wildcards):
        return expand(pattern, run=COMPARISONS[wildcards.comparison])

    return compared


def swept_settings(wildcards):
    """A params function: run -> {setting: value} of the settings that differ in the comparison
    (None where a run has no such setting: a layer another run's network lacks)."""
    runs = COMPARISONS[wildcards.comparison]
    return {
        run: {key: flatten(RUNS[run]).get(key) for key in SETTINGS.swept[wildcards.comparison]}
        for run in runs
    }


def train_runtime(wildcards, attempt):
    """Minutes for `train`: measured 24 s for 2000 steps of 50 on 2 cores; allow for nodes
    ten times slower (1,000 examples/s), at least 10 minutes, and more on each retry."""
    training = TRAININGS[wildcards.run]["training"]
    minutes = training["steps"] * training["batch_size"] / 1000 / 60
    return max(10, math.ceil(minutes)) * attempt


# What each run makes, one row per rule whose outputs are a run's results (`all` asks for each
# of its declared outputs). `enabled_by`: the settings block whose `enabled` turns it on
# (absent: every run makes it), and `gallery`, what the gallery shows of it (absent: nothing):
# the rule's output that holds it, its kind (evolution, features or figures: how
# stages/gallery.py reads it) and, for figures, the section's title and note. A section is
# named by its block.
RUN_STAGES = {
    "train": {"trained": True},
    "import_model": {"imported": True},
    "rank_patches": {},
    "plot_samples": {},
    "plot_filters": {},
    "plot_training_curve": {"trained": True},
    "plot_top_patches": {},
    "plot_projections": {},
    "gallery": {},
    "tally_mistakes": {},
    "plot_confusion": {},
    "plot_mistakes": {},
    "trace_evolution": {
        "enabled_by": "evolution",
        "trained": True,
        "gallery": {"output": "evolution", "kind": "evolution"},
    },
    "plot_evolution": {"enabled_by": "evolution", "trained": True},
    "occlude": {"enabled_by": "occlusion"},
    "plot_occlusion": {
        "enabled_by": "occlusion",
        "gallery": {
            "output": "figures",
            "kind": "figures",
            "title": "Occlusion sensitivity",
            "note": "Zeiler & Fergus, Fig. 7: one figure per occluded test image",
        },
    },
    "measure_invariance": {"enabled_by": "invariance"},
    "plot_invariance": {
        "enabled_by": "invariance",
        "gallery": {
            "output": "figures",
            "kind": "figures",
            "title": "Invariance",
            "note": "Zeiler & Fergus, Fig. 5: one figure per transformation",
        },
    },
    "visualise_features": {
        "enabled_by": "feature_visualisation",
        "gallery": {"output": "features", "kind": "features"},
    },
    "plot_feature_visualisation": {"enabled_by": "feature_visualisation"},
}
# ... and of each comparison.
COMPARISON_RULES = [
    "compare_runs",
    "plot_comparison_curves",
    "plot_comparison_effects",
    "plot_comparison_filters",
]
# ... and of the transfer experiment, with the block of `transfer:` that turns a rule on.
TRANSFER_RULES = {
    "tabulate_transfer": None,
    "plot_transfer": None,
    "tabulate_few_shot": "few_shot",
    "plot_few_shot": "few_shot",
}


def makes(settings, rule):
    """Whether a run with `settings` makes `rule`'s outputs (RUN_STAGES): a rule marked
    `trained` needs a training (no model.file), one marked `imported` a model.file."""
    stage = RUN_STAGES[rule]
    if stage.get("imported" if not settings["model"].get("file") else "trained"):
        return False
    block = stage.get("enabled_by")
    return block is None or settings[block]["enabled"]


def shown_stages(wildcards):
    """The stages of RUN_STAGES the job's run makes that the gallery shows: block -> (rule,
    its gallery entry)."""
    settings = RUNS[wildcards.run]
    return {
        stage["enabled_by"]: (rule, stage["gallery"])
        for rule, stage in RUN_STAGES.items()
        if "gallery" in stage and makes(settings, rule)
    }


def gallery_sections(wildcards):
    """An input function: what the gallery shows beyond the projections, by section."""
    return {
        block: getattr(rules, rule).output[shown["output"]].format(run=wildcards.run)
        for block, (rule, shown) in shown_stages(wildcards).items()
    }


def gallery_section_kinds(wildcards):
    """A params function: each section's kind, title and note (RUN_STAGES), by section."""
    return {
        block: {key: value for key, value in shown.items() if key != "output"}
        for block, (_rule, shown) in shown_stages(wildcards).items()
    }


def all_outputs():
    """Every output of every rule of RUN_STAGES that each run makes, of each comparison, and
    of the transfer experiment."""
    outputs = [
        path.format(run=run)
        for run, settings in RUNS.items()
        for rule in RUN_STAGES
        if makes(settings, rule)
        for path in getattr(rules, rule).output
    ]
    transfer = config["transfer"]
    transfer_rules = [
        name
        for name, block in TRANSFER_RULES.items()
        if transfer["enabled"] and (block is None or transfer[block]["enabled"])
    ]
    return (
        outputs
        + [
            path.format(comparison=comparison)
            for comparison in COMPARISONS
            for rule in COMPARISON_RULES
            for path in getattr(rules, rule).output
        ]
        + [path for rule in transfer_rules for path in getattr(rules, rule).output]
    )


# What the notebook made, per run (a rule's named output): `make notebook`'s target.
NOTEBOOK_OUTPUTS = {
    "train": "metrics",
    "plot_samples": "figure",
    "plot_filters": "figure",
    "plot_top_patches": "figures",
}


def notebook_outputs():
    """The notebook's own outputs, for each run: test accuracy (metrics.json), the training
    samples, conv1's filters, and each filter's top test patches."""
    return [
        getattr(getattr(rules, rule).output, name).format(run=run)
        for run, settings in RUNS.items()
        for rule, name in NOTEBOOK_OUTPUTS.items()
        if makes(settings, rule)
    ] + [rules.import_model.output.metrics.format(run=run) for run in IMPORTED]


def skipped_for_imported_runs():
    """One line per run with a model.file: what it skips, and why."""
    for run in IMPORTED:
        skipped = ["training curve", "TensorBoard events", "retraining by make verify"]
        if RUNS[run]["evolution"]["enabled"]:
            skipped.insert(1, "features through training (evolution.enabled)")
        print(
            f"runs.{run}: its model is read from {RUNS[run]['model']['file']} (model.file) "
            f"and was not trained here, so it has no {', '.join(skipped)}",
            file=sys.stderr,
        )


def closing_message():
    """onsuccess: where each run's gallery is, and the report (mnist_filters/closing_message)."""
    galleries = {
        run: f"{rules.gallery.output.gallery.format(run=run)}/index.html"
        for run, settings in RUNS.items()
        if makes(settings, "gallery")
    }
    folders = [
        os.path.dirname(rules.compare_runs.output.table.format(comparison=name))
        for name in COMPARISONS
    ]
    if TRANSFER:
        folders.append(os.path.dirname(rules.tabulate_transfer.output.table))
    print(where_to_look(galleries, folders), file=sys.stderr)
