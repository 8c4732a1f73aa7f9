"""The split-wide crack metrics Inspect shows beside the slider's numbers (Qt-free): ODS and OIS F1, pixel AP,
clDice, ECE and the temperature, read from ``metrics.json`` (``trainer.metrics.crack_record.METRICS_KEYS``) or,
for an evaluation whose ``metrics.json`` predates them, computed once from ``samples.npz`` by the same code."""
from __future__ import annotations

from trainer.metrics import crack_record
from trainer.metrics import pixels as metrics_pixels
from trainer.metrics import tolerance as metrics_tolerance

SplitMetrics = dict
"""``{ods_f1, ods_threshold, ois_f1, pixel_ap, cldice_mean, tolerance_px, ece_image, ece_pixel, temperature,
computed}`` (``computed``: True when not read from metrics.json)."""


def split_summary(ev, valid) -> SplitMetrics:
    m = ev.metrics or {}
    if m.get("ods_f1") is not None or m.get("ois_f1") is not None:
        out = {k: m.get(k) for k in crack_record.METRICS_KEYS}
        out["computed"] = False
        return out
    seg = m.get("seg_threshold")
    k = metrics_pixels.threshold_to_bin(seg if seg is not None else 0.5)
    cl = m.get("cldice_threshold", seg)
    tol = m.get("tolerance_px", metrics_tolerance.TOLERANCE_PX)
    full = crack_record.split_metrics(ev.samples_dict(), k, tol, cl, valid=valid)
    out = {key: full.get(key) for key in crack_record.METRICS_KEYS}
    out["computed"] = True
    return out
