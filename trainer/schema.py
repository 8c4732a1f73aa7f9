"""THE config schema: one table of keys. Validation (trainer.config), the README's config reference
(scripts/config_reference.py), the report's parameter table and the GUI's training form all read it.

Each :class:`Key` holds its default (the published run's value), type, group and title (the GUI form), help text,
the published run's value as the report writes it, and its bounds: ``choices`` or ``min``/``max`` (inclusive),
``multiple_of`` and the form's ``step``. ``resumable`` keys may change when a run is resumed (``--set`` on
``--resume``); a resume refuses every other changed key. ``report_name`` is the published report's name for the key (the first 14
rows of its parameter table); keys without one are listed after them under their ``title``.
Keys are in the order of the report's parameter table; :data:`GROUPS` is the order of the form's groups.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

GROUPS = ("Optimisation", "Loss", "Sampling", "Data", "Validation", "Model", "Run", "Report")
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class Key:
    name: str
    default: Any
    group: str
    title: str
    help: str
    published: str
    report_name: str | None = None
    choices: tuple | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    multiple_of: int | None = None
    unit: str = ""
    special: dict | None = None     # value -> what the form shows for it (e.g. -1 -> "all positives")
    resumable: bool = False         # --set may change it on --resume

    @property
    def type(self) -> type:
        return type(self.default)

    @property
    def display_name(self) -> str:
        """The name the report's parameter table uses."""
        return self.report_name or self.title

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is out of bounds for this key (a message naming the key), or None when it is fine."""
        if self.choices is not None:
            if value not in self.choices:
                return f"{self.name} = {value!r}: choose one of {', '.join(map(str, self.choices))}"
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return f"{self.name} = {value} must be a finite number"
        if self.min is not None and self.max is not None and not self.min <= value <= self.max:
            return f"{self.name} = {value} must be between {_num(self.min)} and {_num(self.max)}"
        if self.multiple_of and value % self.multiple_of:
            return f"{self.name} = {value} must be a multiple of {self.multiple_of}"
        return None

    def bounds_text(self) -> str:
        """The bounds as the README writes them: ``a, b`` for choices, ``lo..hi`` (``, multiple of k``)."""
        if self.choices is not None:
            return ", ".join(str(c) for c in self.choices)
        if self.min is None or self.max is None:
            return ""
        text = f"{_num(self.min)}..{_num(self.max)}"
        return text + (f", multiple of {self.multiple_of}" if self.multiple_of else "")


def _num(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


_KEYS = (
    # the published report's table, in its order
    Key("batch_size", 1, "Optimisation", "Batch size", "Samples per optimiser step. Losses are summed per sample, as "
        "the reference accumulated batch-1 gradients.", "1", "Batch size", min=1, max=4096, step=1),
    Key("epochs", 50, "Optimisation", "Epochs", "Number of training epochs E.", "50", "Epochs", min=1, max=100_000,
        step=1, resumable=True),
    Key("learning_rate", 1.0, "Optimisation", "Learning rate", "Learning rate of plain SGD (no momentum, no weight "
        "decay, no schedule).", "1", "Learning rate", min=1e-7, max=100.0, step=0.01),
    Key("delta_cls_loss", 0.01, "Loss", "Delta CLS Loss", "δ: weight of the classification (decision) loss.", "0.01",
        "Delta CLS Loss", min=0.0, max=100.0, step=0.01),
    Key("dilate", 1, "Data", "Dilate", "Dilate GT masks with a k×k kernel before resizing (1 = no dilation).", "1",
        "Dilate", min=1, max=99, step=1),
    Key("dyn_balanced_loss", True, "Loss", "Dynamically balanced loss", "Dynamically balanced loss: L = (1-λ)·L_seg "
        "+ δ·λ·L_cls with λ = epoch/epochs.", "True", "Dynamically balanced loss"),
    Key("frequency_sampling", True, "Sampling", "Frequency-of-use sampling", "Frequency-of-use sampling: prefer "
        "negatives that were used least.", "True", "Frequency-of-use sampling"),
    Key("gradient_adjustment", True, "Loss", "Gradient-flow adjustment", "Gradient-flow adjustment: the "
        "classification loss does not update the segmentation subnetwork.", "True", "Gradient-flow adjustment"),
    Key("weighted_seg_loss", False, "Loss", "Weighted segmentation loss", "Weight the segmentation loss by the "
        "distance transform of the mask.", "False", "Weighted segmentation loss"),
    Key("use_best_model", True, "Validation", "Use best model", "Evaluate the test split with the weights of the "
        "best validation AP.", "True", "Use best model"),
    Key("validate", True, "Validation", "Validate", "Validate during training.", "True", "Validate"),
    Key("validate_on_test", False, "Validation", "Validate on test", "Use the test split as the validation split.",
        "False", "Validate on test"),
    Key("dice_threshold", 2, "Validation", "Dice threshold", "Segmentation threshold method: 1 = min over positives "
        "of the max probability, 2 = best F1 of the pixel PR curve.", "2", "Dice threshold", choices=(1, 2)),
    Key("dice_threshold_factor", 1, "Validation", "Dice threshold factor", "Pixel subsampling stride for the pixel "
        "PR curve (1 = every pixel).", "1", "Dice threshold factor", min=1, max=64, step=1),
    # beyond the published table
    Key("weighted_seg_loss_p", 2.0, "Loss", "Weighted segmentation loss p", "Exponent p of the distance-transform "
        "weights.", "(unused)", min=0.0, max=20.0, step=0.1),
    Key("weighted_seg_loss_max", 1.0, "Loss", "Weighted segmentation loss max", "Maximum weight of the "
        "distance-transform weights.", "(unused)", min=0.0, max=1000.0, step=0.1),
    Key("validation_n_epochs", 5, "Validation", "Validation every N epochs", "Validate every N epochs (and after the "
        "last epoch).", "5", min=1, max=10_000, step=1),
    Key("num_segmented", -1, "Data", "Segmented samples (-1 = all positives)", "Positives with pixel masks used for "
        "the segmentation loss (-1 = all); the others are weakly labelled.", "6921 (all)", min=-1, max=10_000_000,
        step=1, special={-1: "all positives"}),
    Key("architecture", "upsampling", "Model", "Architecture", "original = 1/8-resolution segmentation head; "
        "upsampling = full-resolution U-Net decoder.", "upsampling", choices=("original", "upsampling")),
    Key("decision_pooling", "avg", "Model", "Decision pooling", "Pooling (avg or max) of the full-resolution logits "
        "for the decision branch (upsampling only).", "avg or max (unrecorded)", choices=("avg", "max")),
    Key("input_height", 448, "Data", "Input height", "Input height in pixels (multiple of 8).", "448", min=64,
        max=4096, step=8, multiple_of=8, unit="px"),
    Key("input_width", 448, "Data", "Input width", "Input width in pixels (multiple of 8).", "448", min=64, max=4096,
        step=8, multiple_of=8, unit="px"),
    Key("input_mode", "resize", "Data", "Input mode", "How an image becomes input: resize = resized to input_height "
        "x input_width (the published behaviour); tiles = crops of that size at the image's own resolution (times "
        "tile_scale), planned per epoch, with sliding-window validation, evaluation and predict at full size.",
        "resize", choices=("resize", "tiles")),
    Key("tile_scale", 1.0, "Data", "Tile scale", "tiles mode: the image is scaled by this factor before tiling (1 = "
        "native resolution).", "(unused)", min=0.01, max=4.0, step=0.05),
    Key("tile_overlap", 0.25, "Data", "Tile overlap", "tiles mode: overlap of the sliding windows at validation, "
        "evaluation and predict (fraction of a window).", "(unused)", min=0.0, max=0.9, step=0.05),
    Key("grad_accumulation", 1, "Optimisation", "Gradient accumulation (batches per step)", "Take an optimiser step "
        "every N batches.", "1", min=1, max=1024, step=1),
    Key("seed", 1337, "Run", "Seed", "Random seed for initialisation, sampling and the val carve-out.", "(not fixed)",
        min=0, max=MAX_SEED, step=1),
    Key("device", "auto", "Run", "Device", "auto, cpu, cuda or cuda:N.", "cuda (GPU 2)", resumable=True),
    Key("precision", "auto", "Run", "Precision", "auto (bf16 where the hardware supports it), bf16 or fp32.", "fp32",
        choices=("auto", "bf16", "fp32"), resumable=True),
    Key("num_workers", 0, "Run", "Data loader workers", "DataLoader worker processes (0 = load in the training "
        "process).", "0", min=0, max=64, step=1, resumable=True),
    Key("skip_bad_samples", False, "Data", "Skip bad samples", "Skip unreadable or inconsistent samples and list "
        "them, instead of stopping.", "False"),
    Key("mask_rule", "threshold", "Data", "Mask rule", "threshold: mask pixels > 127 are crack; nonzero: any value "
        "above 0 (masks stored as 0/1, 0/100, 16-bit or colour)", "threshold", choices=("threshold", "nonzero")),
    Key("val_fraction", 0.15, "Data", "Validation fraction (carved from train)", "Fraction of train carved out as "
        "val for layouts without a val split.", "(own split)", min=0.01, max=0.9, step=0.01),
    Key("mask_rule", "threshold", "Data", "Mask rule", "threshold: mask pixels > 127 are crack; nonzero: any value "
        "above 0 (masks stored as 0/1, 0/100, 16-bit or colour)", "threshold", choices=("threshold", "nonzero")),
    Key("max_megapixels", 250.0, "Data", "Largest image (megapixels)", "Largest image or mask read (width x height / "
        "1e6); larger files are refused from their header, before decoding.", "(no limit)", min=0.01, max=100_000.0,
        step=1.0, unit="MP"),
    Key("init_from", "", "Model", "Start from (fine-tune)", "A checkpoint file, or a run folder (its best, else final, "
        "else last checkpoint), whose weights start this run; empty = random initialisation.", "(none)"),
    Key("lambda_mode", "schedule", "Loss", "λ mode", "schedule: the published λ = epoch/epochs over this run's "
        "epochs; constant: λ = lambda_constant every epoch (a short fine-tune).", "schedule",
        choices=("schedule", "constant")),
    Key("lambda_constant", 0.5, "Loss", "Constant λ", "λ for every epoch when lambda_mode = constant "
        "(L = (1-λ)·L_seg + δ·λ·L_cls).", "(unused)", min=0.0, max=1.0, step=0.05),
    Key("save_images", True, "Report", "Save images", "Write one dices/ picture per evaluated sample.", "True"),
    # evaluation (crack metrics, calibration, measurement)
    Key("tolerance_px", 2.0, "Validation", "Tolerance (px)", "Pixel tolerance of the crack precision/recall/F1 "
        "(ODS/OIS): a predicted pixel within this distance of a ground-truth crack pixel counts as a match.",
        "(not reported)", min=0.0, max=20.0, step=0.5, unit="px"),
    Key("calibrate_temperature", False, "Validation", "Calibrate temperature", "Fit a temperature on the validation "
        "split and apply it to the test split's probabilities (calibration plot and ECE).", "(not reported)"),
    Key("width_alarm_mm", 0.3, "Report", "Width alarm (mm)", "Cracks wider than this are flagged in the "
        "measurements (cracks.csv) and the report.", "(not reported)", min=0.0, max=100.0, step=0.05, unit="mm"),
)

KEYS: dict[str, Key] = {k.name: k for k in _KEYS}
"""Every config key by name, in the report's order."""

RESUMABLE_KEYS: tuple[str, ...] = tuple(k.name for k in _KEYS if k.resumable)
"""The keys ``--set`` may change on ``--resume``."""

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
PRESET_TITLES = {"published": "Published run", "quick": "Quick CPU"}


def device_problem(value: str) -> str | None:
    """The device key is free text: auto, cpu, cuda or cuda:N."""
    if value in ("auto", "cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit()):
        return None
    return f"device = {value!r}: use auto, cpu, cuda or cuda:N"


def input_size_warning(height: int, width: int) -> str | None:
    """Why an input size, though valid, cripples the decision branch (its last block would see a single pixel), or
    None. The model warns with it and the GUI's form shows it next to the size fields."""
    if (int(height) // 64) * (int(width) // 64) >= 2:
        return None
    return (f"at {height}x{width} the decision extractor's last block sees a single pixel, so its 32 features are "
            "constant and the classifier only uses the segmentation max/mean; use at least 128 in one dimension "
            "(e.g. 128x64) for a working decision branch")
