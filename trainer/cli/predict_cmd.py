"""crack-train predict: binary masks and crack scores for new images, at the run's thresholds."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from trainer.datasets.images import read_image
from trainer.datasets.records import IMAGE_EXTS
from trainer.errors import DataError
from trainer.predict_names import prob_name
from trainer.runs.thresholds import run_thresholds
from trainer.training.predict import load_run_model, predict_image

PREDICTIONS = "predictions.csv"


def _inputs(items: list[str]) -> list[Path]:
    found: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTS and not q.stem.endswith("_GT")))
        elif p.is_file():
            found.append(p)
        else:
            raise DataError("no such image or folder", p)
    if not found:
        raise DataError("no images found (looked for " + ", ".join(sorted(IMAGE_EXTS)) + ")", items[0])
    return found


def run(args) -> int:
    run_dir = Path(args.run)
    model, cfg, hw, device, precision, ckpt = load_run_model(run_dir, args.checkpoint, args.device)
    thr = run_thresholds(run_dir)
    seg_thr = args.seg_threshold if args.seg_threshold is not None else thr["seg_threshold"]
    img_thr = args.image_threshold if args.image_threshold is not None else thr["image_threshold"]
    gated = args.gate or bool(thr.get("gated"))
    images = _inputs(args.inputs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"predicting {len(images)} image(s) with {ckpt} (seg threshold {seg_thr:.4f}, image threshold "
          f"{img_thr:.4f}{', gated' if gated else ''}; from "
          f"{thr['source'] if args.seg_threshold is None else '--seg-threshold'})", file=sys.stderr)
    rows = []
    for p in images:
        score, prob = predict_image(model, read_image(p), hw, device, precision)
        decision = int(score >= img_thr)
        mask = (prob >= seg_thr).astype(np.uint8) * 255
        if gated and not decision:
            mask[:] = 0
        out_name = f"{p.stem}_mask.png"
        if not cv2.imwrite(str(out / out_name), mask):
            raise DataError("could not write the mask (disk full or no permission?)", out / out_name)
        if getattr(args, "probs", False):
            prob_out = out / prob_name(out_name)
            if not cv2.imwrite(str(prob_out), np.clip(np.round(prob * 255), 0, 255).astype(np.uint8)):
                raise DataError("could not write the probability map (disk full or no permission?)", prob_out)
        rows.append(dict(image=str(p), mask=out_name, score=f"{score:.6f}", decision=decision,
                         crack_pixels=int((mask > 0).sum())))
    with open(out / PREDICTIONS, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} mask(s) and {out / PREDICTIONS}")
    return 0
