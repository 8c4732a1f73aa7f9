"""Device and precision resolution: the only place that decides where and in which precision a model runs."""
from __future__ import annotations

import os
import warnings
from typing import Any

import torch

from trainer.errors import ConfigError
from trainer.schema import KEYS
from trainer.training.capability import auto_precision, bf16_warning

PRECISIONS = KEYS["precision"].choices


def cpu_bf16_supported() -> bool:
    """The CPU runs bf16 natively (AVX512-bf16 / AMX), as oneDNN reports it."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return False


def resolve_device(name: Any, local_rank: int | None = None) -> torch.device:
    """``auto`` / ``cpu`` / ``cuda`` / ``cuda:N`` (or a torch.device) -> a device this machine has."""
    if isinstance(name, torch.device):
        return name
    name = str(name or "cpu")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank or 0)
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device = {name!r}, but this machine has no CUDA GPU visible to torch; use device=cpu or auto")
        try:
            index = int(name.split(":", 1)[1]) if ":" in name else (local_rank or 0)
        except ValueError:
            raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device = {name!r}, but only {torch.cuda.device_count()} CUDA device(s) exist")
        return torch.device("cuda", index)
    if name != "cpu":
        raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N")
    return torch.device("cpu")


def resolve_precision(name: Any, device: torch.device) -> str:
    """'bf16' or 'fp32'. auto = bf16 only where it is native and measured faster (trainer.training.capability:
    a CUDA GPU with bf16, or a CPU with AMX/AVX512-BF16 whose probe ran bf16 faster). Forcing bf16 on a CPU that
    emulates it (AVX2 only: about 12x slower) works but warns; benchmarks/README.md has the table by machine kind.
    """
    name = str(name or "fp32").lower()
    if name not in PRECISIONS:
        raise ConfigError(f"unknown precision {name!r}: use {', '.join(PRECISIONS)}")
    if name == "fp32":
        return "fp32"
    if name == "bf16":
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ConfigError("precision = bf16, but this GPU does not support bf16; use precision=fp32 or auto")
        warning = bf16_warning(device)
        if warning:
            warnings.warn(warning, stacklevel=2)
        return "bf16"  # on CPU bf16 always works, only slowly without hardware support
    return auto_precision(device)


def autocast(device: torch.device, precision: str):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=(precision == "bf16"))


def set_cpu_threads() -> None:
    """Use every core the process may run on (torch's default can exceed the cgroup's quota), or
    CRACKVIEWER_THREADS when set (the demo sets 1 on a busy machine: spinning OpenMP threads then cost 2-4x)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    forced = os.environ.get("CRACKVIEWER_THREADS", "").strip()
    torch.set_num_threads(max(1, int(forced) if forced.isdigit() else n))


def device_report() -> dict:
    """What this machine offers, for ``crack-train device --json`` (the GUI asks it instead of importing torch):
    ``{torch, cuda: [{index, name, memory_gb, bf16}], bf16_cpu, precision_auto}``."""
    cuda = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            cuda.append({"index": i, "name": props.name, "memory_gb": round(props.total_memory / 2**30, 1),
                         "bf16": bool(torch.cuda.is_bf16_supported())})
    auto = resolve_device("auto")
    return {"torch": torch.__version__, "cuda": cuda, "bf16_cpu": cpu_bf16_supported(),
            "precision_auto": resolve_precision("auto", auto), "error": None}
