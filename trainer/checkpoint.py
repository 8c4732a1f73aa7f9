"""Checkpoints: atomic writes (temp file + rename) and safe loading (`weights_only=True`)."""
from __future__ import annotations

import io
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import torch

from trainer.errors import CheckpointError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that a crash at any moment leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(Path(path), text.encode("utf-8"))


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
