"""Export what the inspection window shows: per-sample CSV, binary mask PNGs, and the chosen thresholds.

Qt-free. ``save_thresholds`` writes ``RUN/thresholds.json`` with the keys ``crack-train predict`` reads
(``seg_threshold``, ``image_threshold``, ``gated``), atomically.
"""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from crackviewer.inspect.sample_store import SampleStore
from crackviewer.inspect.threshold_model import ThresholdModel
from trainer.metrics import pixels as metrics_pixels
from trainer.atomic import atomic_write_bytes
from trainer.errors import DataError
from trainer.runs import paths

CSV_COLUMNS = ["name", "label", "score", "decision", "outcome", "dice", "iou", "gt_pixels", "pred_pixels",
               "tp_pixels", "fp_pixels", "segmented", "gated_out", "seg_threshold", "image_threshold", "gated"]


def _atomic_write(path: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(Path(path), data)
    except OSError as exc:
        raise DataError(f"cannot write ({exc.strerror or exc})", path) from None


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, float):
        return f"{v:.6f}"
    return str(v)


def results_csv_text(model: ThresholdModel, indices: Iterable[int] | None = None) -> str:
    """Per-sample results at the model's current thresholds (and gating), as CSV text."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for info in model.rows(indices):
        w.writerow([_fmt(info["name"]), info["label"], _fmt(info["score"]), info["decision"], info["outcome"],
                    _fmt(info["dice"]), _fmt(info["iou"]), info["gt_pixels"], info["pred_pixels"],
                    info["tp_pixels"], info["fp_pixels"], int(info["segmented"]), int(info["gated_out"]),
                    _fmt(model.seg_threshold), _fmt(model.image_threshold), int(model.gated)])
    return buf.getvalue()


def export_results_csv(model: ThresholdModel, path: str | Path, indices: Iterable[int] | None = None) -> Path:
    """Write the per-sample CSV (all samples, or ``indices`` e.g. the gallery's filtered order)."""
    path = Path(path)
    _atomic_write(path, results_csv_text(model, indices).encode("utf-8"))
    return path


def predicted_mask(prob8: np.ndarray, seg_bin: int, out_hw: tuple[int, int] | None = None) -> np.ndarray:
    """Binary mask (uint8 0/255) of an 8-bit probability map at bin edge ``seg_bin``.

    At the map's own resolution (``out_hw=None``) a pixel is crack when ``bin(v/255) >= seg_bin`` (the histogram
    rule). At another resolution the map is resized bilinearly first and compared with ``seg_bin / B``, as
    ``crack-train predict`` does with its full-resolution masks.
    """
    if out_hw is None or tuple(out_hw) == prob8.shape[:2]:
        return (metrics_pixels.prob_to_bin(prob8.astype(np.float64) / 255.0) >= seg_bin).astype(np.uint8) * 255
    h, w = int(out_hw[0]), int(out_hw[1])
    p = cv2.resize(prob8.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_LINEAR)
    return (p >= metrics_pixels.bin_to_threshold(seg_bin)).astype(np.uint8) * 255


def export_masks(model: ThresholdModel, store: SampleStore, out_dir: str | Path, *, resolution: str = "image",
                 indices: Iterable[int] | None = None,
                 progress: Callable[[int, int], bool | None] | None = None) -> dict:
    """Write ``<out_dir>/<name>.png`` (0 = background, 255 = crack) for each sample at the current thresholds.

    ``resolution``: ``"image"`` (the original image size, like ``crack-train predict``) or ``"model"`` (the
    evaluation's map size). Samples blanked by gating get an all-zero mask. ``progress(done, total)`` may return
    False to cancel. Returns ``dict(written, skipped, out_dir, problems)``.
    """
    if resolution not in ("image", "model"):
        raise ValueError(f"resolution must be 'image' or 'model', got {resolution!r}")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the folder ({exc.strerror or exc})", out) from None
    idx = list(range(model.n) if indices is None else indices)
    written, problems = 0, []
    for j, i in enumerate(idx):
        prob = store.prob8(i)
        name = model.names[i]
        if prob is None:
            problems.append(f"{name}: no probability map")
        else:
            hw = None
            if resolution == "image":
                rec = store.record(i)
                if rec is not None:
                    img = cv2.imread(str(rec.image_path), cv2.IMREAD_GRAYSCALE)
                    if img is not None:
                        hw = img.shape[:2]
                if hw is None:
                    problems.append(f"{name}: image not found, mask written at the model's resolution")
            mask = predicted_mask(prob, model.seg_bin, hw)
            if model.mask_blanked(i):
                mask[:] = 0
            ok, buf = cv2.imencode(".png", mask)
            if not ok:
                raise DataError("OpenCV could not encode the mask", out / paths.prob_png_name(name))
            _atomic_write(out / paths.prob_png_name(name), buf.tobytes())
            written += 1
        if progress is not None and progress(j + 1, len(idx)) is False:
            break
    return dict(written=written, skipped=len(idx) - written, out_dir=out, problems=problems)


def thresholds_payload(model: ThresholdModel) -> dict:
    ev = model.evaluation
    return {
        "seg_threshold": model.seg_threshold,
        "image_threshold": float(model.image_threshold),
        "gated": bool(model.gated),
        "seg_threshold_bin": int(model.seg_bin),
        "chosen_on": ev.split if ev is not None else None,
        "evaluation": str(ev.dir) if ev is not None else None,
        "dice_mean": model.stats.get("dice_mean"),
        "saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "by": "crackviewer inspect",
    }


def save_thresholds(model: ThresholdModel, run_dir: str | Path | None = None) -> Path:
    """Write ``thresholds.json`` into the run folder (default: the evaluation's run). ``crack-train predict`` then
    uses ``seg_threshold``, ``image_threshold`` and ``gated``."""
    ev = model.evaluation
    if run_dir is None:
        run_dir = ev.run_dir if ev is not None else None
    if run_dir is None:
        raise DataError("this evaluation belongs to no run folder: choose where to save thresholds.json",
                        ev.dir if ev is not None else None)
    path = Path(run_dir) / paths.THRESHOLDS
    _atomic_write(path, (json.dumps(thresholds_payload(model), indent=2) + "\n").encode("utf-8"))
    return path


VALIDATION_SPLITS = ("val", "valid", "validation")


def leakage_warning(model: ThresholdModel) -> str | None:
    """A warning when the thresholds about to be saved for ``predict`` were chosen on a split that is not the
    validation split (e.g. the test split): reported test scores at those thresholds are then optimistic."""
    ev = model.evaluation
    split = (ev.split if ev is not None else None) or "unknown"
    if split.lower() in VALIDATION_SPLITS:
        return None
    return (f"These thresholds were chosen while looking at the {split!r} split. Saving them for predict "
            f"leaks that split into the model: its scores at these thresholds are no longer an honest estimate. "
            f"Choose thresholds on the validation split (open evals/val) or use the Validation presets.")
