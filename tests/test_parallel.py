"""Two runs train at the same time without interfering: each ends as it would alone."""

import datetime
import re

import pytest

from conftest import snakemake, tiny_config
from helpers import model_weights, same_weights

pytestmark = pytest.mark.slow
ONE_THREAD = (
    "--set-threads",
    "train=1",
    "dump_activations=1",
)  # two single-threaded jobs on 2 cores


def interval(log_path):
    stamps = re.findall(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", log_path.read_text(), re.M)
    parse = lambda s: datetime.datetime.strptime(s, "%Y-%m-%d %H:%M:%S,%f")  # noqa: E731
    return parse(stamps[0]), parse(stamps[-1])


def test_two_runs_train_concurrently_and_match_their_solo_runs(tiny_mnist, tmp_path):
    runs = {"first": {"seed": 0}, "second": {"seed": 1, "training": {"learning_rate": 2e-4}}}
    together = tmp_path / "together"
    together.mkdir()
    snakemake(together, tiny_config(tiny_mnist, runs=runs), "--until", "train", *ONE_THREAD)
    (a0, a1), (b0, b1) = (interval(together / "logs" / "mnist" / run / "train.log") for run in runs)
    assert a0 < b1 and b0 < a1, "the two training jobs did not overlap"
    for name, overrides in runs.items():
        alone = tmp_path / name
        alone.mkdir()
        snakemake(
            alone, tiny_config(tiny_mnist, runs={name: overrides}), "--until", "train", *ONE_THREAD
        )
        assert same_weights(
            model_weights(together / "results" / "mnist" / name / "model.keras"),
            model_weights(alone / "results" / "mnist" / name / "model.keras"),
        ), name
