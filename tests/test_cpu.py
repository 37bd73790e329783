"""What CPU this is, and which training path a run takes: the setting, or for `auto` the
path measured fastest on every CPU kind (onednn, docs/speed.md)."""

import pytest

from mnist_filters.cpu import choose_kernels, cpu_info, describe, has_native_bfloat16

EPYC_AVX2 = (
    "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\n"
)
XEON_AMX = (
    "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Platinum 8581C\n"
    "flags\t\t: avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8\n"
)
EPYC_AVX512 = (
    "model name\t: AMD EPYC 9B14\nflags\t\t: avx2 fma avx512f avx512bw avx512_vnni avx512_bf16\n"
)


@pytest.mark.parametrize(
    "text, model, bf16",
    [
        (EPYC_AVX2, "AMD EPYC", False),
        (XEON_AMX, "Intel(R) Xeon(R) Platinum 8581C", True),
        (EPYC_AVX512, "AMD EPYC 9B14", True),
    ],
    ids=["avx2", "amx", "avx512"],
)
def test_the_model_and_native_bfloat16_are_read_from_cpuinfo(tmp_path, text, model, bf16):
    (tmp_path / "cpuinfo").write_text(text)
    found_model, flags = cpu_info(tmp_path / "cpuinfo")
    assert found_model == model
    assert has_native_bfloat16(flags) is bf16


def test_auto_takes_onednn_and_a_named_path_is_kept():
    assert choose_kernels("auto") == "onednn"
    assert [choose_kernels(setting) for setting in ("xla", "onednn")] == ["xla", "onednn"]


def test_description_names_the_model_and_the_flags_that_matter(tmp_path):
    (tmp_path / "cpuinfo").write_text(XEON_AMX)
    text = describe(*cpu_info(tmp_path / "cpuinfo"))
    assert text.startswith("Intel(R) Xeon(R) Platinum 8581C, ")
    assert text.endswith(
        "; avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 amx_tile amx_bf16 amx_int8"
    )


def test_an_unreadable_cpuinfo_means_no_flags(tmp_path):
    model, flags = cpu_info(tmp_path / "missing")
    assert flags == frozenset() and model
    assert "none of" in describe(model, flags)


def test_this_machine_is_described():
    model, flags = cpu_info()
    assert describe(model, flags).startswith(model)
