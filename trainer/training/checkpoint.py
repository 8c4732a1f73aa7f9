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


def describe_checkpoint(state: dict[str, Any]) -> str:
    """What a checkpoint holds, in words: ``upsampling model for 128x128 (WxH) input, epoch 3``."""
    meta = state.get("meta") or {}
    cfg = state.get("config") or {}
    arch = meta.get("architecture", cfg.get("architecture", "unknown architecture"))
    h = meta.get("input_height", cfg.get("input_height", "?"))
    w = meta.get("input_width", cfg.get("input_width", "?"))
    epoch = state.get("epoch")
    return f"{arch} model for {w}x{h} (WxH) input" + (f", epoch {epoch}" if epoch is not None else "")


def weights_mismatch(model: torch.nn.Module, weights: dict[str, Any]) -> str | None:
    """Why ``weights`` do not fit ``model`` (missing and unexpected keys, shape differences; three of each), or
    None when they fit exactly."""
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {k: tuple(getattr(v, "shape", ())) for k, v in weights.items()}
    parts = []
    missing = [k for k in want if k not in have]
    unexpected = [k for k in have if k not in want]
    shapes = [f"{k} {list(have[k])} vs {list(want[k])}" for k in want if k in have and have[k] != want[k]]
    for title, items in (("missing", missing), ("unexpected", unexpected), ("different shape (file vs model)", shapes)):
        if items:
            parts.append(f"{len(items)} {title}: " + ", ".join(items[:3]) + (", ..." if len(items) > 3 else ""))
    return "; ".join(parts) or None


def load_weights(model: torch.nn.Module, state: dict[str, Any], path: str | Path, expected: str) -> None:
    """Load a checkpoint's weights into ``model``; a mismatch raises :class:`CheckpointError` naming the file, what
    it holds, what ``expected`` (the model in words) and which keys or shapes differ."""
    weights = state.get("model")
    problem = "no weights" if not isinstance(weights, dict) else weights_mismatch(model, weights)
    if problem is None:
        try:
            model.load_state_dict(weights)
            return
        except (RuntimeError, ValueError) as exc:
            problem = str(exc).splitlines()[0]
    raise CheckpointError(f"holds a {describe_checkpoint(state)}, but this needs a {expected}: its weights do not "
                          f"fit ({problem}). Use a checkpoint of the same architecture and input size", path)
