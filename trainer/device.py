"""Device and precision choice, checked at run time."""
from __future__ import annotations

import os
import warnings

import torch

from trainer.errors import ConfigError


def resolve_device(name: str, local_rank: int | None = None) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank or 0)
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device = {name!r}, but this machine has no CUDA GPU visible to torch; use device=cpu or auto")
        index = int(name.split(":", 1)[1]) if ":" in name else (local_rank or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device = {name!r}, but only {torch.cuda.device_count()} CUDA device(s) exist")
        return torch.device("cuda", index)
    return torch.device("cpu")


def resolve_precision(name: str, device: torch.device) -> str:
    """'bf16' or 'fp32'. auto = bf16 only where it is native and measured faster (trainer.training.capability:
    a CUDA GPU with bf16, or a CPU with AMX/AVX512-BF16 whose probe ran bf16 faster). Forcing bf16 on a CPU that
    emulates it (AVX2 only: about 12x slower) works but warns; benchmarks/README.md has the table by machine kind.
    """
    from trainer.training.capability import auto_precision, bf16_warning

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
