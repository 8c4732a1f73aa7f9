"""losses.csv and validation.csv of a run folder: their columns, appending a row, truncating on resume, reading."""
from __future__ import annotations

import csv
import math
from pathlib import Path

from trainer.runs import paths
from trainer.runs.files import read_numeric_csv

LOSS_COLUMNS = ["epoch", "loss_seg", "loss_dec", "loss", "correct", "total", "lambda_seg", "lambda_dec", "seconds"]
VALIDATION_COLUMNS = ["epoch", "auc", "ap", "ap_sklearn", "threshold", "f_measure", "tp", "fp", "fn", "tn",
                      "seg_threshold", "dice_mean", "dice_std", "iou_mean", "iou_std",
                      "val_loss_seg", "val_loss_dec", "val_loss", "is_best"]


def _cell(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    if v is None:
        return ""
    return v


def append_row(path: Path, columns: list[str], row: dict) -> None:
    """Append one row (header first when the file is new); floats with 6 significant digits, None empty."""
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow({k: _cell(row.get(k)) for k in columns})


def truncate_rows(path: Path, max_epoch: int) -> list[dict]:
    """Keep the rows of epochs <= max_epoch (on resume, rows of an interrupted epoch are dropped)."""
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    keep = [r for r in rows if r.get("epoch") and int(r["epoch"]) <= max_epoch]
    if len(keep) != len(rows) and rows:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(keep)
    return keep


def validation_row(epoch: int, v: dict, is_best: bool) -> dict:
    """The validation.csv row of one validation result (``compute_validation``'s dict)."""
    row = {"epoch": epoch, "is_best": int(is_best)}
    for col in VALIDATION_COLUMNS:
        if col in ("epoch", "is_best"):
            continue
        key = col
        if col == "threshold":
            key = "threshold" if "threshold" in v else "best_threshold"
        row[col] = v.get(key)
    return row


def validation_rows(run_dir: str | Path) -> list[dict]:
    """validation.csv as numbers, with empty cells as None (undefined metrics)."""
    return [{k: (None if math.isnan(v) else v) for k, v in row.items()}
            for row in read_numeric_csv(Path(run_dir) / paths.VALIDATION)]


def best_validation_row(run_dir: str | Path) -> dict | None:
    """The last row marked ``is_best`` (the epoch whose weights are best.pth), or None."""
    rows = [r for r in validation_rows(run_dir) if r.get("is_best") == 1]
    return rows[-1] if rows else None


def last_validation_row(run_dir: str | Path) -> dict | None:
    rows = validation_rows(run_dir)
    return rows[-1] if rows else None
