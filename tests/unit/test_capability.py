"""precision = "auto" from the capability probe, and the warning for bf16 forced on an emulating CPU."""
import json

import torch

from trainer.training import capability as cap

AVX2 = dict(cpu_model="AMD EPYC", torch="2.13.0+cpu", isa="AVX2", avx2=True, avx512_bf16=False, amx_bf16=False,
            mkldnn_bf16=False)
AMX = dict(AVX2, cpu_model="Intel Xeon", isa="AVX512", avx512_bf16=True, amx_bf16=True, mkldnn_bf16=True)


def test_flags_only_verdicts():
    assert not cap.cpu_bf16_is_fast(dict(AVX2, source="flags"))
    assert cap.cpu_bf16_is_fast(dict(AMX, source="flags"))


def test_measured_speed_decides_on_a_native_cpu():
    assert cap.cpu_bf16_is_fast(dict(AMX, source="measured", bf16_speedup=3.9))
    # native bf16 that measured no faster (e.g. AVX512-BF16 without AMX on a loaded machine) stays fp32
    assert not cap.cpu_bf16_is_fast(dict(AMX, amx_bf16=False, source="measured", bf16_speedup=1.05))


def test_warning_names_the_emulation_and_the_measured_slowdown():
    msg = cap.bf16_warning(torch.device("cpu"), dict(AVX2, source="measured", bf16_speedup=0.08))
    assert msg.startswith("bf16 is emulated on this CPU (no AVX512-BF16/AMX): measured 12.5x slower than fp32")
    assert 'use precision = "fp32" or "auto"' in msg
    assert "measured" not in cap.bf16_warning(torch.device("cpu"), dict(AVX2, source="flags"))
    assert cap.bf16_warning(torch.device("cpu"), dict(AMX, source="measured", bf16_speedup=3.0)) is None


def test_probe_is_cached_per_cpu_and_torch(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv(cap.ENV_MODE, "")
    monkeypatch.setattr(cap, "_MEMO", {})
    calls = []

    def fake_measure():
        calls.append(1)
        return dict(cap.cpu_flags_probe(), source="measured", conv_fp32_ms=10.0, conv_bf16_ms=100.0,
                    bf16_speedup=0.1)

    monkeypatch.setattr(cap, "measure_cpu", fake_measure)
    first = cap.cpu_capability()
    monkeypatch.setattr(cap, "_MEMO", {})
    second = cap.cpu_capability()
    assert calls == [1] and first == second
    data = json.loads((tmp_path / "crackviewer" / "capability.json").read_text())
    (key,) = data
    assert key == f"{first['cpu_model']} | torch {torch.__version__}"
    assert cap.auto_precision(torch.device("cpu")) == "fp32"


def test_flags_mode_skips_the_timing(monkeypatch):
    monkeypatch.setenv(cap.ENV_MODE, "flags")
    monkeypatch.setattr(cap, "_MEMO", {})
    monkeypatch.setattr(cap, "measure_cpu", lambda: (_ for _ in ()).throw(AssertionError("timed")))
    info = cap.cpu_capability()
    assert info["source"] == "flags"
    assert cap.auto_precision(torch.device("cpu")) == ("bf16" if cap.native_cpu_bf16(info) else "fp32")
