"""The suite runs as users do: not as root, so that permission checks bite as they would for
them."""

import os

import pytest

from conftest import snakemake, tiny_config

pytestmark = pytest.mark.slow


def test_the_suite_runs_unprivileged_in_ci(tmp_path):
    if os.geteuid() == 0:
        if os.environ.get("CI"):
            pytest.fail(".ci/run must run the suite as an ordinary user, not as root")
        pytest.skip("running as root: permission checks that users meet are not exercised")
    # as a user, a folder without write permission refuses a file, as it does not for root
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert not os.access(locked, os.W_OK)
        with pytest.raises(PermissionError):
            (locked / "file").write_text("x")
    finally:
        locked.chmod(0o700)


def test_an_existing_model_is_retrained_by_a_settings_change_and_by_forcerun(tiny_mnist, tmp_path):
    config = tiny_config(
        tiny_mnist,
        training={"validation_size": 200, "steps": 100, "batch_size": 50, "log_every": 50},
    )
    model = tmp_path / "results" / "mnist" / "tiny" / "model.keras"
    snakemake(tmp_path, config, "--until", "train")
    assert os.access(model, os.W_OK), "the model must stay writable by its owner"
    made = model.stat().st_mtime_ns

    snakemake(tmp_path, config, "--until", "train", "--forcerun", "train")
    assert model.stat().st_mtime_ns > made
    made = model.stat().st_mtime_ns

    config["runs"]["tiny"] = {"training": {"learning_rate": 3e-4}}
    result = snakemake(tmp_path, config, "--until", "train")
    assert model.stat().st_mtime_ns > made, result.stderr[-2000:]
    assert "Write-protected" not in result.stdout + result.stderr
