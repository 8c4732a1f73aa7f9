"""The evaluation folder: write and read results.csv, samples.npz, metrics.json, source.json and the probability
maps; find an evaluation folder's run and dataset.

Written by ``crack-train eval`` / training (:mod:`trainer.training.evaluate`)::

    results.csv   name,label,score,decision,dice,iou,max_prob,gt_pixels,pred_pixels,segmented
    samples.npz   names, labels (int8), scores (float32), segmented (bool), hist_pos/hist_neg (uint32 [N, 4096]),
                  max_prob (float32)
    probs/<name>.png   8-bit probability map round(p*255) at model input resolution (:func:`paths.prob_png_name`)
    results.csv   + the crack metrics' columns (trainer.metrics.crack_record.RESULTS_COLUMNS, + uncertainty with TTA)
    samples.npz   + the crack metrics' arrays (trainer.metrics.crack_record.SAMPLES_KEYS, + uncertainty with TTA)
    uncertainty/<name>.png   8-bit flip-TTA uncertainty map (with --tta; :func:`paths.uncertainty_png_path`)
    source.json   {run, data, split, checkpoint, temperature, tta} of an evaluation
    metrics.json  written last (its presence means the folder is complete)
"""
from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import cv2
import numpy as np

from trainer.atomic import atomic_write_bytes, atomic_write_text
from trainer.errors import CrackError, DataError
from trainer.runs import paths
from trainer.runs.files import read_json_object, read_text, to_float
from trainer.runs.folder import RunFolder

RESULTS_COLUMNS = ["name", "label", "score", "decision", "dice", "iou", "max_prob", "gt_pixels", "pred_pixels",
                   "segmented"]
_INT_COLUMNS = ("label", "decision", "segmented", "gt_pixels", "pred_pixels")

# Fast PNG settings for probability maps: zlib level 1 with Huffman-only coding is ~2.5x faster than OpenCV's
# default and gives smaller files on typical (mostly dark) probability maps.
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY]


# ----------------------------------------------------------------------------------------------------------------
# writing

def json_clean(v):
    """``v`` with numpy scalars/arrays as Python values and non-finite floats as None (strict JSON)."""
    if isinstance(v, dict):
        return {str(k): json_clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return json_clean(v.tolist())
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    return v


def results_cell(v) -> str:
    """A results.csv cell: floats exactly (repr round-trips a float32 score), None / non-finite empty."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    return str(v)


def write_results(eval_dir: Path, rows: Iterable[Sequence[Any]], extra_columns: Sequence[str] = ()) -> None:
    """results.csv from rows in :data:`RESULTS_COLUMNS` order, then ``extra_columns`` (the crack metrics'
    :data:`trainer.metrics.crack_record.RESULTS_COLUMNS`); cells through :func:`results_cell`."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(RESULTS_COLUMNS + list(extra_columns))
    for row in rows:
        w.writerow([results_cell(c) for c in row])
    atomic_write_text(Path(eval_dir) / paths.RESULTS, buf.getvalue())


def write_samples(eval_dir: Path, **arrays: np.ndarray) -> None:
    """samples.npz (compressed) with the given arrays (names, labels, scores, segmented, hist_pos, hist_neg, ...)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(Path(eval_dir) / paths.SAMPLES, buf.getvalue())


def write_metrics(eval_dir: Path, metrics: dict) -> dict:
    """metrics.json (strict JSON; written last: it marks a complete folder). Returns the cleaned dict."""
    metrics = json_clean(metrics)
    atomic_write_text(Path(eval_dir) / paths.METRICS, json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    return metrics


def write_source(eval_dir: Path, run_dir: Path, data: Path, split: str, checkpoint: str | Path,
                 temperature: dict | None = None, tta: bool = False) -> None:
    """source.json: where an evaluation came from (its run, dataset, split and checkpoint), the temperature applied
    (fitted on validation, :func:`trainer.metrics.calibration.temperature_record`) and whether flip TTA ran."""
    info = {"run": str(Path(run_dir).resolve()), "data": str(Path(data).resolve()), "split": split,
            "checkpoint": str(checkpoint), "temperature": json_clean(temperature), "tta": bool(tta)}
    atomic_write_text(Path(eval_dir) / paths.SOURCE, json.dumps(info, indent=2))


def write_prob_png(path: Path, prob_u8: np.ndarray) -> float:
    """Encode one 8-bit probability map as PNG and write it (renamed into place); returns the seconds spent."""
    t0 = time.perf_counter()
    ok, buf = cv2.imencode(".png", prob_u8, PNG_PARAMS)
    if not ok:
        raise DataError("OpenCV could not encode the probability map", path)
    atomic_write_bytes(path, buf.tobytes(), durable=False)
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------------------------------------------
# reading

def read_prob_png(path: str | Path) -> np.ndarray:
    """An 8-bit map of ``probs/`` or ``uncertainty/`` as H x W uint8 (p = v / 255); DataError naming the file."""
    path = Path(path)
    try:
        buf = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"cannot read the probability map ({exc.strerror or exc})", path) from None
    img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE) if buf.size else None
    if img is None or img.size == 0:
        raise DataError("corrupt probability map: OpenCV cannot decode it", path)
    return img


def load_samples(path: str | Path) -> dict:
    """Read ``samples.npz`` of an evaluation folder (or the file itself) into a dict of arrays."""
    p = Path(path)
    if p.is_dir():
        p = p / paths.SAMPLES
    try:
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataError("no samples.npz here; evaluate the split first", p) from None
    except Exception as exc:  # noqa: BLE001 - zip/format errors come in many types
        raise DataError(f"cannot read the per-sample results ({exc})", p) from None


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """results.csv rows: name (str), label/decision/segmented (int), score/dice/iou/... (float)."""
    path = Path(path)
    text = read_text(path)
    if text is None:
        return []
    rows = []
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "name" not in reader.fieldnames:
        raise DataError("no 'name' column (expected name,label,score,decision,dice,iou)", path)
    for i, raw in enumerate(reader, start=2):
        row: dict[str, Any] = {}
        for k, v in raw.items():
            if k is None or v is None:
                raise DataError(f"line {i}: wrong number of columns", path)
            if k == "name":
                row[k] = v
                continue
            try:
                f = to_float(v)
            except ValueError:
                row[k] = v
                continue
            row[k] = int(f) if k in _INT_COLUMNS \
                and not math.isnan(f) else f
        rows.append(row)
    return rows


def read_eval(eval_dir: str | Path) -> dict[str, Any]:
    """Everything an evaluation folder holds, except the probability maps.

    Returns {"dir", "names" (list[str]), "labels" (int8 [N]), "scores" (float32 [N]), "segmented" (bool [N]),
    "hist_pos", "hist_neg" (uint32 [N, B]), "bins" (B), "metrics" (dict, {} if missing), "results" (list of
    dicts from results.csv, [] if missing), "split"}. DataError (naming the file) when samples.npz is missing or
    inconsistent."""
    d = Path(eval_dir)
    npz_path = d / paths.SAMPLES
    if not npz_path.is_file():
        raise DataError("samples.npz not found: not an evaluation folder (run crack-train eval first)", npz_path)
    arrays = load_samples(npz_path)
    missing = [k for k in ("names", "labels", "scores", "hist_pos", "hist_neg") if k not in arrays]
    if missing:
        raise DataError(f"missing arrays: {', '.join(missing)}", npz_path)
    names = [str(n) for n in arrays["names"].tolist()]
    n = len(names)
    hp, hn = arrays["hist_pos"], arrays["hist_neg"]
    if hp.ndim != 2 or hp.shape != hn.shape or hp.shape[0] != n:
        raise DataError(f"hist_pos {hp.shape} / hist_neg {hn.shape} do not match {n} names", npz_path)
    for k in ("labels", "scores"):
        if arrays[k].shape != (n,):
            raise DataError(f"{k} has shape {arrays[k].shape}, expected ({n},)", npz_path)
    segmented = arrays.get("segmented")
    if segmented is None or segmented.shape != (n,):
        segmented = np.asarray(arrays["labels"]) > 0
    metrics = read_json_object(d / paths.METRICS) or {}
    return {
        "dir": d,
        "names": names,
        "labels": np.asarray(arrays["labels"]).astype(np.int8),
        "scores": np.asarray(arrays["scores"]).astype(np.float32),
        "segmented": np.asarray(segmented).astype(bool),
        "hist_pos": hp.astype(np.uint32, copy=False),
        "hist_neg": hn.astype(np.uint32, copy=False),
        "bins": int(hp.shape[1]),
        "metrics": metrics,
        "results": read_results(d / paths.RESULTS),
        "split": metrics.get("split"),
    }


# ----------------------------------------------------------------------------------------------------------------
# where an evaluation came from

def read_source(eval_dir: str | Path) -> dict:
    """source.json of an evaluation folder, {} when missing or unreadable."""
    try:
        return read_json_object(Path(eval_dir) / paths.SOURCE) or {}
    except CrackError:
        return {}


def find_eval_sources(eval_dir: str | Path, run_dir: str | Path | None = None, data: str | Path | None = None
                      ) -> tuple[RunFolder | None, Path | None, dict]:
    """(run folder or None, dataset path or None, source.json or {}) of an evaluation folder.

    The run: ``run_dir`` if given; the folder itself when it is a run; source.json's ``run``; the run above
    ``<run>/evals/<split>``. The dataset: ``data`` if given; source.json's ``data``; the run's dataset."""
    folder = Path(eval_dir)
    source = read_source(folder)
    run = None
    if run_dir is not None:
        run = RunFolder(run_dir)
    elif paths.is_run_dir(folder):
        run = RunFolder(folder)
    elif source.get("run") and Path(source["run"]).is_dir():
        run = RunFolder(source["run"])
    elif folder.parent.name == paths.EVALS and paths.is_run_dir(folder.parent.parent):
        run = RunFolder(folder.parent.parent)
    d = None
    if data is not None:
        d = Path(data)
    elif source.get("data"):
        d = Path(source["data"])
    elif run is not None:
        try:
            d = run.data_path
        except CrackError:
            d = None
    return run, d, source
