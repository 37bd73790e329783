"""A stage's log: TensorFlow's start-up banners left out, every real warning and error kept,
a crash's last words too; the terminal keeps the progress lines."""

import io
import subprocess
import sys

import pytest

from conftest import REPO, TERMINAL
from mnist_filters.log_filter import copy_without_noise

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
"""  # noqa: E501


def test_the_banners_are_left_out_and_every_real_warning_and_error_kept():
    out = io.BytesIO()
    copy_without_noise(io.BytesIO((BANNERS + REAL).encode()), out)
    assert out.getvalue().decode() == REAL


def test_a_job_that_asked_for_gpus_keeps_the_gpu_error():
    out = io.BytesIO()
    copy_without_noise(io.BytesIO(BANNERS.encode()), out, gpus_wanted=True)
    assert out.getvalue().decode().splitlines() == [
        line for line in BANNERS.splitlines() if "cuInit" in line
    ]


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
    result = subprocess.run(
        [sys.executable, str(script), str(log), ending], capture_output=True, text=True, timeout=300
    )
    assert (result.returncode == 0) == (ending != "abort"), result.stderr
    text = log.read_text()
    assert "a real native warning" in text and "[2.]" in text
    assert not any(
        word in text
        for word in (
            "absl::InitializeLog",
            "cudart_stub",
            "cpu_feature_guard",
            "XLA service",
            "Compiled cluster",
            "cuInit",
        )
    )
    assert result.stderr.splitlines()[:1] == [
        "a progress line"
    ]  # the terminal: progress only, no banners
    if ending == "abort":
        assert text.rstrip().endswith("the last words before a native abort")
    else:
        assert "stage probe done" in text
    if ending == "signals":
        assert "still logged after the signals" in text


def test_no_banner_reaches_the_terminal_or_any_log(tiny_run):
    texts = [(tiny_run / TERMINAL).read_text()]
    texts += [path.read_text() for path in (tiny_run / "logs").rglob("*.log")]
    assert len(texts) > 10
    for text in texts:
        for word in (
            "absl::InitializeLog",
            "cudart_stub",
            "cpu_feature_guard",
            "XLA service",
            "cuInit",
        ):
            assert word not in text
