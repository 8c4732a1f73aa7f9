"""Render a run's / an evaluation's report figures offscreen (no display needed), with the figures package's plot code (the app uses the same).

    python -m figures.render RUN_OR_EVAL_DIR [--run RUN_DIR] [--data DATASET] [--no-dices] [--max-dices N]

Writes into RUN_OR_EVAL_DIR: ROC.png, precision-recall.png (curves computed from samples.npz with sklearn, the
operating points marked), loss.png, loss_seg.png, loss_dec.png, loss_val.png, dice_iou.png (from the run's CSVs),
architecture.png (from the run's config, via trainer.training.summary.model_summary) and dices/{dice:.3f}_dice_{name}.png for
every evaluated sample (image and GT from the dataset, probability map from probs/). What cannot be drawn (no
losses in a bare evaluation folder, no dataset) is skipped with a reason. A summary goes to figures.json (and
stdout); the exit status is 0 unless a figure that could be drawn failed (1) or the folder is unusable (2).

`trainer.report.figures.render_figures` runs this in a subprocess, so the training process never imports Qt.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

import cv2
import torch
from sklearn.metrics import auc as trapz
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

from figures.architecture import architecture_figure
from figures.crack_plots import measure_scatter_plot, reliability_plot
from figures.dice_panel import dice_panel
from figures.plots import dice_iou_plot, ensure_app, loss_plot, loss_val_plot, pr_plot, roc_plot, save_widget_png
from figures.qimage import qimage_to_array
from trainer.datasets.images import read_image, read_mask
from trainer.datasets.layouts import open_dataset
from trainer.errors import CrackError
from trainer.metrics import calibration as K
from trainer.metrics.pixels import dice_iou_from_counts, threshold_to_bin
from trainer.report.figures import write_figures_json
from trainer.runs import paths
from trainer.runs.evaluation import find_eval_sources, read_eval
from trainer.runs.folder import RunFolder
from trainer.schema import KEYS
from trainer.training.model import SegDecNet
from trainer.training.summary import count_parameters, model_summary

FIG_SIZE = (800, 600)


class Renderer:
    def __init__(self, target: str | Path, run_dir=None, data=None, dices: bool = True,
                 max_dices: int | None = None, log: Callable[[str], None] | None = None):
        self.target = Path(target)
        self.run, self.data, self.source = find_eval_sources(self.target, run_dir, data)
        self.want_dices = dices
        self.max_dices = max_dices
        self.log = log or (lambda s: print(s, file=sys.stderr))
        self.written: list[str] = []
        self.skipped: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.ev: dict | None = None
        self.timing: dict[str, float] = {}

    # ------------------------------------------------------------------------------------------------
    def run_all(self) -> dict:
        ensure_app()
        t0 = time.perf_counter()
        if (self.target / paths.SAMPLES).is_file():
            try:
                self.ev = read_eval(self.target)
            except CrackError as exc:
                self.errors["evaluation"] = str(exc)
        else:
            self.skipped["ROC/PR/dices"] = "no evaluation in this folder (samples.npz missing)"
        for name, fn in (("curves", self.curves), ("losses", self.losses), ("architecture", self.architecture),
                         ("reliability", self.reliability), ("measure_accuracy", self.measure_accuracy),
                         ("dices", self.dices)):
            t = time.perf_counter()
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - draw what can be drawn, report the rest
                self.errors[name] = f"{type(exc).__name__}: {exc}"
                self.log(f"render: {name} failed:\n{traceback.format_exc()}")
            self.timing[name] = round(time.perf_counter() - t, 3)
        summary = {
            "rendered": not self.errors,
            "written": self.written,
            "skipped": self.skipped,
            "errors": self.errors,
            "seconds": round(time.perf_counter() - t0, 3),
            "timing": self.timing,
            "run": str(self.run.path) if self.run else None,
            "data": str(self.data) if self.data else None,
        }
        write_figures_json(self.target, summary)
        return summary

    def _save(self, widget, name: str) -> None:
        save_widget_png(widget, self.target / name, FIG_SIZE)
        widget.deleteLater()
        self.written.append(name)

    # ------------------------------------------------------------------------------------------------
    def _thresholds(self) -> list[tuple[float, str]]:
        m = self.ev["metrics"] if self.ev else {}
        out = []
        if m.get("best_threshold") is not None:
            out.append((float(m["best_threshold"]), f"test-optimal thr {float(m['best_threshold']):.3f} (reference)"))
        h = m.get("honest") or {}
        if h.get("image_threshold") is not None:
            out.append((float(h["image_threshold"]), f"validation thr {float(h['image_threshold']):.3f} (honest)"))
        for folder in (self.target, self.run.path if self.run else None):
            if folder is None:
                continue
            try:
                t = (RunFolder(folder).thresholds() or {}).get("image_threshold")
            except CrackError:
                t = None
            if t is not None:
                out.append((float(t), f"chosen thr {float(t):.3f}"))
                break
        return out

    def curves(self) -> None:
        if self.ev is None:
            return
        y = self.ev["labels"] > 0
        s = self.ev["scores"].astype(np.float64)
        m = self.ev["metrics"]
        two = bool(y.any() and (~y).any())
        fpr = tpr = prec = rec = np.array([])
        roc_pts, pr_pts = [], []
        if two:
            fpr, tpr, _ = roc_curve(y, s)
            prec, rec, _ = precision_recall_curve(y, s)
            for thr, label in self._thresholds():
                d = s >= thr
                tp, fp = int((d & y).sum()), int((d & ~y).sum())
                fn, tn = int((~d & y).sum()), int((~d & ~y).sum())
                roc_pts.append((fp / max(fp + tn, 1), tp / max(tp + fn, 1), label))
                if tp + fp:
                    pr_pts.append((tp / max(tp + fn, 1), tp / (tp + fp), label))
        auc = m.get("auc")
        if auc is None and two:
            auc = float(roc_auc_score(y, s))
        ap = m.get("ap")
        if ap is None and two:
            ap = float(trapz(rec, prec))
        self._save(roc_plot(fpr, tpr, auc, point=roc_pts or None), paths.ROC_PNG)
        self._save(pr_plot(rec, prec, ap, point=pr_pts or None), paths.PR_PNG)

    def reliability(self) -> None:
        """reliability.png: from metrics.json's ``reliability`` (temperature-scaled when the evaluation had one), else
        computed from samples.npz."""
        if self.ev is None:
            return
        m = self.ev["metrics"]
        rel = m.get("reliability")
        ece_i, ece_p = m.get("ece_image"), m.get("ece_pixel")
        if not rel:
            ri = K.reliability_scores(self.ev["labels"], self.ev["scores"])
            rp = K.reliability_pixels(self.ev["hist_pos"], self.ev["hist_neg"])
            rel, ece_i, ece_p = dict(image=ri, pixel=rp), ri["ece"], rp["ece"]
        self._save(reliability_plot(rel, ece_i, ece_p, temperature=m.get("temperature")), paths.RELIABILITY_PNG)

    def measure_accuracy(self) -> None:
        """measure_accuracy.png from ``<folder>/measure/crack_pairs.csv`` (``crack-train measure`` with the dataset)."""
        d = self.target / paths.MEASURE
        if not (d / paths.PAIRS_CSV).is_file():
            self.skipped["measure_accuracy"] = (f"no measurement against the ground truth (crack-train measure "
                                                f"{self.target} --out {d})")
            return
        with open(d / paths.PAIRS_CSV, newline="", encoding="utf-8") as fh:
            pairs = list(csv.DictReader(fh))
        try:
            acc = json.loads((d / paths.ACCURACY_JSON).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            acc = None
        self._save(measure_scatter_plot(pairs, acc), paths.MEASURE_ACCURACY_PNG)

    def losses(self) -> None:
        if self.run is None:
            self.skipped["losses"] = "no run folder (pass --run RUN_DIR)"
            return
        losses = self.run.losses()
        val = self.run.validation()
        if losses:
            for which in ("loss", "loss_seg", "loss_dec"):
                self._save(loss_plot(losses, which, validation=val), f"{which}.png")
            self._save(loss_val_plot(losses, val), paths.LOSS_VAL_PNG)
        else:
            self.skipped["losses"] = f"no losses.csv rows in {self.run.path}"
        if val and any(not math.isnan(r.get("dice_mean", math.nan)) for r in val):
            self._save(dice_iou_plot(val), paths.DICE_IOU_PNG)
        else:
            self.skipped["dice_iou"] = "no validation Dice in validation.csv"

    def architecture(self) -> None:
        if self.run is None:
            self.skipped["architecture"] = "no run folder (pass --run RUN_DIR)"
            return
        cfg = self.run.config_or_empty()
        if not cfg:
            self.skipped["architecture"] = f"no config.toml in {self.run.path}"
            return
        torch.set_num_threads(1)
        arch = str(cfg.get("architecture", KEYS["architecture"].default))
        pool = str(cfg.get("decision_pooling", KEYS["decision_pooling"].default))
        hw = (int(cfg.get("input_height", KEYS["input_height"].default)), int(cfg.get("input_width", KEYS["input_width"].default)))
        with torch.device("meta"):
            model = SegDecNet(architecture=arch, decision_pooling=pool, in_channels=3, input_height=hw[0],
                              input_width=hw[1])
        rows = model_summary(model, hw)
        total = count_parameters(model)
        sub = (f"input 3×{hw[0]}×{hw[1]} (RGB) → image score (cls_logit) and segmentation logits; "
               + (f"decision branch pools the full-resolution logits with {pool}-pool 8"
                  if arch == "upsampling" else "segmentation at 1/8 resolution"))
        img = architecture_figure(rows, title=f"SegDecNet ({arch}): {total:,} parameters", subtitle=sub)
        if not img.save(str(self.target / paths.ARCHITECTURE_PNG), "PNG"):
            raise OSError(f"{self.target / 'architecture.png'}: could not write PNG")
        self.written.append(paths.ARCHITECTURE_PNG)

    def dices(self) -> None:
        if self.ev is None:
            return
        if not self.want_dices:
            self.skipped["dices"] = "disabled (--no-dices)"
            return
        cfg = self.run.config_or_empty() if self.run else {}
        if cfg.get("save_images") is False:
            self.skipped["dices"] = "save_images = false in the run's config"
            return
        if self.data is None:
            self.skipped["dices"] = "dataset unknown (pass --data DATASET)"
            return
        ev = self.ev
        m = ev["metrics"]
        index = open_dataset(self.data, val_fraction=float(cfg.get("val_fraction", KEYS["val_fraction"].default)),
                             seed=int(cfg.get("seed", KEYS["seed"].default)), skip_bad=True)
        by_name = {r.name: r for r in index.samples}
        thr = m.get("seg_threshold")
        thr = 0.5 if thr is None else float(thr)
        k = threshold_to_bin(thr)
        applied = k / ev["bins"]
        dilate = int(cfg.get("dilate", 1) or 1)
        results = {r["name"]: r for r in ev["results"]}
        hp, hn = ev["hist_pos"].astype(np.float64), ev["hist_neg"].astype(np.float64)
        out_dir = self.target / paths.DICES
        out_dir.mkdir(exist_ok=True)
        for old in out_dir.glob(paths.dice_png_glob("*")):
            old.unlink()
        missing, n_done = [], 0
        png = [cv2.IMWRITE_PNG_COMPRESSION, 1]
        pool = ThreadPoolExecutor(max_workers=max(1, min(4, (os.cpu_count() or 2))))
        pending: list = []

        def write(path: Path, bgr: np.ndarray) -> None:
            if not cv2.imwrite(str(path), bgr, png):
                raise OSError(f"{path}: could not write PNG")

        try:
            self._dice_loop(ev, by_name, results, hp, hn, k, applied, dilate, out_dir, missing, pool, pending,
                            write)
            for f in pending:
                f.result()
                n_done += 1
        finally:
            pool.shutdown(wait=True)
        self.written.append(f"dices/ ({n_done} pictures)")
        if missing:
            self.skipped["dices_missing"] = (f"{len(missing)} samples without dataset record or probability map "
                                             f"(first: {missing[0]})")
        if self._weak:
            self.skipped["dices_weak"] = f"{self._weak} weakly labelled positives (no mask, no Dice)"

    def _dice_loop(self, ev, by_name, results, hp, hn, k, applied, dilate, out_dir, missing, pool, pending,
                   write) -> None:
        self._weak = 0
        for i, name in enumerate(ev["names"]):
            if self.max_dices is not None and len(pending) >= self.max_dices:
                break
            rec = by_name.get(name)
            pp = paths.prob_png_path(self.target, name)
            if rec is None or not pp.is_file():
                missing.append(name)
                continue
            row = results.get(name, {})
            dice, iou = row.get("dice"), row.get("iou")
            if dice is None or (isinstance(dice, float) and math.isnan(dice)):
                if int(ev["labels"][i]) == 1 and not bool(ev["segmented"][i]):
                    self._weak += 1  # weakly labelled positive: no GT mask, no Dice
                    continue
                dice, iou = dice_iou_from_counts(hp[i, k:].sum(), hn[i, k:].sum(), hp[i].sum())
            prob = cv2.imread(str(pp), cv2.IMREAD_GRAYSCALE)
            if prob is None:
                missing.append(name)
                continue
            h, w = prob.shape
            raw = read_image(rec.image_path)
            img = cv2.resize(raw, (w, h), interpolation=cv2.INTER_AREA) if raw.shape[:2] != (h, w) else raw
            if rec.label == 1 and rec.has_mask:
                gt = read_mask(rec.mask_path, raw.shape) * np.uint8(255)
                if dilate > 1:
                    gt = cv2.dilate(gt, np.ones((dilate, dilate), np.uint8))
                if gt.shape != (h, w):
                    gt = cv2.resize(gt, (w, h), interpolation=cv2.INTER_AREA)
                gt = gt > 127
            else:
                gt = np.zeros((h, w), bool)
            label = int(ev["labels"][i])
            header = (f"{name}   ·   label: {'crack' if label else 'no crack'}   ·   "
                      f"score: {float(ev['scores'][i]):.3f}")
            qimg = dice_panel(img, gt, prob, applied, float(dice), float(iou), header=header)
            bgr = cv2.cvtColor(qimage_to_array(qimg), cv2.COLOR_RGBA2BGR)
            pending.append(pool.submit(write, out_dir / paths.dice_png_name(float(dice), name), bgr))
            while len([f for f in pending if not f.done()]) > 8:  # bounded memory
                pending[-9].result()


def render(target: str | Path, run_dir=None, data=None, dices: bool = True, max_dices: int | None = None) -> dict:
    """Render every figure into `target` in this process (needs a Q(Gui)Application-capable platform)."""
    return Renderer(target, run_dir, data, dices=dices, max_dices=max_dices).run_all()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m figures.render",
                                 description="Render a run's or an evaluation's report figures offscreen.")
    ap.add_argument("target", metavar="RUN_OR_EVAL_DIR")
    ap.add_argument("--run", help="the run folder (losses, config) when TARGET is a bare evaluation folder")
    ap.add_argument("--data", help="the dataset the evaluation used (default: source.json, else the run's)")
    ap.add_argument("--no-dices", action="store_true", help="skip the per-sample dices/ pictures")
    ap.add_argument("--max-dices", type=int, help="at most N dices/ pictures")
    args = ap.parse_args(argv)
    target = Path(args.target)
    if not target.is_dir():
        print(f"{target}: not a folder", file=sys.stderr)
        return 2
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    summary = render(target, args.run, args.data, dices=not args.no_dices, max_dices=args.max_dices)
    print(json.dumps(summary))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
