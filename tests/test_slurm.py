"""The workflow on a real SLURM cluster (.ci/local-slurm/start.sh starts a one-node one)."""

import datetime
import json
import re
import shutil
import subprocess

import pytest

from conftest import ONE_THREAD_TRAINING, REPO, SLURM_PYTHON, snakemake, sweep_config, tiny_config
from helpers import model_weights, same_weights

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("sinfo") is None,
        reason="no SLURM here (sinfo not found); "
        "start a local cluster with .ci/local-slurm/start.sh",
    ),
]
LOCAL_RULES = {
    "get_mnist",
    "plot_samples",
    "plot_filters",
    "plot_top_patches",
    "plot_training_curve",
}
CLUSTER_RULES = {"train", "dump_activations", "rank_patches"}


def cluster_is_up():
    result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30)
    return result.returncode == 0 and any(
        s.startswith(("idle", "mixed", "alloc")) for s in result.stdout.split()
    )


@pytest.fixture(scope="module")
def cluster():
    if not cluster_is_up():
        pytest.fail(
            "sinfo is installed but no SLURM node is usable; start one with "
            ".ci/local-slurm/start.sh"
        )
    found = subprocess.run(
        [str(SLURM_PYTHON), "-c", "import snakemake_executor_plugin_slurm"],
        capture_output=True,
        text=True,
    )
    if found.returncode:
        pytest.fail(
            f"{SLURM_PYTHON} cannot import the SLURM executor plugin (make test builds "
            f".venv-slurm; "
            f"MNIST_FILTERS_SLURM_PYTHON chooses another):\n{found.stderr[-1000:]}"
        )


def on_slurm(workdir, config, *args, check=True):
    # the test's own timeout: a wrong status command makes the plugin wait forever
    return snakemake(
        workdir,
        config,
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--slurm-init-seconds-before-status-checks",
        "5",
        "--latency-wait",
        "5",
        "--retries",
        "0",
        *args,
        timeout=900,
        check=check,
        python=SLURM_PYTHON,
    )


def test_workflow_runs_its_jobs_as_slurm_jobs(cluster, tiny_mnist, tiny_run, tmp_path):
    result = on_slurm(tmp_path, tiny_config(tiny_mnist))
    run = tmp_path / "results" / "mnist" / "tiny"
    for rule in CLUSTER_RULES:
        where = json.loads((run / "provenance" / f"{rule}.json").read_text())
        assert str(where["slurm_job_id"]).isdigit(), (rule, where, result.stdout[-2000:])
    for rule in LOCAL_RULES - {"get_mnist"}:
        assert (
            json.loads((run / "provenance" / f"{rule}.json").read_text())["slurm_job_id"] is None
        ), rule
    assert (
        json.loads((tmp_path / "resources" / "mnist" / "provenance.json").read_text())[
            "slurm_job_id"
        ]
        is None
    )
    assert "SLURM job" in (tmp_path / "logs" / "mnist" / "tiny" / "train.log").read_text()
    # the same weights as the local run of the same config
    assert same_weights(
        model_weights(run / "model.keras"),
        model_weights(tiny_run / "results" / "mnist" / "tiny" / "model.keras"),
    )


def test_a_sweep_trains_as_concurrent_slurm_jobs_that_match_the_local_runs(
    cluster, tiny_mnist, tiny_sweep, tmp_path
):
    """The 2x2 sweep, one thread per training job: two jobs fit the two-CPU node at once."""
    result = on_slurm(tmp_path, sweep_config(tiny_mnist), "--until", "train", *ONE_THREAD_TRAINING)
    runs = sorted(
        path.name
        for path in (tiny_sweep / "results" / "mnist").iterdir()
        if path.name.startswith("lr_")
    )
    assert len(runs) == 4
    jobs = {}
    for run in runs:
        where = json.loads(
            (tmp_path / "results" / "mnist" / run / "provenance" / "train.json").read_text()
        )
        assert str(where["slurm_job_id"]).isdigit(), (run, where, result.stdout[-2000:])
        assert (
            json.loads((tmp_path / "results" / "mnist" / run / "metrics.json").read_text())[
                "threads"
            ]
            == 1
        )
        jobs[run] = (
            where["slurm_job_id"],
            *(datetime.datetime.fromisoformat(where[key]) for key in ("started_at", "finished_at")),
        )
        assert same_weights(
            model_weights(tmp_path / "results" / "mnist" / run / "model.keras"),
            model_weights(tiny_sweep / "results" / "mnist" / run / "model.keras"),
        ), run
    assert len({job for job, _start, _end in jobs.values()}) == 4, jobs
    overlapping = [
        (a, b)
        for a in runs
        for b in runs
        if a < b and jobs[a][1] < jobs[b][2] and jobs[b][1] < jobs[a][2]
    ]
    assert overlapping, f"no two training jobs ran at the same time: {jobs}"


def test_a_failing_job_fails_the_workflow_visibly(cluster, tiny_mnist, tmp_path):
    config = tiny_config(tiny_mnist)
    config["checkpoints"] = {"dir": "/proc/no-checkpoints-here"}  # only the training job finds out
    result = on_slurm(tmp_path, config, "--until", "train", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "failed, SLURM status is: 'FAILED'" in output or "Error in rule train" in output, output[
        -3000:
    ]
    assert "cannot create /proc/no-checkpoints-here" in output, output[-3000:]


def test_a_gpu_request_reaches_sbatch(cluster, tiny_mnist, tmp_path):
    """training.gpus becomes --gpus for sbatch (this GPU-less cluster then refuses the job)."""
    config = tiny_config(tiny_mnist)
    config["defaults"]["training"] = {**config["defaults"]["training"], "gpus": 1}
    result = on_slurm(tmp_path, config, "--until", "train", "--verbose", check=False)
    output = result.stdout + result.stderr
    assert "--gpus=1" in output, output[-3000:]
    assert result.returncode != 0


def test_time_limit_warning_checkpoints_and_the_retry_resumes(cluster, tiny_mnist, tmp_path):
    """SLURM's USR1 before the time limit reaches training, which saves a checkpoint and stops;
    the next attempt resumes from it."""
    config = tiny_config(tiny_mnist)
    # more steps than any machine here trains in the job's two minutes
    config["defaults"]["training"] = {
        **config["defaults"]["training"],
        "steps": 200_000,
        "log_every": 50,
    }
    config["checkpoints"] = {"every": 100_000}
    # a two-minute limit, warned 60 s ahead: USR1 arrives about 60 s into the job, well after
    # training started even where the job's own Snakemake takes long to start
    warned = ("--set-resources", "train:runtime=2", "train:slurm_extra='--signal=USR1@60'")
    result = on_slurm(tmp_path, config, "--until", "train", *warned, check=False)
    log = (tmp_path / "logs" / "mnist" / "tiny" / "train.log").read_text()
    assert result.returncode != 0, log[-2000:]
    stopped = re.search(r"stopped by SIGUSR1 at step (\d+) of 200000", log)
    assert stopped, log[-3000:] + result.stdout[-2000:]
    # A checkpoint serves any run of at least its steps: finish 100 steps after it.
    config["defaults"]["training"]["steps"] = int(stopped.group(1)) + 100
    on_slurm(tmp_path, config, "--until", "train")
    log = (tmp_path / "logs" / "mnist" / "tiny" / "train.log").read_text()
    assert f"resuming from step {stopped.group(1)}" in log
    assert json.loads((tmp_path / "results" / "mnist" / "tiny" / "metrics.json").read_text())[
        "resumed_from_step"
    ] == int(stopped.group(1))


def test_the_treatments_of_one_depth_run_as_separate_slurm_jobs(cluster, tiny_mnist, tmp_path):
    from test_transfer import TREATMENT_NAMES, transfer_config

    config = transfer_config(tiny_mnist, depths=[1], few_shot={"enabled": False})
    result = on_slurm(tmp_path, config, *ONE_THREAD_TRAINING)
    folder = tmp_path / "results" / "mnist" / "transfer"
    jobs = {}
    for network in ["baseA", "baseB", *(f"{t}-n1-s0" for t in TREATMENT_NAMES)]:
        where = json.loads((folder / network / "provenance" / "train.json").read_text())
        assert str(where["slurm_job_id"]).isdigit(), (network, where, result.stdout[-2000:])
        jobs[network] = where["slurm_job_id"]
    assert len(set(jobs.values())) == len(jobs), jobs
    assert (folder / "transfer.csv").is_file() and (folder / "transfer.png").is_file()
