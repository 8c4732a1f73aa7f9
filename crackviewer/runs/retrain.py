"""Retrain from a run (issue 14): the config a fine-tune of a finished run starts with, its name, and which run a
run was fine-tuned from. Qt-free.

A fine-tune keeps the old run's config (architecture, input size, loss, ...) and sets `init_from` to the old run's
folder (the trainer loads its best, else final, else last checkpoint: `trainer.training.init_from`); the schedule is
short (FINETUNE_EPOCHS, the published λ schedule over the new epochs unless the user picks a constant λ). The
dataset is the one open in the app, which holds the user's corrected masks.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from trainer.config import DEFAULTS
from trainer.runs import paths
from trainer.runs.folder import RunFolder

FINETUNE_EPOCHS = 5
_SUFFIX = re.compile(r"^(?P<base>.*)-ft(?P<n>\d+)$")


def finetune_name(old: str, taken: set[str] | None = None) -> str:
    """`<old>-ft1`, or the next free `-ftN` (a fine-tune of `x-ft1` is `x-ft2`)."""
    taken = taken or set()
    m = _SUFFIX.match(old)
    base, n = (m["base"], int(m["n"]) + 1) if m else (old, 1)
    while f"{base}-ft{n}" in taken:
        n += 1
    return f"{base}-ft{n}"


def retrain_config(run_dir: str | Path) -> dict[str, Any]:
    """The form values of a fine-tune of `run_dir`: its config.toml, `init_from` = the run folder, a short
    published λ schedule. ValueError (naming the file) when the run has no readable config or no checkpoint."""
    rf = RunFolder(run_dir)
    if not any(rf.checkpoint(kind) for kind in paths.CHECKPOINT_KINDS):
        raise ValueError(f"{rf.path}: no checkpoint in {paths.CHECKPOINTS}/, so there are no weights to start from")
    cfg = {k: v for k, v in rf.config.items() if k in DEFAULTS}
    cfg.update(init_from=str(rf.path.resolve()), epochs=FINETUNE_EPOCHS, lambda_mode="schedule")
    return cfg


def run_name_of(value: Any) -> str | None:
    """The run an `init_from` value names: a run folder, or the run holding a checkpoints/<kind>.pth file."""
    if isinstance(value, dict):                       # the run_started event's {checkpoint, run, ...}
        value = value.get("run") or value.get("checkpoint")
    if not value:
        return None
    p = Path(str(value))
    if p.suffix and p.parent.name == paths.CHECKPOINTS:
        return p.parent.parent.name
    return p.name


def started_from(rf: RunFolder) -> str | None:
    """The name of the run `rf` was fine-tuned from (run_started `init_from`, else config `init_from`), or None."""
    started = rf.run_started() or {}
    return run_name_of(started.get("init_from")) or run_name_of(rf.config_or_empty().get("init_from"))
