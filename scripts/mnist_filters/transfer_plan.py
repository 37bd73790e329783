"""The transfer experiment's plan: which networks it trains, and from what (the config's
`transfer:` block; Yosinski et al. 2014, "How transferable are features in deep neural
networks?", and Zeiler & Fergus 2014, sec. 5).

Each network is a training of its own, named by its folder under results/<data set>/:

transfer/baseA, transfer/baseB
    trained from scratch on half A and on half B, with the run seed of `defaults`.
transfer/<treatment>-n<n>-s<seed>, treatment AnB, AnB+, BnB or BnB+
    the first n layers with weights (the layer table's transferable) copied from baseA (AnB)
    or baseB (BnB), frozen, or fine-tuned where the name ends in '+'; the layers above start
    from the usual initialisation with `seed`; trained and tested on B.
transfer/few-shot-k<k>-s<seed>-transferred, transfer/few-shot-k<k>-s<seed>-scratch
    k training images of each class of the target (few_shot.target: half B, or the classes
    of another data set, whose networks are named few-shot-<set>-k<k>-...): over the first
    few_shot.depth layers of the source (baseA, or a run), frozen, or the same network
    trained from scratch on the same images.

Every treatment reads its base network's model.keras, so each is a job of its own that
runs in parallel, or on a cluster, like any training, and a base is trained once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_filters.errors import ConfigError

# The code digests leave this module out (mnist_filters/code_digest.py): it decides which
# networks the experiment trains and where a data set's files come from, and what reaches
# the rules of either is their settings and the data's checksums, as params.
CHANGES_NO_OUTPUT = True

FOLDER = "transfer"  # results/<data set>/transfer/
TREATMENTS = {  # name -> (source base, frozen)
    "AnB": ("A", True),
    "AnB+": ("A", False),
    "BnB": ("B", True),
    "BnB+": ("B", False),
}
FEW_SHOT_KINDS = ("transferred", "scratch")


@dataclass(frozen=True)
class Copy:
    """What a network starts from besides its own initialisation: the first `depth` layers of
    the training `source` (a name of the plan), frozen or fine-tuned: `layers`, the first
    `depth` of the layers with weights (the layer table's transferable)."""

    source: str
    depth: int
    frozen: bool
    layers: tuple[str, ...]

    def params(self) -> dict:
        """What the train rule gets (the source's model.keras is its input)."""
        return {"depth": self.depth, "frozen": self.frozen, "layers": list(self.layers)}


@dataclass(frozen=True)
class Training:
    """One network of the experiment: its role, and the overrides of `defaults` it trains
    with."""

    kind: str  # base, AnB, AnB+, BnB, BnB+, transferred, scratch
    half: str  # A or B: the classes it trains and is tested on
    overrides: dict
    copy: Copy | None = None
    depth: int = 0  # layers copied (a treatment's n; a few-shot network's depth)
    seed: int | None = None
    examples_per_class: int | None = None
    data_set: str | None = None  # the data set it trains on, where not the workflow's


def name(kind: str, **keys) -> str:
    """A training's name (its folder under results/<data set>/)."""
    if kind == "base":
        return f"{FOLDER}/base{keys['half']}"
    if kind in TREATMENTS:
        return f"{FOLDER}/{kind}-n{keys['depth']}-s{keys['seed']}"
    target = f"{keys['data_set']}-" if keys.get("data_set") else ""
    return f"{FOLDER}/few-shot-{target}k{keys['k']}-s{keys['seed']}-{kind}"


TARGET_LOCAL_DIR = "transfer.few_shot.target.local_dir"


def data_source(config: dict, data_set: str) -> tuple[dict, str]:
    """(where `data_set`'s files come from, in the shape of `data:`; the setting naming its
    local copy): data.set's is `data:` itself; the few-shot target's is `data:` (mirrors,
    timeouts, image shape) with the target's set and local_dir."""
    if data_set == config["data"]["set"]:
        return config["data"], "data.local_dir"
    target = config["transfer"]["few_shot"]["target"]
    target_source = {
        "set": data_set,
        "local_dir": target["local_dir"],
        "format": "idx",
        "path": None,
    }
    return {**config["data"], **target_source}, TARGET_LOCAL_DIR


def halves(block: dict, labels: int) -> tuple[list[int], list[int]]:
    """Half A's and half B's labels: the block's `a` and `b`, or a seeded split of the
    `labels` labels. ConfigError where they overlap, one is empty, or a label is unknown."""
    if block["split_seed"] is not None:
        order = np.random.default_rng(block["split_seed"]).permutation(labels).tolist()
        half = (labels + 1) // 2
        return sorted(order[:half]), sorted(order[half:])
    a, b = list(block["a"]), list(block["b"])
    for key, half in (("a", a), ("b", b)):
        if len(half) < 2:
            raise ConfigError(
                f"transfer.{key} is {half}: a half needs at least two labels to classify"
            )
        unknown = [label for label in half if label >= labels]
        if unknown:
            raise ConfigError(
                f"transfer.{key}: {unknown} are not labels of the data set, whose labels are "
                f"0..{labels - 1}"
            )
    both = sorted(set(a) & set(b))
    if both:
        raise ConfigError(
            f"transfer.a and transfer.b share the labels {both}: the halves must be disjoint"
        )
    return a, b


def few_shot_target(block: dict, data_set: str, b: list[int], labels: int):
    """(the few-shot networks' data set, None where it is the workflow's `data_set`; their
    classes). ConfigError for a label the data set does not have."""
    target = block["few_shot"]["target"]
    other = target["set"] if target["set"] not in (None, data_set) else None
    classes = target["classes"] or (list(range(labels)) if other else b)
    unknown = [label for label in classes if label >= labels]
    if unknown:
        raise ConfigError(
            f"transfer.few_shot.target.classes: {unknown} are not labels of "
            f"{other or data_set}, whose labels are 0..{labels - 1}"
        )
    return other, list(classes)


def plan(
    block: dict,
    base_seed: int,
    labels: int,
    transferable: tuple[str, ...],
    data_set: str = "mnist",
    runs=(),
) -> dict[str, Training]:
    """Every network of the experiment `block` (the config's `transfer:`), by name; `base_seed`:
    the run seed of `defaults`; `labels`: how many each data set has; `transferable`: the
    layers with weights below the output of the network of `defaults`, which depth n copies
    the first n of; `data_set`: the workflow's; `runs`: the names of `runs:`, which
    few_shot.source may name."""
    a, b = halves(block, labels)
    classes = {"A": a, "B": b}
    for depth in block["depths"]:
        if depth > len(transferable):
            raise ConfigError(
                f"transfer.depths: {depth} is past the network's {len(transferable)} layers "
                f"below the logits ({', '.join(transferable)}); the depths go from 0 to "
                f"{len(transferable)}"
            )
    few_shot = block["few_shot"]
    if few_shot["enabled"] and few_shot["depth"] > len(transferable):
        raise ConfigError(
            f"transfer.few_shot.depth is {few_shot['depth']}, past the network's "
            f"{len(transferable)} layers below the logits ({', '.join(transferable)})"
        )
    features = few_shot["source"] or name("base", half="A")
    if few_shot["enabled"] and few_shot["source"] is not None and features not in runs:
        known = ", ".join(runs) or "none"
        raise ConfigError(
            f"transfer.few_shot.source: {features!r} is not a run of `runs:` (they are: {known}); "
            "null keeps baseA's features"
        )
    target_set, target_classes = few_shot_target(block, data_set, b, labels)

    def training(half, seed, **extra):
        return {"seed": seed, "training": {**block[f"training_{half.lower()}"], **extra}}

    trainings = {
        name("base", half=half): Training(
            "base", half, training(half, base_seed, classes=classes[half])
        )
        for half in ("A", "B")
    }
    for depth in block["depths"]:
        for seed in block["seeds"]:
            for kind, (source, frozen) in TREATMENTS.items():
                trainings[name(kind, depth=depth, seed=seed)] = Training(
                    kind,
                    "B",
                    training("B", seed, classes=b),
                    Copy(name("base", half=source), depth, frozen, transferable[:depth]),
                    depth,
                    seed,
                )
    if few_shot["enabled"]:
        for k in few_shot["examples_per_class"]:
            for seed in block["seeds"]:
                for kind in FEW_SHOT_KINDS:
                    copy = (
                        Copy(features, few_shot["depth"], True, transferable[: few_shot["depth"]])
                        if kind == "transferred"
                        else None
                    )
                    trainings[name(kind, k=k, seed=seed, data_set=target_set)] = Training(
                        kind,
                        "B",
                        training("B", seed, classes=target_classes, examples_per_class=k),
                        copy,
                        few_shot["depth"] if copy else 0,
                        seed,
                        k,
                        target_set,
                    )
    return trainings


def fit_batch(settings: dict) -> dict:
    """A few-shot network's settings with its batch no larger than its training set (k images
    of each class); others' as they are."""
    training = settings["training"]
    per_class = training["examples_per_class"]
    if per_class is not None:
        training["batch_size"] = min(training["batch_size"], per_class * len(training["classes"]))
    return settings
