"""Shared fixtures: the repository, generated data sets, and a Snakemake runner."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from mnist_filters.tensorflow_setup import ONEDNN_OPERATIONS

# TensorFlow in this process (tests that train or load a model here) runs the kernels the
# stages run, whichever test imports it first.
os.environ.update(ONEDNN_OPERATIONS)

REPO = Path(__file__).resolve().parents[1]
# The real MNIST subset that CI and developers have beside the repository (users do not).
SHARED_MNIST = Path(
    os.environ.get("MNIST_SUBSET_DIR", REPO.parent / "shared" / "data" / "mnist-subset")
)
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
# The cluster environment (`make test` builds it): .venv plus the SLURM executor plugin,
# which the local environment leaves out so that local runs never import it.
SLURM_PYTHON = Path(
    os.environ.get("MNIST_FILTERS_SLURM_PYTHON", REPO / ".venv-slurm" / "bin" / "python")
)


def default_settings() -> dict:
    """A run's settings with nothing overridden: every default of the run schema (the
    notebook's)."""
    from mnist_filters.schema import load_yaml
    from mnist_filters.settings import resolve_runs

    return resolve_runs({"runs": {"seed": {}}}, load_yaml(REPO / "schemas" / "run.schema.yaml"))[
        "seed"
    ]


# The notebook's first convolution as the resolved settings hold it.
NOTEBOOK_CONV1 = {
    "name": "conv1",
    "kind": "conv",
    "filters": 25,
    "kernel_size": 12,
    "strides": 2,
    "padding": "valid",
    "dilation": 1,
    "activation": "relu",
}


def resolved_model(model: dict) -> dict:
    """A `model:` block (layers, and changes by layer name) as settings.load resolves it:
    every layer with its kind's defaults."""
    from mnist_filters.network.declaration import resolve_model
    from mnist_filters.schema import load_yaml

    schema = load_yaml(REPO / "schemas" / "run.schema.yaml")
    return resolve_model({"init_stddev": 0.05, "bias_init": 0.1, **model}, schema, "test")


# Small settings for workflow tests on generated digits: the notebook's model, fewer steps.
TINY_DEFAULTS = {
    "seed": 0,
    "training": {"validation_size": 200, "steps": 300, "batch_size": 50, "log_every": 100},
    # on by default, but the runs that test it turn it on (ANALYSES_ON): the others stay short
    "feature_visualisation": {"enabled": False},
}


# Every optional analysis on (the shared workflow run makes them once for every test).
ANALYSES_ON = {
    "evolution": {"enabled": True},
    "occlusion": {"enabled": True},
    "invariance": {"enabled": True, "images": 50},
    "feature_visualisation": {"enabled": True, "steps": 64},
}


# A 2x2 sweep on the generated digits, trained one thread per job (two at once on 2 cores).
TINY_SWEEP = {"lr": {"grid": {"training.learning_rate": [1e-4, 3e-4], "seed": [0, 1]}}}
ONE_THREAD_TRAINING = ("--set-threads", "train=1")
# What the workflow fixtures printed on the terminal (Snakemake's stderr), kept beside their
# results.
TERMINAL = "terminal.txt"


def chromium() -> str:
    """Debian's headless Chromium, for the tests that open a page: a failure under CI (which
    installs it), a skip elsewhere."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("no chromium here (Debian: apt install chromium)")
    return found


def open_page(path: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    """`path` opened in headless Chromium (`extra`: its options, e.g. --dump-dom), with a
    profile of its own in `tmp_path` and 20 s of virtual time for the page's scripts."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=20000",
        *extra,
        path.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


@pytest.fixture
def small_disk() -> Path:
    """A fresh folder on a real, small file system (.ci/run mounts a tmpfs of a few MB and
    names it in MNIST_FILTERS_SMALL_DISK), removed afterwards: a failure under CI without one,
    a skip elsewhere."""
    root = os.environ.get("MNIST_FILTERS_SMALL_DISK")
    if not root or not Path(root).is_dir():
        if os.environ.get("CI"):
            pytest.fail("MNIST_FILTERS_SMALL_DISK names no folder (.ci/run mounts a small tmpfs)")
        pytest.skip(
            "no small file system to fill "
            "(mount a tmpfs of a few MB, name it in MNIST_FILTERS_SMALL_DISK)"
        )
    folder = Path(tempfile.mkdtemp(dir=root))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def leave_free(folder: Path, free: int) -> None:
    """Fill the file system that holds `folder` until about `free` bytes are left."""
    from mnist_filters.atomic import free_bytes

    ballast = folder / "ballast"
    size = free_bytes(folder) - free
    assert size > 0, f"the small disk has less than {free} bytes free to begin with"
    with open(ballast, "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, size)


def needs_shared_mnist():
    return pytest.mark.skipif(
        not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file(),
        reason=f"real MNIST subset not found at {SHARED_MNIST} (set MNIST_SUBSET_DIR to run these)",
    )


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory) -> Path:
    """A learnable generated data set in MNIST's four files: 2,000 training, 500 test images."""
    from mnist_filters.synthetic import write_mnist_folder

    return write_mnist_folder(tmp_path_factory.mktemp("tiny-mnist"), 2000, 500, seed=7)


@pytest.fixture(scope="session")
def tiny_run(tiny_mnist, tmp_path_factory) -> Path:
    """The whole workflow, run once locally on the generated digits (run name `tiny`), every
    optional analysis included."""
    workdir = tmp_path_factory.mktemp("tiny-run")
    result = snakemake(workdir, tiny_config(tiny_mnist, runs={"tiny": copy.deepcopy(ANALYSES_ON)}))
    (workdir / TERMINAL).write_text(result.stderr)
    return workdir


def sweep_config(data_dir: Path, sweeps: dict = TINY_SWEEP) -> dict:
    """tiny_config with only `sweeps`, no `runs:`."""
    config = tiny_config(data_dir)
    config["runs"] = {}
    config["sweeps"] = copy.deepcopy(sweeps)
    return config


@pytest.fixture(scope="session")
def tiny_sweep(tiny_mnist, tmp_path_factory) -> Path:
    """The whole workflow for TINY_SWEEP, run once locally."""
    workdir = tmp_path_factory.mktemp("tiny-sweep")
    result = snakemake(workdir, sweep_config(tiny_mnist), *ONE_THREAD_TRAINING)
    (workdir / TERMINAL).write_text(result.stderr)
    return workdir


def planned(
    workdir: Path, config: dict, workflow: Path = REPO, *targets: str
) -> set[tuple[str, str | None]]:
    """{(rule, run)} of the jobs Snakemake would run for `targets` (default: all), from its
    --summary table; a comparison's jobs have the run `sweeps/<comparison>`, the data stage's
    None (paths: results/<data set>/...)."""
    result = snakemake(workdir, config, *targets, "--summary", snakefile=workflow / "Snakefile")
    jobs = set()
    for line in result.stdout.splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) == 6 and fields[5] == "update pending":
            parts = fields[0].split("/")
            run = (
                None
                if parts[0] != "results"
                else "/".join(parts[2:4])
                if parts[2] in ("sweeps", "transfer")
                else parts[2]
            )
            jobs.add((fields[2], run))
    return jobs


def copy_of_the_workflow(target: Path) -> Path:
    """The workflow's own files copied to `target` (no data, results, venvs or tests), as a
    user's clone that a test may edit."""
    shutil.copytree(
        REPO,
        target,
        ignore=shutil.ignore_patterns(
            ".git",
            ".venv*",
            ".snakemake",
            "results",
            "resources",
            "logs",
            "benchmarks",
            "checkpoints",
            "bench",
            "tests",
            "__pycache__",
            "report.html",
        ),
    )
    return target


def write_config(workdir: Path, config: dict) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def tiny_config(data_dir: Path, runs: dict | None = None, **defaults) -> dict:
    merged = copy.deepcopy({**TINY_DEFAULTS, **defaults})
    return {"data": {"local_dir": str(data_dir)}, "defaults": merged, "runs": runs or {"tiny": {}}}


def snakemake(
    workdir: Path,
    config: dict | None,
    *args: str,
    timeout: int = 600,
    check: bool = True,
    snakefile: Path = REPO / "Snakefile",
    python: Path | None = None,
):
    """Run the repository's workflow in `workdir` with `config` as its only config
    (with `python`'s Snakemake: the test's own environment's unless given)."""
    snakemake_command = [str(python), "-m", "snakemake"] if python else SNAKEMAKE
    command = [
        *snakemake_command,
        "--snakefile",
        str(snakefile),
        "--directory",
        str(workdir),
        "--cores",
        "2",
        "--show-failed-logs",
    ]
    if config is not None:
        command += ["--configfile", str(write_config(workdir, config)), "--replace-workflow-config"]
    result = subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result
