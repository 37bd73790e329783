"""What CPU this is, and which kernels train fastest on it: chosen from its features, never timed.

Two ways to run a training step, with equal maths and different kernels:
- `xla`: the step XLA-compiled, max-pooling as a reshape (model.BlockMaxPooling2D). XLA
  fuses the small element-wise work around the convolutions and matrix products. On a
  2-core AMD EPYC with AVX2 and no AVX-512 it trains about 1.5x faster than `onednn`
  (README, "Speed").
- `onednn`: TensorFlow's own kernels, which are oneDNN's on x86. oneDNN generates its
  convolution and matrix kernels for the CPU it runs on: AVX-512, AVX512_BF16 and AMX
  included. On a 2-core Intel Xeon with AMX, TensorFlow's kernels trained 1.3x to 1.4x
  faster than the XLA step (issue 9's measurement), and only they reach bfloat16 matrix units.

So AVX-512 machines take `onednn`, the others `xla`. The choice is a pure function of the
CPU's flags, so one machine always takes the same path, and its weights are reproducible
bit for bit; `training.kernels` overrides it.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The flags that decide which kernels oneDNN and XLA can generate.
FEATURES = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
NATIVE_BFLOAT16 = ("avx512_bf16", "amx_bf16")


def cpu_info(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> tuple[str, frozenset[str]]:
    """(model name, flags) of this machine's first CPU; flags are empty where unknown."""
    model, flags = platform.processor() or platform.machine(), frozenset()
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            model = value.strip()
        elif key.strip() == "flags":
            flags = frozenset(value.split())
            break
    return model, flags


def features(flags: frozenset[str]) -> list[str]:
    """The flags among FEATURES that this CPU has, in FEATURES' order."""
    return [f for f in FEATURES if f in flags]


def describe(model: str, flags: frozenset[str]) -> str:
    """'<model>, <n> cores; <the features that matter>', for logs and benchmarks."""
    present = features(flags)
    return f"{model}, {os.cpu_count()} cores; {' '.join(present) or 'none of ' + ' '.join(FEATURES)}"


def has_native_bfloat16(flags: frozenset[str]) -> bool:
    return any(f in flags for f in NATIVE_BFLOAT16)


def choose_kernels(setting: str, flags: frozenset[str]) -> str:
    """The kernels a run trains with: the setting, or for `auto` the CPU's best."""
    if setting != "auto":
        return setting
    return "onednn" if "avx512f" in flags else "xla"
