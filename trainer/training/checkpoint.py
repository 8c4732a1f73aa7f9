"""Checkpoints: atomic saving (through trainer.atomic) and safe loading (`weights_only=True`)."""
from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import torch

from trainer.atomic import atomic_write_bytes
from trainer.errors import CheckpointError


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Write a checkpoint so that a crash at any moment leaves either the old file or the new one, never half of one."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load with `weights_only=True`: a hostile .pth cannot run code; it is refused with a clear message."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint not found", path)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            "refused to load: the file holds Python objects other than weights (it could run code). "
            f"Only checkpoints written by crack-train are accepted. Detail: {str(exc).splitlines()[0]}", path) from None
    except Exception as exc:  # truncated, not a torch file, ...
        raise CheckpointError(f"not a readable checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
                              path) from None
    if not isinstance(obj, dict) or "model" not in obj:
        raise CheckpointError("not a crack-train checkpoint (no 'model' weights inside)", path)
    return obj
