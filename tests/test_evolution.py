"""Features through training: the snapshots training keeps, and the rankings at each of them."""

from __future__ import annotations

import csv
import logging
import signal

import numpy as np
import pytest

from conftest import REPO
from mnist_filters.formats.snapshots import read_evolution, read_snapshots
from mnist_filters.schema import load_yaml, snapshot_steps


def test_default_kept_steps_end_with_the_last_step():
    def kept(steps, chosen=None):
        return snapshot_steps(
            {"evolution": {"steps": chosen}, "training": {"steps": steps}}, run_schema
        )

    run_schema = load_yaml(REPO / "schemas" / "run.schema.yaml")

    assert kept(2000) == [0, 100, 200, 500, 1000, 2000]
    assert kept(300) == [0, 100, 200, 300]
    assert kept(50_000) == [0, 100, 200, 500, 1000, 2000, 50_000]
    assert kept(300, [200, 0, 50]) == [0, 50, 200]


def test_snapshots_are_the_initial_and_the_final_weights(tiny_run):
    """Step 0 is the freshly built model's conv1 and conv2; the last kept step (training.steps)
    is model.keras's, bitwise."""
    import keras
    from test_occlusion import NOTEBOOK

    from mnist_filters.network.build import build_model

    run = tiny_run / "results" / "mnist" / "tiny"
    steps, weights = read_snapshots(str(run / "snapshots.h5"))
    assert steps == [0, 100, 200, 300]
    keras.utils.set_random_seed(0)
    fresh = build_model(NOTEBOOK, seed=0, portable=True)
    trained = keras.saving.load_model(run / "model.keras", compile=False)
    for layer in ("conv1", "conv2"):
        for (kernel, bias), model in ((weights[layer][0], fresh), (weights[layer][-1], trained)):
            expected_kernel, expected_bias = model.get_layer(layer).get_weights()
            np.testing.assert_array_equal(kernel, expected_kernel)
            np.testing.assert_array_equal(bias, expected_bias)
        assert not np.array_equal(weights[layer][1][0], weights[layer][0][0])


def test_the_last_steps_ranking_is_the_workflows_own(tiny_run):
    """At training.steps the weights are the trained model's, so each conv1 filter's strongest
    unit is rank 1 of rankings.csv, to the digit."""
    run = tiny_run / "results" / "mnist" / "tiny"
    evolution = [row for row in read_evolution(str(run / "evolution.csv")) if row["step"] == 300]
    with open(run / "rankings.csv", newline="") as handle:
        first = {int(row["filter"]): row for row in csv.DictReader(handle) if row["rank"] == "1"}
    conv1 = [row for row in evolution if row["layer"] == "conv1"]
    assert len(conv1) == 25
    for row in conv1:
        ranked = first[row["filter"]]
        assert (row["image_index"], row["row"], row["col"]) == tuple(
            int(ranked[k]) for k in ("image_index", "row", "col")
        )
        assert row["activation"] == float(ranked["activation"])
    assert {row["layer"] for row in read_evolution(str(run / "evolution.csv"))} == {
        "conv1",
        "conv2",
    }
    assert len(read_evolution(str(run / "evolution.csv"))) == (25 + 64) * 4
    for name in (
        "conv1_through_training.png",
        "conv2_through_training.png",
        "conv1_filters_through_training.png",
    ):
        assert (run / "figures" / "evolution" / name).stat().st_size > 10_000


def stop_at_step_200(tiny_mnist, workdir, kept, caplog):
    """Train 300 steps keeping `kept`, with a SIGTERM at the step-100 log point: it stops at 200."""
    from test_training_stops import SignalAt, train

    from mnist_filters.errors import Interrupted

    handler = SignalAt(100, signal.SIGTERM)
    logger = logging.getLogger("mnist_filters.stages.train")
    with caplog.at_level(logging.INFO, logger="mnist_filters"):
        logger.addHandler(handler)
        try:
            with pytest.raises(Interrupted, match="at step 200 of 300"):
                train(tiny_mnist, workdir, snapshot_steps=kept)
        finally:
            logger.removeHandler(handler)


def test_other_kept_steps_and_a_resume_change_no_weight(tiny_mnist, tmp_path, caplog):
    """An uninterrupted run keeping [0, 7, 50, 123, 200, 300] (chunks ending at 7 and 123 too),
    and one keeping [0, 50, 200, 300] stopped by SIGTERM at step 200 and resumed: the same final
    weights, and the same weights at every step both keep, bitwise."""
    from test_training_stops import train

    reference = train(tiny_mnist, tmp_path / "reference", snapshot_steps=[0, 7, 50, 123, 200, 300])
    kept = [0, 50, 200, 300]
    stopped = tmp_path / "stopped"
    stop_at_step_200(tiny_mnist, stopped, kept, caplog)
    resumed = train(tiny_mnist, stopped, snapshot_steps=kept)
    assert resumed["resumed_from_step"] == 200
    assert resumed["weights_sha256"] == reference["weights_sha256"]
    steps, ours = read_snapshots(str(stopped / "snapshots.h5"))
    reference_steps, theirs = read_snapshots(str(tmp_path / "reference" / "snapshots.h5"))
    assert steps == kept and reference_steps == [0, 7, 50, 123, 200, 300]
    assert ours["conv1"][0][0].shape == (12, 12, 1, 25) and ours["conv2"][0][0].shape == (
        5,
        5,
        25,
        64,
    )
    for layer in ours:
        for i, step in enumerate(steps):
            np.testing.assert_array_equal(
                ours[layer][i][0], theirs[layer][reference_steps.index(step)][0]
            )
            np.testing.assert_array_equal(
                ours[layer][i][1], theirs[layer][reference_steps.index(step)][1]
            )


def test_a_checkpoint_without_the_kept_steps_is_not_resumed(tiny_mnist, tmp_path, caplog):
    """Stopped with kept steps [0, 300], resumed asking for [0, 50, 300]: the checkpoint (at 200)
    lacks step 50's weights, so training starts from step 0, says why, and keeps every step."""
    from test_training_stops import train

    workdir = tmp_path / "run"
    stop_at_step_200(tiny_mnist, workdir, [0, 300], caplog)
    with caplog.at_level(logging.INFO, logger="mnist_filters"):
        metrics = train(tiny_mnist, workdir, snapshot_steps=[0, 50, 300])
    assert "lacks the weights at kept steps [50]" in caplog.text
    assert metrics["resumed_from_step"] == 0
    assert read_snapshots(str(workdir / "snapshots.h5"))[0] == [0, 50, 300]
