"""The thresholds an evaluation opens with and the ones its reset buttons offer (Qt-free).

The opening thresholds are :func:`trainer.runs.thresholds.run_thresholds` (THE threshold rule, the same answer as
``crack-train predict`` and the review queue). The "Validation" buttons offer the thresholds chosen on validation
(:func:`trainer.runs.thresholds.honest_thresholds`); the "Test-optimal" ones the best of this split.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainer.errors import CrackError
from trainer.metrics import image as metrics_image
from trainer.metrics import pixels as metrics_pixels
from trainer.runs.thresholds import honest_thresholds, run_thresholds, valid_threshold


@dataclass(frozen=True)
class Preset:
    """A threshold a reset button offers: its value and where it comes from."""

    value: float
    source: str


def make_presets(ev, labels, scores, hp_total, hn_total) -> dict[str, Preset]:
    """Reset targets ``seg_validation, seg_optimal, image_validation, image_optimal`` of an evaluation."""
    m = ev.metrics or {}
    split = ev.split or "this split"
    out: dict[str, Preset] = {}
    t_opt, _ = metrics_pixels.seg_threshold_pr(hp_total, hn_total)
    out["seg_optimal"] = (Preset(float(t_opt), f"best pixel F1 on {split}") if t_opt is not None else
                          Preset(metrics_image.DEFAULT_THRESHOLD, "default 0.5 (no crack pixels in this split)"))
    best = m.get("best_threshold")
    if best is None:
        best = metrics_image.image_metrics(labels, scores)["best_threshold"]
    out["image_optimal"] = (Preset(float(best), f"best F on {split}") if best is not None else
                            Preset(metrics_image.DEFAULT_THRESHOLD, "default 0.5 (one-class split)"))
    honest = m.get("honest") or None
    if honest is None and ev.run_dir is not None:
        try:
            honest = honest_thresholds(ev.run_dir)
        except CrackError:
            honest = None
    honest = honest or {}
    for kind, key in (("seg", "seg_threshold"), ("image", "image_threshold")):
        v = honest.get(key)
        if valid_threshold(v):
            out[f"{kind}_validation"] = Preset(float(v), "chosen on validation")
        else:
            o = out[f"{kind}_optimal"]
            out[f"{kind}_validation"] = Preset(o.value, o.source + " (no validation threshold recorded)")
    return out


def opening_thresholds(ev, presets: dict[str, Preset]) -> tuple[float, float, bool, str]:
    """(seg, image, gated, where the seg threshold came from) an evaluation opens with: the threshold rule for a
    folder on disk, the validation presets for an in-memory evaluation."""
    if not ev.on_disk:
        return presets["seg_validation"].value, presets["image_validation"].value, False, presets[
            "seg_validation"].source
    t = run_thresholds(ev.dir, ev.run_dir)
    return float(t["seg_threshold"]), float(t["image_threshold"]), bool(t["gated"]), str(t["source"])


def clean(v) -> float | None:
    """A finite float or None."""
    if v is None:
        return None
    f = float(v)
    return f if np.isfinite(f) else None
