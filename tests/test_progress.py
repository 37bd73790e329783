"""What a user sees while the workflow runs: progress lines on the terminal, and logs without
TensorFlow's start-up banners but with every real warning and error."""

import io
import re
import subprocess
import sys

import pytest

from conftest import REPO, TERMINAL, TINY_DEFAULTS
from mnist_filters.progress import Progress, duration
from mnist_filters.runlog import copy_without_noise

STEPS = TINY_DEFAULTS["training"]["steps"]
LOG_EVERY = TINY_DEFAULTS["training"]["log_every"]
# run, step, steps, batch accuracy, validation accuracy, examples/s, time left: in this order
TRAINING_LINE = re.compile(
    r"(?P<run>\S+) train: step (?P<step>\d+)/(?P<steps>\d+), batch accuracy (?P<batch>[01]\.\d{3}), "
    r"validation accuracy (?P<validation>[01]\.\d{4}), (?P<speed>\d+|--) examples/s, "
    r"(?P<left>time left unknown|(\d+ h )?(\d+ min )?\d+ s left|\d+ h \d+ min left)"
)
# What TensorFlow prints on every start of a CPU-only process (from a real train.log).
BANNERS = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
I0000 00:00:1795878692.019513   18261 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.
I0000 00:00:1795878692.197796   18261 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions in performance-critical operations.
To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate compiler flags.
E0000 00:00:1795878695.776909   18261 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)
I0000 00:00:1795878696.160301   18261 service.cc:153] XLA service 0x2ea4e210 initialized for platform Host (this does not guarantee that XLA will be used). Devices:
I0000 00:00:1795878696.160326   18261 service.cc:161]   StreamExecutor [0]: Host, Default Version (Driver: 0.0.0; Runtime: 0.0.0; Toolkit: 0.0.0; DNN: 0.0.0)
I0000 00:00:1795878696.172094   18261 dump_mlir_util.cc:269] disabling MLIR crash reproducer, set env var `MLIR_CRASH_REPRODUCER_DIRECTORY` to enable.
I0000 00:00:1795878696.313071   18261 device_compiler.h:208] Compiled cluster using XLA!  This line is logged at most once for the lifetime of the process.
I0000 00:00:1732012345.123456   18261 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.
"""  # noqa: E501
REAL = """\
W0000 00:00:1795878696.313071   18261 op_level_cost_estimator.cc:699] Error in PredictCost() for the op: Conv2D
E0000 00:00:1795878696.313071   18261 meta_optimizer.cc:966] layout failed: INVALID_ARGUMENT: Size of values 0
WARNING:tensorflow:5 out of the last 5 calls to <function f> triggered tf.function retracing.
2026-11-28 15:11:36,118 INFO mnist_filters.stages.train: step 0, training accuracy 0.1
To enable the following instructions: this is not TensorFlow's sentence.
"""


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def progress_lines(**options):
    clock, stream = Clock(), io.StringIO()
    return clock, stream, Progress("run1 stage", 100, stream, clock=clock, **options)


def test_duration_reads_like_a_person_would_say_it():
    assert [duration(s) for s in (0, 7.4, 59.6, 185, 3725)] == ["0 s", "7 s", "1 min 00 s", "3 min 05 s",
                                                                "1 h 02 min"]


def test_each_update_is_one_whole_line_with_the_time_left_at_the_pace_so_far():
    clock, stream, progress = progress_lines()
    progress.update(0, "0/100 images")
    clock.now += 10
    progress.update(25, "25/100 images")
    clock.now += 30
    progress.update(100, "100/100 images")
    assert stream.getvalue().splitlines() == [
        "run1 stage: 0/100 images, time left unknown",
        "run1 stage: 25/100 images, 30 s left",  # 25 in 10 s: 75 more take 30 s
        "run1 stage: 100/100 images, 0 s left",
    ]


def test_a_short_task_is_silent_and_a_long_one_speaks_every_few_seconds():
    clock, stream, progress = progress_lines(after_seconds=3, every_seconds=2)
    for done in range(0, 101, 10):  # 1 s apart: 10 s in all
        progress.update(done, f"{done}")
        clock.now += 1
    numbers = [line.split(": ")[1].split(",")[0] for line in stream.getvalue().splitlines()]
    assert numbers == ["30", "50", "70", "90", "100"]  # none before 3 s, then every 2 s, and the end
    clock, stream, progress = progress_lines(after_seconds=3, every_seconds=2)
    progress.update(50, "50")
    clock.now += 2
    progress.update(100, "100")
    assert stream.getvalue() == ""


def test_a_resumed_task_paces_itself_from_where_it_resumed():
    clock, stream, progress = progress_lines(start=60)
    clock.now += 8
    progress.update(80, "80")
    assert stream.getvalue() == "run1 stage: 80, 8 s left\n"


def test_the_banners_are_left_out_and_every_real_warning_and_error_kept():
    out = io.BytesIO()
    copy_without_noise(io.BytesIO((BANNERS + REAL).encode()), out)
    assert out.getvalue().decode() == REAL


def test_a_job_that_asked_for_gpus_keeps_the_gpu_error():
    out = io.BytesIO()
    copy_without_noise(io.BytesIO(BANNERS.encode()), out, gpus_wanted=True)
    assert out.getvalue().decode().splitlines() == [line for line in BANNERS.splitlines() if "cuInit" in line]


STAGE = """
import os, signal, sys, time
sys.path.insert(0, {scripts!r})
from mnist_filters.runlog import run_stage, terminal

def main():
    import tensorflow as tf
    print(tf.function(lambda x: x * 2, jit_compile=True)(tf.constant([1.0])).numpy())
    print("a progress line", file=terminal(), flush=True)
    os.write(2, b"W0000 00:00:1.0   1 real.cc:1] a real native warning\\n")
    if sys.argv[2] == "abort":
        os.write(2, b"F0000 00:00:1.0   1 real.cc:2] the last words before a native abort\\n")
        os.abort()
    if sys.argv[2] == "signals":  # as SLURM signals every process of a job: the filter must live on
        me = os.getpid()
        for child in open(f"/proc/{{me}}/task/{{me}}/children").read().split():
            for name in ("SIGUSR1", "SIGTERM", "SIGINT", "SIGHUP"):
                os.kill(int(child), getattr(signal, name))
        time.sleep(0.5)
        print("still logged after the signals")

run_stage("probe", sys.argv[1], main)
"""


@pytest.mark.parametrize("ending", ["normal", "abort", "signals"])
def test_a_stage_log_has_no_banners_and_keeps_the_last_words_of_a_crash(tmp_path, ending):
    script = tmp_path / "stage.py"
    script.write_text(STAGE.format(scripts=str(REPO / "scripts")))
    log = tmp_path / "stage.log"
    result = subprocess.run([sys.executable, str(script), str(log), ending], capture_output=True, text=True,
                            timeout=300)
    assert (result.returncode == 0) == (ending != "abort"), result.stderr
    text = log.read_text()
    assert "a real native warning" in text and "[2.]" in text
    assert not any(word in text for word in ("absl::InitializeLog", "cudart_stub", "cpu_feature_guard",
                                             "XLA service", "Compiled cluster", "cuInit"))
    assert result.stderr.splitlines()[:1] == ["a progress line"]  # the terminal: progress only, no banners
    if ending == "abort":
        assert text.rstrip().endswith("the last words before a native abort")
    else:
        assert "stage probe done" in text
    if ending == "signals":
        assert "still logged after the signals" in text


def training_lines(terminal: str) -> dict[str, list[re.Match]]:
    """Run -> its training progress lines, in order; every line mentioning `train:` must parse whole."""
    by_run: dict[str, list[re.Match]] = {}
    for line in terminal.splitlines():
        if " train: " in line:
            match = TRAINING_LINE.fullmatch(line)
            assert match, f"not a whole progress line: {line!r}"
            by_run.setdefault(match["run"], []).append(match)
    return by_run


def test_training_shows_a_line_per_log_point_on_the_terminal(tiny_run):
    lines = training_lines((tiny_run / TERMINAL).read_text())["tiny"]
    assert [int(m["step"]) for m in lines] == list(range(0, STEPS + 1, LOG_EVERY))
    assert {int(m["steps"]) for m in lines} == {STEPS}
    assert lines[0]["speed"] == "--" and all(int(m["speed"]) > 0 for m in lines[1:])
    assert lines[-1]["left"] == "0 s left"
    log = (tiny_run / "logs" / "mnist" / "tiny" / "train.log").read_text()
    for m in lines:  # the log keeps the notebook's lines, with the same accuracies
        assert f"step {m['step']}, training accuracy {float(m['batch']):g}" in log
    assert " train: step" not in log
    with open(tiny_run / "results" / "mnist" / "tiny" / "training_log.csv") as handle:
        rows = [row.split(",") for row in handle.read().splitlines()[1:]]
    assert [f"{float(row[3]):.4f}" for row in rows] == [m["validation"] for m in lines]


def test_no_banner_reaches_the_terminal_or_any_log(tiny_run):
    texts = [(tiny_run / TERMINAL).read_text()]
    texts += [path.read_text() for path in (tiny_run / "logs").rglob("*.log")]
    assert len(texts) > 10
    for text in texts:
        for word in ("absl::InitializeLog", "cudart_stub", "cpu_feature_guard", "XLA service", "cuInit"):
            assert word not in text


def test_runs_training_side_by_side_print_whole_lines_each_named(tiny_sweep):
    by_run = training_lines((tiny_sweep / TERMINAL).read_text())
    assert len(by_run) == 4
    for run, lines in by_run.items():
        assert [int(m["step"]) for m in lines] == list(range(0, STEPS + 1, LOG_EVERY)), run
        assert lines[-1]["left"] == "0 s left"


def test_a_long_dump_prints_images_done_and_total(tiny_mnist, tiny_run, tmp_path, monkeypatch):
    from mnist_filters import progress
    from mnist_filters.dataset import FILES
    from mnist_filters.stages import activations

    assert progress.PROGRESS_AFTER_SECONDS == 3.0  # then, for this test, lines from the start
    stream = io.StringIO()
    monkeypatch.setattr(activations, "terminal", lambda: stream)
    monkeypatch.setattr(progress, "PROGRESS_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(progress, "PROGRESS_EVERY_SECONDS", 0.0)
    activations.dump_activations(
        str(tiny_run / "results" / "mnist" / "tiny" / "model.keras"), str(tiny_mnist / FILES["test_images"]),
        str(tiny_mnist / FILES["test_labels"]), str(tmp_path / "a.h5"), layers=["conv1"], batch_size=200,
        compression="none", chunk_bytes=1 << 20, run="tiny")
    lines = stream.getvalue().splitlines()
    assert [line.split(", ")[0] for line in lines] == [f"tiny dump_activations: {n}/500 images" for n in (200, 400, 500)]
    assert lines[-1].endswith(", 0 s left")


def test_a_long_projection_prints_patches_done_and_total(tiny_mnist, tiny_run, tmp_path, monkeypatch):
    from mnist_filters import progress
    from mnist_filters.dataset import FILES
    from mnist_filters.stages import projections

    stream = io.StringIO()
    monkeypatch.setattr(projections, "terminal", lambda: stream)
    monkeypatch.setattr(progress, "PROGRESS_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(progress, "PROGRESS_EVERY_SECONDS", 0.0)
    results = tiny_run / "results" / "mnist" / "tiny"
    projections.project_rankings(str(results / "model.keras"), str(tiny_mnist / FILES["test_images"]),
                                 str(results / "rankings.csv"), str(tmp_path / "p.h5"), layers=["conv1"],
                                 methods=["guided", "gradient"], batch_size=128, run="tiny")
    units = len((results / "rankings.csv").read_text().splitlines()) - 1
    counts = [int(line.split(": ")[1].split("/")[0]) for line in stream.getvalue().splitlines()]
    assert counts[-1] == 2 * units and counts == sorted(counts)
    assert all(f"/{2 * units} projected patches" in line for line in stream.getvalue().splitlines())
    assert stream.getvalue().splitlines()[-1].endswith(", 0 s left")
