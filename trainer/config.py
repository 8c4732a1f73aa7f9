"""Run configuration: defaults (exactly the published run's table), presets, TOML files and `--set` overrides."""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from trainer.errors import ConfigError

# The published run's parameters (published-run-report.md "Run parameters", logs for the rest).
DEFAULTS: dict[str, Any] = {
    "batch_size": 1,
    "epochs": 50,
    "learning_rate": 1.0,
    "delta_cls_loss": 0.01,
    "dilate": 1,
    "dyn_balanced_loss": True,
    "frequency_sampling": True,
    "gradient_adjustment": True,
    "weighted_seg_loss": False,
    "weighted_seg_loss_p": 2.0,
    "weighted_seg_loss_max": 1.0,
    "use_best_model": True,
    "validate": True,
    "validation_n_epochs": 5,
    "validate_on_test": False,
    "dice_threshold": 2,
    "dice_threshold_factor": 1,
    "num_segmented": -1,
    "input_height": 448,
    "input_width": 448,
    "architecture": "upsampling",
    "decision_pooling": "avg",
    "seed": 1337,
    "device": "auto",
    "precision": "auto",
    "grad_accumulation": 1,
    "num_workers": 0,
    "skip_bad_samples": False,
    "mask_rule": "threshold",
    "max_megapixels": 250.0,
    "val_fraction": 0.15,
    "save_images": True,
}

PRESETS: dict[str, dict[str, Any]] = {
    "published": {},
    # A CPU run in minutes: small input, few epochs, validation every epoch.
    "quick": {
        "epochs": 10,
        "input_height": 128,
        "input_width": 128,
        "validation_n_epochs": 1,
        "batch_size": 4,
        "learning_rate": 0.5,
    },
}

# key -> (group, what it does, the published run's value as the report writes it)
KEY_DOCS: dict[str, tuple[str, str, str]] = {
    "batch_size": ("Optimisation", "Samples per optimiser step. Losses are summed per sample, as the reference accumulated batch-1 gradients.", "1"),
    "epochs": ("Optimisation", "Number of training epochs E.", "50"),
    "learning_rate": ("Optimisation", "Learning rate of plain SGD (no momentum, no weight decay, no schedule).", "1"),
    "delta_cls_loss": ("Loss", "δ: weight of the classification (decision) loss.", "0.01"),
    "dilate": ("Data", "Dilate GT masks with a k×k kernel before resizing (1 = no dilation).", "1"),
    "dyn_balanced_loss": ("Loss", "Dynamically balanced loss: L = (1-λ)·L_seg + δ·λ·L_cls with λ = epoch/epochs.", "True"),
    "frequency_sampling": ("Sampling", "Frequency-of-use sampling: prefer negatives that were used least.", "True"),
    "gradient_adjustment": ("Loss", "Gradient-flow adjustment: the classification loss does not update the segmentation subnetwork.", "True"),
    "weighted_seg_loss": ("Loss", "Weight the segmentation loss by the distance transform of the mask.", "False"),
    "weighted_seg_loss_p": ("Loss", "Exponent p of the distance-transform weights.", "(unused)"),
    "weighted_seg_loss_max": ("Loss", "Maximum weight of the distance-transform weights.", "(unused)"),
    "use_best_model": ("Validation", "Evaluate the test split with the weights of the best validation AP.", "True"),
    "validate": ("Validation", "Validate during training.", "True"),
    "validation_n_epochs": ("Validation", "Validate every N epochs (and after the last epoch).", "5"),
    "validate_on_test": ("Validation", "Use the test split as the validation split.", "False"),
    "dice_threshold": ("Validation", "Segmentation threshold method: 1 = min over positives of the max probability, 2 = best F1 of the pixel PR curve.", "2"),
    "dice_threshold_factor": ("Validation", "Pixel subsampling stride for the pixel PR curve (1 = every pixel).", "1"),
    "num_segmented": ("Data", "Positives with pixel masks used for the segmentation loss (-1 = all); the others are weakly labelled.", "6921 (all)"),
    "input_height": ("Data", "Input height in pixels (multiple of 8, at least 64).", "448"),
    "input_width": ("Data", "Input width in pixels (multiple of 8, at least 64).", "448"),
    "architecture": ("Model", "original = 1/8-resolution segmentation head; upsampling = full-resolution U-Net decoder.", "upsampling"),
    "decision_pooling": ("Model", "Pooling (avg or max) of the full-resolution logits for the decision branch (upsampling only).", "avg or max (unrecorded)"),
    "seed": ("Run", "Random seed for initialisation, sampling and the val carve-out.", "(not fixed)"),
    "device": ("Run", "auto, cpu, cuda or cuda:N.", "cuda (GPU 2)"),
    "precision": ("Run", "auto (bf16 where the hardware supports it), bf16 or fp32.", "fp32"),
    "grad_accumulation": ("Optimisation", "Take an optimiser step every N batches.", "1"),
    "num_workers": ("Run", "DataLoader worker processes (0 = load in the training process).", "0"),
    "skip_bad_samples": ("Data", "Skip unreadable or inconsistent samples and list them, instead of stopping.", "False"),
    "mask_rule": ("Data", "How mask files are read: threshold (grey value > 127, for 0/255 and JPEG masks) or nonzero (any value > 0 in any channel, for masks stored as 0/1, 0/100, 16-bit or coloured).", "threshold"),
    "max_megapixels": ("Data", "Largest image or mask (width x height / 1e6) read; larger files are refused from their header before decoding.", "250.0"),
    "val_fraction": ("Data", "Fraction of train carved out as val for layouts without a val split.", "(own split)"),
    "save_images": ("Report", "Write one dices/ picture per evaluated sample.", "True"),
}

# Names the published report uses for its run-parameter table.
REPORT_NAMES: dict[str, str] = {
    "batch_size": "Batch size",
    "epochs": "Epochs",
    "learning_rate": "Learning rate",
    "delta_cls_loss": "Delta CLS Loss",
    "dilate": "Dilate",
    "dyn_balanced_loss": "Dynamically balanced loss",
    "frequency_sampling": "Frequency-of-use sampling",
    "gradient_adjustment": "Gradient-flow adjustment",
    "weighted_seg_loss": "Weighted segmentation loss",
    "use_best_model": "Use best model",
    "validate": "Validate",
    "validate_on_test": "Validate on test",
    "dice_threshold": "Dice threshold",
    "dice_threshold_factor": "Dice threshold factor",
}

_CHOICES = {
    "architecture": ("original", "upsampling"),
    "decision_pooling": ("avg", "max"),
    "precision": ("auto", "bf16", "fp32"),
    "dice_threshold": (1, 2),
    "mask_rule": ("threshold", "nonzero"),
}


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
    """Check ranges and choices; return cfg. Raises ConfigError naming the key."""
    for key, choices in _CHOICES.items():
        if cfg[key] not in choices:
            raise ConfigError(f"{key} = {cfg[key]!r}: choose one of {', '.join(map(str, choices))}")
    for key in ("batch_size", "epochs", "validation_n_epochs", "dice_threshold_factor", "dilate", "grad_accumulation"):
        if cfg[key] < 1:
            raise ConfigError(f"{key} = {cfg[key]} must be at least 1")
    for key in ("input_height", "input_width"):
        if cfg[key] < 64 or cfg[key] % 8:
            raise ConfigError(f"{key} = {cfg[key]} must be a multiple of 8 and at least 64")
        if cfg[key] > 4096:
            raise ConfigError(f"{key} = {cfg[key]} is over the limit of 4096 pixels")
    if cfg["learning_rate"] <= 0:
        raise ConfigError(f"learning_rate = {cfg['learning_rate']} must be positive")
    if cfg["delta_cls_loss"] < 0:
        raise ConfigError(f"delta_cls_loss = {cfg['delta_cls_loss']} must not be negative")
    if cfg["num_segmented"] < -1:
        raise ConfigError("num_segmented must be -1 (all positives) or a count >= 0")
    if cfg["num_workers"] < 0:
        raise ConfigError("num_workers must be >= 0")
    if not 0.0 < cfg["max_megapixels"] < 1e5:
        raise ConfigError(f"max_megapixels = {cfg['max_megapixels']} must be above 0 and below 100000")
    if not 0.0 < cfg["val_fraction"] < 1.0:
        raise ConfigError(f"val_fraction = {cfg['val_fraction']} must be between 0 and 1")
    dev = cfg["device"]
    if not (dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit())):
        raise ConfigError(f"device = {dev!r}: use auto, cpu, cuda or cuda:N")
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


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def dumps_config(cfg: dict[str, Any]) -> str:
    lines = ["# crackviewer run configuration (resolved: every key, defaults included)"]
    for key in DEFAULTS:
        if key in cfg:
            lines.append(f"{key} = {_toml_value(cfg[key])}")
    return "\n".join(lines) + "\n"


def save_config(cfg: dict[str, Any], path: str | Path) -> None:
    from trainer.checkpoint import atomic_write_text

    atomic_write_text(Path(path), dumps_config(cfg))
