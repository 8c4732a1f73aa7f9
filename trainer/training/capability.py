"""What this machine runs fast, measured: the rule behind precision = "auto".

bf16 is only worth it where the hardware computes it natively: a CUDA GPU with bf16, or a CPU whose oneDNN kernels
use AMX or AVX512-BF16. On other CPUs (AVX2 only) torch still runs bf16, but emulated, and a training step was
measured 12x slower than fp32 (benchmarks/README.md, "Precision by machine kind"). CPU flags alone can mislead
(a virtual machine may hide or expose them), so the CPU probe also times one convolution of the model's typical
shape in fp32 and in bf16 (about 0.3 s) and picks bf16 only where it was measured faster. The result is cached
per machine (CPU model + torch version) in ``~/.cache/crackviewer/capability.json``.

Environment: ``CRACKVIEWER_CAPABILITY=flags`` skips the timing and decides from flags only (tests, CI);
``CRACKVIEWER_CAPABILITY=measure`` re-measures and overwrites the cached entry.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import torch

from trainer.atomic import atomic_write_text

ENV_MODE = "CRACKVIEWER_CAPABILITY"
# bf16 must beat fp32 by this factor in the probe to be chosen (timing noise on a loaded machine is ~10 %).
BF16_MIN_SPEEDUP = 1.15
# The probe: one 5x5 convolution 32 -> 32 channels (the encoder's typical block), forward + backward.
_PROBE_SHAPE = (2, 32, 64, 64)
_PROBE_BUDGET_S = 0.3


def cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crackviewer" / "capability.json"


def _cpuinfo() -> tuple[str, set[str]]:
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    if not model:
        model = platform.processor() or platform.machine() or "unknown CPU"
    return model, flags


def cpu_flags_probe() -> dict:
    """What the CPU and torch's oneDNN say, without timing anything."""
    model, flags = _cpuinfo()
    try:
        isa = str(torch.backends.cpu.get_cpu_capability())
    except Exception:
        isa = "unknown"
    try:
        mkldnn_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        mkldnn_bf16 = False
    try:
        amx_tiles = bool(torch.cpu._is_amx_tile_supported())
    except Exception:
        amx_tiles = "amx_tile" in flags
    return {
        "cpu_model": model,
        "torch": torch.__version__,
        "isa": isa,
        "avx2": "avx2" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags or amx_tiles,
        "mkldnn_bf16": mkldnn_bf16,
    }


def native_cpu_bf16(info: dict) -> bool:
    """Flags-only verdict: oneDNN runs bf16 natively (AMX or AVX512-BF16)."""
    return bool(info["mkldnn_bf16"] and (info["amx_bf16"] or info["avx512_bf16"]))


def _time_conv(dtype_bf16: bool, budget_s: float) -> float:
    """Fastest seconds of one conv forward+backward, repeated until the time budget or 5 repeats."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(32, 32, 5, padding=2)
    x = torch.randn(*_PROBE_SHAPE, requires_grad=True)
    if dtype_bf16:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_(True)
    best, t_start, reps = float("inf"), time.perf_counter(), 0
    while reps < 6 and (reps < 2 or time.perf_counter() - t_start < budget_s):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype_bf16):
            y = conv(x)
        y.float().sum().backward()
        if reps:  # the first repeat is a warm-up (oneDNN primitive creation)
            best = min(best, time.perf_counter() - t)
        reps += 1
    return best


def measure_cpu() -> dict:
    info = cpu_flags_probe()
    fp32 = _time_conv(False, _PROBE_BUDGET_S / 2)
    bf16 = _time_conv(True, _PROBE_BUDGET_S / 2)
    info.update(source="measured", conv_fp32_ms=round(fp32 * 1e3, 3), conv_bf16_ms=round(bf16 * 1e3, 3),
                bf16_speedup=round(fp32 / bf16, 3) if bf16 > 0 else 0.0,
                measured_at=time.strftime("%Y-%m-%d %H:%M:%S"))
    return info


def _key(info: dict) -> str:
    return f"{info['cpu_model']} | torch {info['torch']}"


def _read_cache() -> dict:
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(key: str, info: dict) -> None:
    data = _read_cache()
    data[key] = info
    try:
        cache_path().parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(cache_path(), json.dumps(data, indent=1, sort_keys=True))
    except OSError:
        pass  # a read-only home only costs a re-measurement next time


_MEMO: dict[str, dict] = {}


def cpu_capability() -> dict:
    """The CPU's capability: flags, plus the measured fp32/bf16 probe unless CRACKVIEWER_CAPABILITY=flags."""
    mode = os.environ.get(ENV_MODE, "").strip().lower()
    if mode in _MEMO:
        return _MEMO[mode]
    info = cpu_flags_probe()
    if mode == "flags":
        info["source"] = "flags"
    else:
        key = _key(info)
        cached = _read_cache().get(key) if mode != "measure" else None
        if isinstance(cached, dict) and cached.get("source") == "measured" and "bf16_speedup" in cached:
            info = cached
        else:
            info = measure_cpu()
            _write_cache(key, info)
    _MEMO[mode] = info
    return info


def cpu_bf16_is_fast(info: dict | None = None) -> bool:
    info = info or cpu_capability()
    if not native_cpu_bf16(info):
        return False
    if info.get("source") == "measured":
        return float(info.get("bf16_speedup", 0.0)) >= BF16_MIN_SPEEDUP
    return True


def auto_precision(device: torch.device) -> str:
    """precision = "auto": bf16 on a CUDA GPU with bf16, and on a CPU where bf16 is native and measured faster."""
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_bf16_is_fast() else "fp32"


def bf16_warning(device: torch.device, info: dict | None = None) -> str | None:
    """The warning for a user who forces precision = "bf16" on a CPU that would run it slowly, else None."""
    if device.type != "cpu":
        return None
    info = info or cpu_capability()
    if not native_cpu_bf16(info):
        slower = ""
        if info.get("source") == "measured" and info.get("bf16_speedup"):
            slower = f": measured {1.0 / float(info['bf16_speedup']):.1f}x slower than fp32"
        return (f"bf16 is emulated on this CPU (no AVX512-BF16/AMX){slower}; "
                f'use precision = "fp32" or "auto"')
    if info.get("source") == "measured" and float(info.get("bf16_speedup", 0.0)) < 1.0:
        return (f"bf16 was measured {1.0 / float(info['bf16_speedup']):.1f}x slower than fp32 on this CPU; "
                f'use precision = "fp32" or "auto"')
    return None


def describe(info: dict | None = None) -> str:
    """One line for logs and benchmarks."""
    info = info or cpu_capability()
    parts = [info["cpu_model"], f"ISA {info['isa']}",
             "AMX" if info["amx_bf16"] else ("AVX512-BF16" if info["avx512_bf16"] else "no native bf16")]
    if info.get("source") == "measured":
        parts.append(f"conv probe fp32 {info['conv_fp32_ms']:.1f} ms, bf16 {info['conv_bf16_ms']:.1f} ms "
                     f"(bf16 {info['bf16_speedup']:.2f}x)")
    return ", ".join(parts)


if __name__ == "__main__":
    os.environ.setdefault(ENV_MODE, "measure")
    cap = cpu_capability()
    print(json.dumps(cap, indent=1))
    print(describe(cap))
    print(f"auto precision on cpu: {auto_precision(torch.device('cpu'))}")
