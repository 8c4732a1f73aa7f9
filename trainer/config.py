"""Run configuration from the schema (trainer.schema): defaults, presets, TOML files, `--set` overrides, validation
and the config.toml writer."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from trainer.atomic import atomic_write_text
from trainer.errors import ConfigError
from trainer.schema import KEYS, PRESETS, device_problem

DEFAULTS: dict[str, Any] = {k.name: k.default for k in KEYS.values()}
"""The published run's parameters (published-run-report.md "Run parameters", logs for the rest)."""

# key -> (group, what it does, the published run's value as the report writes it)
KEY_DOCS: dict[str, tuple[str, str, str]] = {k.name: (k.group, k.help, k.published) for k in KEYS.values()}

# Names the published report uses for its run-parameter table.
REPORT_NAMES: dict[str, str] = {k.name: k.report_name for k in KEYS.values() if k.report_name}


def _coerce(key: str, value: Any, source: str) -> Any:
    default = DEFAULTS[key]
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            s = str(value).strip().lower()
            if s in ("1", "true", "yes", "t", "y", "on"):
                return True
            if s in ("0", "false", "no", "f", "n", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(default, float):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        kind = type(default).__name__
        raise ConfigError(f"{key} = {value!r} is not a valid {kind} (from {source})") from None


def validate_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Check every key against the schema's bounds and choices; return cfg. Raises ConfigError naming the key."""
    for key in KEYS.values():
        problem = key.problem(cfg[key.name])
        if problem:
            raise ConfigError(problem)
    problem = device_problem(cfg["device"])
    if problem:
        raise ConfigError(problem)
    return cfg


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """`["epochs=3", "architecture=original"]` -> {"epochs": 3, ...}. TOML literals are accepted for values."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value")
        key, raw = (s.strip() for s in item.split("=", 1))
        if key not in DEFAULTS:
            raise ConfigError(f"--set {key}: unknown key; known keys: {', '.join(sorted(DEFAULTS))}")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        out[key] = _coerce(key, value, f"--set {item}")
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("config file not found", path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a valid TOML file: {exc}", path) from None
    # Accept a flat table, or everything under [train].
    if "train" in data and isinstance(data["train"], dict):
        data = data["train"]
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "preset":
            continue
        if key not in DEFAULTS:
            raise ConfigError(f"unknown key {key!r}; known keys: {', '.join(sorted(DEFAULTS))}", path)
        out[key] = _coerce(key, value, str(path))
    if "preset" in data:
        out = {**_preset(str(data["preset"])), **out}
    return out


def _preset(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return dict(PRESETS[name])


def load_config(path: str | Path | None = None, overrides: list[str] | None = None,
                preset: str | None = None) -> dict[str, Any]:
    """Defaults <- preset <- config file <- --set overrides, validated."""
    cfg = dict(DEFAULTS)
    if preset:
        cfg.update(_preset(preset))
    if path:
        cfg.update(read_config_file(path))
    cfg.update(parse_overrides(overrides))
    return validate_config(cfg)


def dumps_value(v: Any) -> str:
    """One config value as a TOML literal."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def dumps_config(cfg: dict[str, Any]) -> str:
    lines = ["# crackviewer run configuration (resolved: every key, defaults included)"]
    for key in DEFAULTS:
        if key in cfg:
            lines.append(f"{key} = {dumps_value(cfg[key])}")
    return "\n".join(lines) + "\n"


def save_config(cfg: dict[str, Any], path: str | Path) -> None:
    atomic_write_text(Path(path), dumps_config(cfg))
