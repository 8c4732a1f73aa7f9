"""Render a run's / an evaluation's report figures offscreen (no display needed), with the app's own plot code.

    python -m crackviewer.render RUN_OR_EVAL_DIR [--run RUN_DIR] [--data DATASET] [--no-dices] [--max-dices N]

Writes into RUN_OR_EVAL_DIR: ROC.png, precision-recall.png (curves computed from samples.npz with sklearn, the
operating points marked), loss.png, loss_seg.png, loss_dec.png, loss_val.png, dice_iou.png (from the run's CSVs),
architecture.png (from the run's config, via trainer.model.model_summary) and dices/{dice:.3f}_dice_{name}.png for
every evaluated sample (image and GT from the dataset, probability map from probs/). What cannot be drawn (no
losses in a bare evaluation folder, no dataset) is skipped with a reason. A summary goes to figures.json (and
stdout); the exit status is 0 unless a figure that could be drawn failed (1) or the folder is unusable (2).

`trainer.report.render_figures` runs this in a subprocess, so the training process never imports Qt.
"""
from __future__ import annotations

import argparse
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

from trainer.errors import CrackError
from trainer.report import dice_png_name
from trainer.runfolder import RunFolder, read_eval

FIG_SIZE = (800, 600)


def _prob_png(eval_dir: Path, name: str) -> Path:
    p = eval_dir / "probs" / (str(name).replace("/", "__").replace("\\", "__") + ".png")
    if not p.is_file():
        alt = eval_dir / "probs" / f"{name}.png"
        if alt.is_file():
            return alt
    return p


def resolve_sources(target: Path, run_dir: str | Path | None = None, data: str | Path | None = None
                    ) -> tuple[RunFolder | None, Path | None, dict]:
    """(run folder or None, dataset path or None, source.json of an eval folder or {})."""
    source: dict = {}
    sp = target / "source.json"
    if sp.is_file():
        try:
            source = json.loads(sp.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            source = {}
    run = None
    if run_dir is not None:
        run = RunFolder(run_dir)
    elif RunFolder(target).is_run():
        run = RunFolder(target)
    elif source.get("run") and Path(source["run"]).is_dir():
        run = RunFolder(source["run"])
    elif target.parent.name == "evals" and RunFolder(target.parent.parent).is_run():
        run = RunFolder(target.parent.parent)
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


class Renderer:
    def __init__(self, target: str | Path, run_dir=None, data=None, dices: bool = True,
                 max_dices: int | None = None, log: Callable[[str], None] | None = None):
        self.target = Path(target)
        self.run, self.data, self.source = resolve_sources(self.target, run_dir, data)
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
        from crackviewer.figures import ensure_app

        ensure_app()
        t0 = time.perf_counter()
        if (self.target / "samples.npz").is_file():
            try:
                self.ev = read_eval(self.target)
            except CrackError as exc:
                self.errors["evaluation"] = str(exc)
        else:
            self.skipped["ROC/PR/dices"] = "no evaluation in this folder (samples.npz missing)"
        for name, fn in (("curves", self.curves), ("losses", self.losses), ("architecture", self.architecture),
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
        try:
            (self.target / "figures.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            self.log(f"render: cannot write figures.json: {exc}")
        return summary

    def _save(self, widget, name: str) -> None:
        from crackviewer.figures import save_widget_png

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
        from sklearn.metrics import precision_recall_curve, roc_curve

        from crackviewer.figures import pr_plot, roc_plot

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
            from sklearn.metrics import roc_auc_score
            auc = float(roc_auc_score(y, s))
        ap = m.get("ap")
        if ap is None and two:
            from sklearn.metrics import auc as trapz
            ap = float(trapz(rec, prec))
        self._save(roc_plot(fpr, tpr, auc, point=roc_pts or None), "ROC.png")
        self._save(pr_plot(rec, prec, ap, point=pr_pts or None), "precision-recall.png")

    def losses(self) -> None:
        from crackviewer.figures import dice_iou_plot, loss_plot, loss_val_plot

        if self.run is None:
            self.skipped["losses"] = "no run folder (pass --run RUN_DIR)"
            return
        losses = self.run.losses()
        val = self.run.validation()
        if losses:
            for which in ("loss", "loss_seg", "loss_dec"):
                self._save(loss_plot(losses, which, validation=val), f"{which}.png")
            self._save(loss_val_plot(losses, val), "loss_val.png")
        else:
            self.skipped["losses"] = f"no losses.csv rows in {self.run.path}"
        if val and any(not math.isnan(r.get("dice_mean", math.nan)) for r in val):
            self._save(dice_iou_plot(val), "dice_iou.png")
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
        import torch

        from crackviewer.figures import architecture_figure
        from trainer.model import SegDecNet, count_parameters, model_summary

        torch.set_num_threads(1)
        arch = str(cfg.get("architecture", "upsampling"))
        pool = str(cfg.get("decision_pooling", "avg"))
        hw = (int(cfg.get("input_height", 448)), int(cfg.get("input_width", 448)))
        with torch.device("meta"):
            model = SegDecNet(architecture=arch, decision_pooling=pool, in_channels=3, input_height=hw[0],
                              input_width=hw[1])
        rows = model_summary(model, hw)
        total = count_parameters(model)
        sub = (f"input 3×{hw[0]}×{hw[1]} (RGB) → image score (cls_logit) and segmentation logits; "
               + (f"decision branch pools the full-resolution logits with {pool}-pool 8"
                  if arch == "upsampling" else "segmentation at 1/8 resolution"))
        img = architecture_figure(rows, title=f"SegDecNet ({arch}): {total:,} parameters", subtitle=sub)
        if not img.save(str(self.target / "architecture.png"), "PNG"):
            raise OSError(f"{self.target / 'architecture.png'}: could not write PNG")
        self.written.append("architecture.png")

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
        import cv2

        from trainer.data import open_dataset
        from trainer.metrics import threshold_to_bin

        ev = self.ev
        m = ev["metrics"]
        index = open_dataset(self.data, val_fraction=float(cfg.get("val_fraction", 0.15)),
                             seed=int(cfg.get("seed", 1337)), skip_bad=True)
        by_name = {r.name: r for r in index.samples}
        thr = m.get("seg_threshold")
        thr = 0.5 if thr is None else float(thr)
        k = threshold_to_bin(thr)
        applied = k / ev["bins"]
        dilate = int(cfg.get("dilate", 1) or 1)
        results = {r["name"]: r for r in ev["results"]}
        hp, hn = ev["hist_pos"].astype(np.float64), ev["hist_neg"].astype(np.float64)
        out_dir = self.target / "dices"
        out_dir.mkdir(exist_ok=True)
        for old in out_dir.glob("*_dice_*.png"):
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
        import cv2

        from crackviewer.figures import dice_panel
        from crackviewer.qimage import qimage_to_array
        from trainer.data import read_image, read_mask

        self._weak = 0
        for i, name in enumerate(ev["names"]):
            if self.max_dices is not None and len(pending) >= self.max_dices:
                break
            rec = by_name.get(name)
            pp = _prob_png(self.target, name)
            if rec is None or not pp.is_file():
                missing.append(name)
                continue
            row = results.get(name, {})
            dice, iou = row.get("dice"), row.get("iou")
            if dice is None or (isinstance(dice, float) and math.isnan(dice)):
                if int(ev["labels"][i]) == 1 and not bool(ev["segmented"][i]):
                    self._weak += 1  # weakly labelled positive: no GT mask, no Dice
                    continue
                g = hp[i].sum()
                tp, fp = hp[i, k:].sum(), hn[i, k:].sum()
                dice = (2 * tp + 1e-15) / (g + tp + fp + 1e-15)
                iou = (tp + 1e-15) / (g + fp + 1e-15)
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
            pending.append(pool.submit(write, out_dir / dice_png_name(float(dice), name), bgr))
            while len([f for f in pending if not f.done()]) > 8:  # bounded memory
                pending[-9].result()


def render(target: str | Path, run_dir=None, data=None, dices: bool = True, max_dices: int | None = None) -> dict:
    """Render every figure into `target` in this process (needs a Q(Gui)Application-capable platform)."""
    return Renderer(target, run_dir, data, dices=dices, max_dices=max_dices).run_all()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m crackviewer.render",
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
