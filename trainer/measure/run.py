"""Measure the cracks of a folder: binary masks, an evaluation folder's probability maps, or ``predict`` output.

The command line this serves (:mod:`trainer.cli.measure_cmd`)::

    crack-train measure RUN|EVAL_DIR|PREDICT_DIR|MASKS_DIR [--threshold T] [--scale MM_PER_PX] [--alarm-mm W]
                        [--alarm-px W] [--data DATASET] [--split test] --out DIR
    crack-train predict RUN IMAGES... --out DIR --measure [--scale MM_PER_PX] [--alarm-mm W] [--alarm-px W]

* ``MASKS_DIR``: every image file is a mask (pixel > 127 = crack), named by its file stem.
* ``PREDICT_DIR``: ``predictions.csv`` + ``<stem>_mask.png`` from ``predict``; named by the input image's stem.
* ``EVAL_DIR``: ``probs/<name>.png`` (8-bit, p = v / 255) at the threshold ``T`` (default: the ``seg_threshold``
  of the threshold rule, :mod:`trainer.runs.thresholds`), applied with the bin-edge rule of
  ``trainer.metrics`` (``p >= ceil(T*B)/B``).
  When the samples' image and mask files are known (``samples=``), each map is first resized to its image's size
  (bilinear, as ``predict`` does) so that lengths are in image pixels, and the predicted cracks are matched with
  the ground-truth cracks: ``accuracy.json`` and ``crack_pairs.csv`` are written too.
* ``RUN``: its ``evals/<split>`` evaluation folder.

Outputs (``export``): ``cracks.csv``, ``images.csv``, ``cracks.geojson`` (+ accuracy files), in ``--out``.
``alarm`` (``export.WidthAlarm``) flags cracks wider than ``--alarm-mm`` (default ``DEFAULT_ALARM_MM``) in images
with a scale, and wider than ``--alarm-px`` (default: no flag) in images without one.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import cv2
import numpy as np

from trainer.atomic import atomic_write_text
from trainer.datasets.images import read_image, read_mask
from trainer.errors import DataError
from trainer.metrics import pixels as metrics_pixels
from trainer.runs import paths
from trainer.runs.evaluation import find_eval_sources, read_prob_png
from trainer.runs.thresholds import run_thresholds
from trainer.schema import KEYS
from trainer.measure import export
from trainer.measure.export import WidthAlarm
from trainer.measure.geometry import ImageGeometry, MIN_AREA_PX, measure_mask
from trainer.measure.match import ImageMatch, accuracy, match_cracks
from trainer.measure.scale import Scale, load_scale

__all__ = ["measure_folder", "measure_masks_dir", "measure_predict_dir", "measure_eval_dir", "prob_mask",
           "read_mask_file", "MeasureSummary", "ACCURACY_JSON", "PAIRS_CSV", "DEFAULT_ALARM_MM"]

MASK_EXTS = {".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg", ".webp"}
ACCURACY_JSON = paths.ACCURACY_JSON
PAIRS_CSV = paths.PAIRS_CSV
DEFAULT_ALARM_MM = KEYS["width_alarm_mm"].default      # repair limit of common inspection standards
PAIR_COLUMNS = ["image", "pred_cracks", "gt_cracks", "score", "pred_length_px", "gt_length_px",
                "pred_width_max_px", "gt_width_max_px", "mm_per_px"]


@dataclass
class MeasureSummary:
    out_dir: Path
    files: dict[str, Path]
    n_images: int
    n_cracks: int
    unit: str                                   # "mm", "px" or "mixed"
    accuracy: dict | None = None
    notes: list[str] = field(default_factory=list)


def read_mask_file(path: str | Path) -> np.ndarray:
    """A mask file as H x W bool: pixel > 127 is crack (the dataset masks' rule, :func:`read_mask`)."""
    return read_mask(path).astype(bool)


def _gray_shape(path: Path) -> tuple[int, int]:
    return read_image(path).shape[:2]


def prob_mask(prob_u8: np.ndarray, threshold: float) -> np.ndarray:
    """Crack pixels of an 8-bit probability map (p = v / 255) at ``threshold``: ``bin(p) >= threshold_to_bin(t)``,
    the rule the evaluation's Dice uses."""
    k = metrics_pixels.threshold_to_bin(threshold)
    p = np.arange(256, dtype=np.float64) / 255.0
    lut = np.minimum((p * metrics_pixels.B).astype(np.int64), metrics_pixels.B - 1) >= k
    return lut[prob_u8]


def _as_scale(scale) -> Scale:
    if isinstance(scale, Scale):
        return scale
    return load_scale(None, scale)


def _write(out_dir: Path, items: list, alarm: WidthAlarm | None, matches: list[ImageMatch] | None,
           notes: list[str]) -> MeasureSummary:
    files = export.write_measurements(out_dir, items, alarm)
    acc = None
    if matches is not None:
        acc = accuracy(matches)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(PAIR_COLUMNS)
        for m in matches:
            for p in m.pairs:
                ids = " ".join(map(str, p.pred_ids)), " ".join(map(str, p.gt_ids))
                w.writerow([p.image, *ids, f"{p.score:.4f}", f"{p.pred_length:.3f}",
                            f"{p.gt_length:.3f}", f"{p.pred_width_max:.3f}", f"{p.gt_width_max:.3f}",
                            "" if p.mm_per_px is None else repr(p.mm_per_px)])
        atomic_write_text(out_dir / PAIRS_CSV, buf.getvalue())
        atomic_write_text(out_dir / ACCURACY_JSON, json.dumps(acc, indent=2))
        files.update(pairs=out_dir / PAIRS_CSV, accuracy=out_dir / ACCURACY_JSON)
    units = {export.UNIT_MM if mm is not None else export.UNIT_PX for _, _, mm, _ in items}
    unit = units.pop() if len(units) == 1 else ("mixed" if units else export.UNIT_PX)
    return MeasureSummary(out_dir, files, len(items), sum(g.n_cracks for _, g, _, _ in items), unit, acc, notes)


def _measure_files(named: list[tuple[str, Path]], read: Callable[[Path], np.ndarray], out_dir, scale, alarm,
                   min_area) -> MeasureSummary:
    scale = _as_scale(scale)
    items = []
    for name, path in named:
        geom = measure_mask(read(path), min_area=min_area)
        items.append((name, geom, scale.mm_per_px(name), path.name))
    return _write(Path(out_dir), items, alarm, None, [])


def measure_masks_dir(masks_dir, out_dir, *, scale=None, alarm: WidthAlarm | None = None,
                      min_area: int = MIN_AREA_PX) -> MeasureSummary:
    """Every image file of ``masks_dir`` is a mask; samples are named by file stem."""
    d = Path(masks_dir)
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in MASK_EXTS and p.is_file())
    if not files:
        raise DataError("no mask images here (looked for " + ", ".join(sorted(MASK_EXTS)) + ")", file=d)
    return _measure_files([(p.stem, p) for p in files], read_mask_file, out_dir, scale, alarm, min_area)


def measure_predict_dir(pred_dir, out_dir, *, scale=None, alarm: WidthAlarm | None = None,
                        min_area: int = MIN_AREA_PX) -> MeasureSummary:
    """``predict`` output: rows of ``predictions.csv`` (image, mask); samples are named by the image's stem."""
    d = Path(pred_dir)
    table = d / "predictions.csv"
    try:
        rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
    except OSError as exc:
        raise DataError(f"cannot read ({exc.strerror or exc})", file=table) from None
    if not rows or "image" not in rows[0] or "mask" not in rows[0]:
        raise DataError("expected the columns image and mask written by crack-train predict", file=table)
    named = [(Path(r["image"]).stem, d / r["mask"]) for r in rows]
    return _measure_files(named, read_mask_file, out_dir, scale, alarm, min_area)


def _eval_names(eval_dir: Path) -> list[str]:
    table = eval_dir / paths.RESULTS
    if table.is_file():
        rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
        if rows and "name" in rows[0]:
            return [r["name"] for r in rows]
    return sorted(p.stem for p in (eval_dir / paths.PROBS).glob("*.png"))


def _eval_threshold(eval_dir: Path) -> float:
    """The seg threshold of an evaluation folder by THE threshold rule (:func:`trainer.runs.thresholds.run_thresholds`:
    thresholds.json, else the validation's, else the evaluation's)."""
    run, _, _ = find_eval_sources(eval_dir)
    return float(run_thresholds(eval_dir, run.path if run is not None else None)["seg_threshold"])


def measure_eval_dir(eval_dir, out_dir, *, threshold: float | None = None, scale=None,
                     alarm: WidthAlarm | None = None,
                     samples: Mapping[str, tuple[Path, Path | None]] | None = None,
                     min_area: int = MIN_AREA_PX) -> MeasureSummary:
    """Measure ``probs/<name>.png`` at ``threshold``. ``samples``: name -> (image file, ground-truth mask file or
    None): maps are resized to the image size, and predicted cracks are matched with the ground truth's."""
    d = Path(eval_dir)
    if not (d / paths.PROBS).is_dir():
        raise DataError("no probs/ folder: evaluate with probability maps first", file=d)
    t = float(threshold) if threshold is not None else _eval_threshold(d)
    scale = _as_scale(scale)
    items, matches, notes = [], ([] if samples else None), [f"threshold {t:g}"]
    for name in _eval_names(d):
        path = paths.prob_png_path(d, name)
        if not path.is_file():
            continue
        prob = read_prob_png(path)
        rec = samples.get(name) if samples else None
        gt = None
        if rec is not None:
            img_path, mask_path = rec
            gt = read_mask_file(mask_path) if mask_path is not None and Path(mask_path).is_file() else None
            hw = gt.shape if gt is not None else _gray_shape(Path(img_path))
            if prob.shape != hw:
                prob = cv2.resize(prob, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR)
        elif scale.mm_per_px(name) is not None:
            raise DataError(f"sample {name!r} has a scale but its image size is unknown (the probability map is at "
                            "model resolution); pass the dataset (--data)", file=path)
        mask = prob_mask(prob, t)
        mmpp = scale.mm_per_px(name)
        if gt is not None:
            m = match_cracks(mask, gt, image=name, mm_per_px=mmpp, min_area=min_area)
            matches.append(m)
            geom: ImageGeometry = m.pred
        else:
            geom = measure_mask(mask, min_area=min_area)
        items.append((name, geom, mmpp, path.name))
    if not items:
        raise DataError("no probability maps of the evaluated samples in probs/", file=d)
    if samples is None:
        notes.append("measured at the probability maps' resolution (no dataset given)")
    return _write(Path(out_dir), items, alarm, matches, notes)


def _find_eval(run: Path, split: str) -> Path:
    d = paths.eval_dir(run, split)
    if not (d / paths.PROBS).is_dir():
        raise DataError(f"no evaluation of split {split!r} with probability maps here; run crack-train eval first",
                        file=d)
    return d


def measure_folder(path, out_dir, *, threshold: float | None = None, scale=None, alarm: WidthAlarm | None = None,
                   samples: Mapping[str, tuple[Path, Path | None]] | None = None, split: str = "test",
                   min_area: int = MIN_AREA_PX) -> MeasureSummary:
    """Measure whatever ``path`` is: a run folder (its ``evals/<split>``), an evaluation folder, ``predict`` output
    or a folder of masks. ``scale``: a :class:`Scale`, a number of mm per pixel, or None (pixels)."""
    p = Path(path)
    if not p.is_dir():
        raise DataError("no such folder", file=p)
    if (p / paths.EVALS).is_dir() and not (p / paths.PROBS).is_dir():
        p = _find_eval(p, split)
    if (p / paths.PROBS).is_dir():
        return measure_eval_dir(p, out_dir, threshold=threshold, scale=scale, alarm=alarm, samples=samples,
                                min_area=min_area)
    if (p / "predictions.csv").is_file():
        return measure_predict_dir(p, out_dir, scale=scale, alarm=alarm, min_area=min_area)
    return measure_masks_dir(p, out_dir, scale=scale, alarm=alarm, min_area=min_area)
