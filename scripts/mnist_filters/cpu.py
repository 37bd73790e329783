"""What CPU this is, and which kernels train fastest on it: chosen from its features, never timed.

Two ways to run a training step, with equal maths and different kernels:
- `xla`: the step XLA-compiled, max-pooling as a reshape (model.BlockMaxPooling2D). XLA
  fuses the small element-wise work around the convolutions and matrix products, but its
  CPU backend runs them through kernels built for the wheel's baseline instructions.
- `onednn`: TensorFlow's own kernels, which are oneDNN's on x86. oneDNN generates its
  convolution and matrix kernels for the CPU it runs on: AVX-512, AVX512_BF16 and AMX
  included, and only this path reaches bfloat16 matrix units.

Measured (docs/speed.md, one row per CPU kind), with oneDNN's operations on
(tensorflow_setup) and Adam as one fused kernel per variable (optimizers.FusedAdam):
- 2-core AMD EPYC, AVX2 only: `onednn` 2,857 examples/s, `xla` 2,657 (before both
  changes `xla` won by 1.5x: TensorFlow leaves oneDNN's operations off on such CPUs);
- 2-core AMD EPYC Zen 4, AVX-512 and AVX512_BF16: `xla` 2,823, `onednn` 2,641 before the
  fused Adam, which made `onednn` 1.2x faster on the AVX2 machine and 1.3x on the AMX Xeon,
  and left `xla` as it was;
- 2-core Intel Xeon with AMX: `onednn` 6,325 examples/s, `xla` 4,667.
So `auto` takes `onednn` on every CPU kind measured: a constant, never a timing, so one
machine always takes the same path and its weights are reproducible bit for bit. A CPU kind
measured to prefer `xla` would make the choice a function of the flags again, here.
`training.kernels` overrides it.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# The flags that decide which kernels oneDNN and XLA can generate.
FEATURES = (
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)
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
    return (
        f"{model}, {os.cpu_count()} cores; {' '.join(present) or 'none of ' + ' '.join(FEATURES)}"
    )


def has_native_bfloat16(flags: frozenset[str]) -> bool:
    return any(f in flags for f in NATIVE_BFLOAT16)


# What `auto` takes: the faster path on every CPU kind measured (docs/speed.md).
AUTO_KERNELS = "onednn"


def choose_kernels(setting: str) -> str:
    """The kernels a run trains with: the setting, or for `auto` AUTO_KERNELS."""
    return AUTO_KERNELS if setting == "auto" else setting
