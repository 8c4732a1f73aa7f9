"""Fine-tuning (config key ``init_from``): the checkpoint whose weights start a new run.

``init_from`` names a checkpoint file, or a run folder (its best, else final, else last checkpoint, the order of
:func:`trainer.training.predict.find_checkpoint`); "" starts from random weights. The checkpoint must hold the same
architecture and input size as the new run: anything else is refused with a message naming both. Only the weights
are taken: the optimiser, sampler, epoch and random state start fresh, so a fine-tuned run resumes bit-exactly
like any run (its own checkpoints hold everything).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from trainer.errors import CheckpointError, ConfigError
from trainer.runs import paths
from trainer.training.checkpoint import describe_checkpoint, load_checkpoint, load_weights
from trainer.training.predict import find_checkpoint


def init_checkpoint(value: str) -> Path | None:
    """The checkpoint file ``init_from`` names (None for ""); ConfigError naming the key when there is none."""
    if not value:
        return None
    p = Path(value).expanduser()
    if p.is_dir():
        try:
            return find_checkpoint(p, None)
        except ConfigError as exc:
            raise ConfigError(f"init_from = {value!r}: {exc.message}") from None
    if p.is_file():
        return p
    raise ConfigError(f"init_from = {value!r}: no such checkpoint file or run folder; give a .pth file or a run "
                      "folder with checkpoints/, or \"\" to start from random weights")


def load_initial_weights(model: torch.nn.Module, cfg: dict[str, Any]) -> dict | None:
    """Load the weights ``cfg["init_from"]`` names into ``model``; returns ``{checkpoint, run, epoch, holds}`` for
    the run's records, or None when the run starts from random weights."""
    path = init_checkpoint(cfg.get("init_from", ""))
    if path is None:
        return None
    state = load_checkpoint(path)
    meta = state.get("meta") or {}
    expected = (f"{cfg['architecture']} model for {cfg['input_width']}x{cfg['input_height']} (WxH) input")
    for key in ("architecture", "input_height", "input_width"):
        if key in meta and meta[key] != cfg[key]:
            raise CheckpointError(f"init_from: holds a {describe_checkpoint(state)}, but this run trains a "
                                  f"{expected} ({key} {meta[key]!r} vs {cfg[key]!r}). Set {key} = {meta[key]!r} "
                                  "to fine-tune from it, or choose another checkpoint", path)
    load_weights(model, state, path, expected)
    run = path.parent.parent if path.parent.name == paths.CHECKPOINTS else None
    return {"checkpoint": str(path.resolve()), "run": str(run.resolve()) if run else None,
            "epoch": state.get("epoch"), "holds": describe_checkpoint(state)}
