"""THE threshold rule: which segmentation and image thresholds a run (or one of its evaluations) uses.

``predict``, ``eval``, the review queue and the threshold window all ask :func:`run_thresholds`. Each threshold is
taken from the first of these that has it:

1. ``thresholds.json`` of the evaluation folder, else of its run (chosen and saved in the GUI); also ``gated``;
2. the thresholds chosen on validation ("honest"): the ``honest`` block of ``metrics.json``, else the best
   row of the run's ``validation.csv`` (``threshold`` and ``seg_threshold`` of the best epoch);
3. ``metrics.json`` itself: ``seg_threshold``; for the image, ``decision_threshold`` then ``best_threshold``;
4. :data:`DEFAULT_THRESHOLD` (0.5).

Every value must be a finite number in [0, 1]; ``thresholds.json`` with another value is refused with a
ConfigError naming the file (the other sources are written by the trainer and only skipped when odd).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from trainer.errors import ConfigError
from trainer.metrics.image import DEFAULT_THRESHOLD
from trainer.runs import paths
from trainer.runs.curves import best_validation_row
from trainer.runs.files import read_json_object

KEYS = ("seg_threshold", "image_threshold")


def valid_threshold(v: Any) -> bool:
    """A finite number in [0, 1] (booleans are not numbers here)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0.0 <= v <= 1.0


def honest_thresholds(run_dir: str | Path) -> dict | None:
    """Thresholds chosen on validation at the best epoch (validation.csv), or None without validation."""
    row = best_validation_row(run_dir)
    if row is None:
        return None
    return dict(image_threshold=row.get("threshold"), seg_threshold=row.get("seg_threshold"))


def chosen_thresholds(folder: str | Path, run_dir: str | Path | None = None) -> tuple[dict, Path | None]:
    """thresholds.json of ``folder``, else of ``run_dir``: (its dict, its path), ({}, None) when neither exists.
    A value out of [0, 1] raises ConfigError naming the file."""
    for d in (folder, run_dir):
        if d is None:
            continue
        p = Path(d) / paths.THRESHOLDS
        data = read_json_object(p)
        if data is None:
            continue
        for k in KEYS:
            if data.get(k) is not None and not valid_threshold(data[k]):
                raise ConfigError(f"{k} = {data[k]!r} must be a number between 0 and 1", p)
        return data, p
    return {}, None


def run_thresholds(folder: str | Path, run_dir: str | Path | None = None) -> dict:
    """The thresholds of a run folder or evaluation folder (``run_dir``: its run, when it is an evaluation
    folder elsewhere). Returns ``{seg_threshold, image_threshold, gated, seg_source, image_source, source}``;
    ``source`` names where the segmentation threshold came from (see the module docstring for the rule)."""
    folder = Path(folder)
    run_dir = Path(run_dir) if run_dir is not None else (folder if paths.is_run_dir(folder) else None)
    chosen, chosen_path = chosen_thresholds(folder, run_dir)
    metrics = read_json_object(folder / paths.METRICS) or {}
    honest = metrics.get("honest") or (honest_thresholds(run_dir) if run_dir is not None else None) or {}
    sources = [
        (paths.THRESHOLDS, {k: chosen.get(k) for k in KEYS}),
        ("chosen on validation", {k: honest.get(k) for k in KEYS}),
        (paths.METRICS, {"seg_threshold": metrics.get("seg_threshold"),
                          "image_threshold": metrics.get("decision_threshold", metrics.get("best_threshold"))}),
    ]
    out: dict[str, Any] = {"gated": bool(chosen.get("gated", False)) if chosen_path else False}
    for k in KEYS:
        out[k], out[k.replace("threshold", "source")] = DEFAULT_THRESHOLD, "default 0.5"
        for name, values in sources:
            if valid_threshold(values[k]):
                out[k], out[k.replace("threshold", "source")] = float(values[k]), name
                break
    out["source"] = out["seg_source"]
    return out


def reference_seg_threshold(run_dir: str | Path) -> float:
    """The segmentation threshold of the run's reference operating point (the last validation's, as the run's test
    evaluation applied it: metrics.json ``seg_threshold``), for evaluating other splits the same way; without
    metrics.json, :func:`run_thresholds`'s."""
    metrics = read_json_object(Path(run_dir) / paths.METRICS) or {}
    seg = metrics.get("seg_threshold")
    return float(seg) if valid_threshold(seg) else run_thresholds(run_dir)["seg_threshold"]
