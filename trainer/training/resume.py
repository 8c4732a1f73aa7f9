"""Resuming a run: what ``--resume`` refuses (nothing to resume from, ``--set`` keys a resume cannot change) and
the config it continues with. The keys ``--set`` may change on resume are the schema's ``resumable`` keys."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from trainer import config as config_mod
from trainer.errors import ConfigError
from trainer.runs import paths
from trainer.schema import RESUMABLE_KEYS


def _changes(saved: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, tuple[Any, Any]]:
    return {k: (saved[k], v) for k, v in (overrides or {}).items() if k in saved and v != saved[k]}


def check_resume(out_dir: Path, overrides: dict[str, Any] | None) -> None:
    """Refuse a resume with nothing to resume from, or with ``--set`` keys a resume cannot change (named, with the
    fix). Called before anything is written: a refused resume leaves the run folder as it was."""
    cfg_path = out_dir / paths.CONFIG
    last = paths.checkpoint_path(out_dir, "last")
    if not cfg_path.is_file():
        raise ConfigError("cannot resume: no config.toml in the run folder (was a run started here?)", out_dir)
    if not last.is_file():
        raise ConfigError(f"cannot resume: there is no checkpoint to resume from ({last} is missing: the run stopped "
                          "before its first epoch ended, or its checkpoints were deleted). Nothing was changed; start "
                          f"it again in a new folder with --config {cfg_path}", out_dir)
    changed = _changes(config_mod.load_config(cfg_path), overrides)
    refused = {k: ab for k, ab in changed.items() if k not in RESUMABLE_KEYS}
    if refused:
        applied = [k for k in changed if k in RESUMABLE_KEYS]
        raise ConfigError("cannot change on resume: " + ", ".join(f"{k} ({a} -> {b})" for k, (a, b) in refused.items())
                          + f". A resumed run keeps its config; only {', '.join(RESUMABLE_KEYS)} can change"
                          + (f" (would apply: {', '.join(applied)})" if applied else "")
                          + ". Drop those --set keys, or start a new run with them", cfg_path)


def resume_config(out_dir: Path, overrides: dict[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """The config a resume continues with (saved config + the resumable ``--set`` keys) and the log line saying
    which keys it applied (None when none changed)."""
    saved = config_mod.load_config(out_dir / paths.CONFIG)
    changed = {k: ab for k, ab in _changes(saved, overrides).items() if k in RESUMABLE_KEYS}
    saved.update({k: b for k, (_, b) in changed.items()})
    if not changed:
        return config_mod.validate_config(saved), None
    return config_mod.validate_config(saved), ("resume: applying " + ", ".join(
        f"{k}: {a} -> {b}" for k, (a, b) in changed.items()) + f" (a resume may change only {', '.join(RESUMABLE_KEYS)})")
