"""The training form's table of keys (Qt-free): for every config key the title, group, help text, published value,
default, kind of field, choices and range. `ConfigForm` is built from this table only.

Today the table is assembled from `trainer.config` (DEFAULTS, KEY_DOCS, REPORT_NAMES, the choices) plus the
field ranges below; once `trainer.schema` exists, `form_keys()` reads everything from it and the ranges here go."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trainer import config as tc

GROUP_ORDER = ["Optimisation", "Loss", "Sampling", "Model", "Data", "Validation", "Report", "Run"]
OWN_WIDGETS = {"device", "precision"}   # shown in the Run box, not in the generic groups

# waiting for trainer.schema (min/max per key)
INT_RANGES = {
    "batch_size": (1, 4096), "epochs": (1, 100_000), "dilate": (1, 99), "validation_n_epochs": (1, 10_000),
    "dice_threshold_factor": (1, 64), "num_segmented": (-1, 10_000_000), "input_height": (64, 8192),
    "input_width": (64, 8192), "seed": (0, 2_147_483_647), "grad_accumulation": (1, 1024), "num_workers": (0, 64),
}
FLOAT_RANGES = {"learning_rate": (1e-7, 100.0), "delta_cls_loss": (0.0, 100.0), "weighted_seg_loss_p": (0.0, 20.0),
                "weighted_seg_loss_max": (0.0, 1000.0), "val_fraction": (0.01, 0.9)}
# waiting for trainer.schema (title per key): the form's titles where the report's name does not fit
TITLES = {"weighted_seg_loss_p": "Weighted seg. loss p", "weighted_seg_loss_max": "Weighted seg. loss max",
          "num_segmented": "Segmented samples", "validation_n_epochs": "Validate every N epochs",
          "input_height": "Input height", "input_width": "Input width", "grad_accumulation": "Gradient accumulation",
          "num_workers": "Data-loader workers", "val_fraction": "Val fraction", "skip_bad_samples": "Skip bad samples",
          "save_images": "Save Dice pictures", "decision_pooling": "Decision pooling"}
FIELD_STYLE = {"input_height": (8, " px", ""), "input_width": (8, " px", ""),
               "num_segmented": (1, "", "all positives")}   # key: (step, suffix, text shown at the minimum)


@dataclass(frozen=True)
class FormKey:
    key: str
    title: str
    group: str
    help: str
    published: str
    default: Any
    kind: str                       # "choice" | "bool" | "int" | "float" | "text"
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    suffix: str = ""
    special_text: str = ""          # shown instead of the minimum value (e.g. "all positives")

    @property
    def tooltip(self) -> str:
        return (f"<b>{self.key}</b> — {self.help}<br><br>Published run: <b>{self.published}</b><br>"
                f"Default here: <tt>{self.default}</tt>")


def _kind(key: str, default: Any) -> str:
    if key in tc._CHOICES:
        return "choice"
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    return "float" if isinstance(default, float) else "text"


def form_key(key: str) -> FormKey:
    default = tc.DEFAULTS[key]
    group, doc, published = tc.KEY_DOCS.get(key, ("Other", "", ""))
    kind = _kind(key, default)
    lo = hi = step = None
    if kind == "int":
        lo, hi = INT_RANGES.get(key, (-1_000_000, 1_000_000))
        step = 1
    elif kind == "float":
        lo, hi = FLOAT_RANGES.get(key, (-1e9, 1e9))
        step = 0.01 if hi <= 1 else 0.1
    step, suffix, special = FIELD_STYLE.get(key, (step, "", ""))
    title = TITLES.get(key) or tc.REPORT_NAMES.get(key) or key.replace("_", " ").capitalize()
    return FormKey(key, title, group, doc, published, default, kind, tuple(tc._CHOICES.get(key, ())), lo, hi, step,
                   suffix, special)


def form_keys() -> dict[str, list[FormKey]]:
    """{group: [FormKey, ...]} in the form's order (GROUP_ORDER first, then any other group)."""
    by_group: dict[str, list[FormKey]] = {}
    for key in tc.DEFAULTS:
        if key not in OWN_WIDGETS:
            fk = form_key(key)
            by_group.setdefault(fk.group, []).append(fk)
    order = [g for g in GROUP_ORDER if g in by_group] + [g for g in by_group if g not in GROUP_ORDER]
    return {g: by_group[g] for g in order}
