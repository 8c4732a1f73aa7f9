"""torchrun / DDP context (a no-op in a single process) and out-of-memory detection."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate memory" in text or isinstance(exc, MemoryError))


class Distributed:
    """torchrun / DDP context (a no-op in a single process)."""

    def __init__(self):
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.enabled = self.world_size > 1
        self._initialised_here = False

    def init(self, device: torch.device) -> None:
        if not self.enabled:
            return
        if not dist.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            dist.init_process_group(backend=backend)
            self._initialised_here = True

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_sum(self, values: list[float], device: torch.device) -> list[float]:
        if not self.enabled:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return t.tolist()

    def any_flag(self, flag: bool, device: torch.device) -> bool:
        if not self.enabled:
            return flag
        return self.all_sum([1.0 if flag else 0.0], device)[0] > 0

    def close(self) -> None:
        if self.enabled and self._initialised_here:
            dist.destroy_process_group()
