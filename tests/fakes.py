"""Realistic FAKE run folders, evaluation folders and datasets, exactly per docs/architecture.md, in milliseconds.

No torch and no Qt: for tests of everything that READS run folders (runs list, curves, inspection, report, render).

    from tests.fakes import make_fake_run, make_fake_eval, make_fake_dataset

    run = make_fake_run(tmp_path)                      # tmp_path/run, finished, test evaluation in the run folder
    run = make_fake_run(tmp_path, status="running")    # pid = this process (alive), no terminal event, no metrics
    ev  = make_fake_eval(tmp_path / "ev", data=run_data, split="val")

What is written (all consistent with each other):
- the dataset (manifest layout: manifest.csv name,label,split; images/<name>.png RGB; masks/<name>.png 0/255), at
  `tmp_path/data` by default; image size = model input size, so probability maps and images line up;
- config.toml (every `trainer.config.DEFAULTS` key), events.jsonl (run_started with pid/data/counts, step, epoch,
  validation, checkpoint, log, evaluation, finished or error), log.txt, losses.csv, validation.csv,
  checkpoints/{last,best,final}.pth (placeholders: NOT loadable by torch);
- for a finished run, the test evaluation in the run folder: probs/<name>.png (8-bit), samples.npz (names, labels,
  scores, segmented, hist_pos/hist_neg with B=4096 computed FROM those 8-bit maps and the GT masks), results.csv
  (dice/iou from the histograms with the contract formula), metrics.json (AUC/AP/F/thresholds computed with sklearn
  from the fake scores).

Statuses: "finished", "stopped" (finished event with status "stopped", no test evaluation), "failed" (error event,
kind "oom"), "running" (run_started.pid = os.getpid(), no terminal event), "interrupted" (pid of a process that has
exited, no terminal event: RunFolder reports "failed").
"""
from __future__ import annotations

import csv
import math
import time
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from trainer.config import DEFAULTS, save_config
from trainer.datasets.records import MANIFEST
from trainer.metrics.pixels import B as BINS
from trainer.runs import paths
from trainer.runs.curves import LOSS_COLUMNS, VALIDATION_COLUMNS, append_row
from trainer.runs.evaluation import write_metrics, write_prob_png, write_results, write_samples
from trainer.runs.events import EventLog
from trainer.runs.folder import RunFolder

STATUSES = ("finished", "stopped", "failed", "running", "interrupted")


# ----------------------------------------------------------------------------------------------- dataset
def _crack_sample(rng: np.random.Generator, size: int, positive: bool) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 HxWx3 concrete-like texture with a dark crack, mask uint8 HxW 0/255)."""
    h = w = size
    base = rng.normal(0, 1, (h // 4 + 1, w // 4 + 1)).astype(np.float32)
    base = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 1, (h, w)).astype(np.float32)
    tone = rng.uniform(120, 185)
    gray = tone + 12 * base + 8 * grain
    mask = np.zeros((h, w), np.uint8)
    if positive:
        n_pts = int(rng.integers(3, 6))
        x = np.linspace(rng.uniform(0, w * 0.2), rng.uniform(w * 0.8, w), n_pts)
        y = np.clip(rng.uniform(0, h) + np.cumsum(rng.normal(0, h * 0.15, n_pts)), 0, h - 1)
        if rng.random() < 0.5:
            x, y = y, x
        pts = np.stack([x, y], 1).astype(np.int32).reshape(-1, 1, 2)
        thick = max(1, int(round(size / 40 * rng.uniform(0.8, 2.0))))
        cv2.polylines(mask, [pts], False, 255, thickness=thick)
        dark = cv2.GaussianBlur(mask.astype(np.float32) / 255, (3, 3), 0)
        gray = gray * (1 - 0.6 * dark)
    tint = np.array([1.0, rng.uniform(0.96, 1.02), rng.uniform(0.9, 1.0)], np.float32)
    rgb = np.clip(gray[..., None] * tint, 0, 255).astype(np.uint8)
    return rgb, mask


def make_fake_dataset(root: str | Path, splits: dict[str, tuple[int, int]] | None = None, size: int = 64,
                      seed: int = 0) -> Path:
    """A manifest-layout dataset: `splits` = {split: (positives, negatives)}; names are `<split>_<nnn>`.

    Default splits: train (12, 6), val (6, 3), test (24, 16). Returns root."""
    root = Path(root)
    splits = splits or {"train": (12, 6), "val": (6, 3), "test": (24, 16)}
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for split, (npos, nneg) in splits.items():
        labels = [1] * npos + [0] * nneg
        order = rng.permutation(len(labels))
        for i, j in enumerate(order):
            label = labels[j]
            name = f"{split}_{i:03d}"
            rgb, mask = _crack_sample(rng, size, bool(label))
            cv2.imwrite(str(root / "images" / f"{name}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            cv2.imwrite(str(root / "masks" / f"{name}.png"), mask)
            rows.append((name, label, split))
    with open(root / MANIFEST, "w", newline="", encoding="utf-8") as fh:
        wr = csv.writer(fh)
        wr.writerow(["name", "label", "split"])
        wr.writerows(rows)
    return root


def read_fake_manifest(data: str | Path, split: str | None = None) -> list[tuple[str, int, str]]:
    """(name, label, split) rows of a manifest dataset, optionally one split."""
    with open(Path(data) / MANIFEST, newline="", encoding="utf-8") as fh:
        rows = [(r["name"], int(r["label"]), r.get("split") or "all") for r in csv.DictReader(fh)]
    return [r for r in rows if split is None or r[2] == split]


def dataset_counts(data: str | Path) -> dict[str, dict[str, int]]:
    """The `counts` field of run_started: {split: {positives, negatives, segmented, weak}} (all positives segmented)."""
    out: dict[str, dict[str, int]] = {}
    for _, label, split in read_fake_manifest(data):
        c = out.setdefault(split, {"positives": 0, "negatives": 0, "segmented": 0, "weak": 0})
        c["positives" if label else "negatives"] += 1
        c["segmented"] += int(label == 1)
    return out


# ----------------------------------------------------------------------------------------------- metrics
def hist_of(prob_u8: np.ndarray, gt: np.ndarray, bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    """Per-class histograms of p = v/255 (bin = min(int(p*B), B-1)) over GT-crack / GT-background pixels."""
    p = prob_u8.astype(np.float64) / 255.0
    b = np.minimum((p * bins).astype(np.int64), bins - 1)
    g = gt > 0
    return (np.bincount(b[g], minlength=bins).astype(np.uint32),
            np.bincount(b[~g], minlength=bins).astype(np.uint32))


def dice_iou_at(hist_pos: np.ndarray, hist_neg: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Contract formula: TP = hist_pos[k:].sum(), FP = hist_neg[k:].sum(), G = hist_pos.sum()."""
    hp = np.atleast_2d(hist_pos).astype(np.float64)
    hn = np.atleast_2d(hist_neg).astype(np.float64)
    tp = hp[:, k:].sum(1)
    fp = hn[:, k:].sum(1)
    g = hp.sum(1)
    return (2 * tp + 1e-15) / (g + tp + fp + 1e-15), (tp + 1e-15) / (g + fp + 1e-15)


def best_f1_bin(hist_pos: np.ndarray, hist_neg: np.ndarray) -> int:
    """Bin index k (threshold k/B) of the best pixel F1 over summed histograms."""
    hp = np.atleast_2d(hist_pos).sum(0).astype(np.float64)
    hn = np.atleast_2d(hist_neg).sum(0).astype(np.float64)
    if hp.sum() == 0:  # no GT pixels: F1 undefined, take the middle
        return len(hp) // 2
    tp = np.cumsum(hp[::-1])[::-1]
    fp = np.cumsum(hn[::-1])[::-1]
    fn = hp.sum() - tp
    f1 = np.where(tp > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1e-12), 0.0)
    return int(np.argmax(f1[1:]) + 1)


def image_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """AUC, AP (trapezoid, reference), AP (sklearn), best-F threshold, TP/FP/FN/TN; None when undefined."""
    from sklearn.metrics import auc as trapz_auc
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

    labels = np.asarray(labels).astype(int)
    scores = np.asarray(scores, dtype=np.float64)
    out: dict[str, Any] = {"undefined": []}
    if labels.min() == labels.max():
        for k in ("auc", "ap", "ap_sklearn", "best_threshold", "f_measure"):
            out[k] = None
            out["undefined"].append(k)
        thr = 0.5
    else:
        out["auc"] = float(roc_auc_score(labels, scores))
        out["ap_sklearn"] = float(average_precision_score(labels, scores))
        prec, rec, thrs = precision_recall_curve(labels, scores)
        out["ap"] = float(trapz_auc(rec, prec))
        f = 2 * prec[:-1] * rec[:-1] / np.maximum(prec[:-1] + rec[:-1], 1e-12)
        i = int(np.argmax(f))
        thr = float(thrs[i])
        out["best_threshold"], out["f_measure"] = thr, float(f[i])
    out.update(confusion(labels, scores, thr))
    return out


def confusion(labels: np.ndarray, scores: np.ndarray, thr: float) -> dict[str, int]:
    d = np.asarray(scores) >= thr
    y = np.asarray(labels) > 0
    return {"tp": int((d & y).sum()), "fp": int((d & ~y).sum()), "fn": int((~d & y).sum()),
            "tn": int((~d & ~y).sum())}


# ----------------------------------------------------------------------------------------------- evaluation
def make_fake_eval(out_dir: str | Path, data: str | Path | None = None, *, split: str = "test",
                   n_samples: int = 40, size: int = 64, seed: int = 0, quality: float = 0.8,
                   checkpoint: str = "checkpoints/best.pth", val_bin: int | None = None,
                   pos_fraction: float = 0.6) -> Path:
    """An evaluation folder (what `evaluate_split` writes) for `split` of `data`.

    When `data` is None, a dataset with one split `split` of `n_samples` samples (`pos_fraction` positives; 0 or 1
    gives a one-class split whose AUC/AP/F are null and listed in "undefined") is written to `<out_dir>_data`.
    `quality` (0..1) scales how good the fake model is. `val_bin` = the honest seg threshold bin (default: the
    best bin of this split shifted by 10 %). Returns out_dir."""
    out = Path(out_dir)
    if data is None:
        npos = int(round(n_samples * pos_fraction))
        data = make_fake_dataset(Path(f"{out}_data"), {split: (npos, n_samples - npos)}, size=size, seed=seed)
    data = Path(data)
    rows = read_fake_manifest(data, split)
    if not rows:
        raise ValueError(f"{data}: no samples in split {split!r}")
    rng = np.random.default_rng(seed + 1000)
    (out / paths.PROBS).mkdir(parents=True, exist_ok=True)
    names, labels, scores, hps, hns, maxp, gtpx = [], [], [], [], [], [], []
    for name, label, _ in rows:
        gt = cv2.imread(str(data / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        if gt is None:
            gt = np.zeros((size, size), np.uint8)
        h, w = gt.shape
        prob = _fake_prob(rng, gt, bool(label), quality)
        u8 = np.round(prob * 255).astype(np.uint8)
        write_prob_png(paths.prob_png_path(out, name), u8)
        hp, hn = hist_of(u8, gt)
        logit = rng.normal(1.8 * quality + 0.4, 1.3) if label else rng.normal(-1.8 * quality - 0.4, 1.3)
        names.append(name)
        labels.append(label)
        scores.append(1 / (1 + math.exp(-logit)))
        hps.append(hp)
        hns.append(hn)
        maxp.append(float(u8.max()) / 255)
        gtpx.append(int((gt > 0).sum()))
    labels_a = np.array(labels, np.int8)
    scores_a = np.array(scores, np.float32)
    hist_pos, hist_neg = np.stack(hps), np.stack(hns)
    segmented = labels_a > 0
    write_samples(out, names=np.array(names, dtype=str), labels=labels_a, scores=scores_a, segmented=segmented,
                  hist_pos=hist_pos, hist_neg=hist_neg)

    k = best_f1_bin(hist_pos, hist_neg)
    kv = val_bin if val_bin is not None else min(BINS - 1, max(1, int(k * 1.1)))
    dice, iou = dice_iou_at(hist_pos, hist_neg, k)
    dice_h, iou_h = dice_iou_at(hist_pos, hist_neg, kv)
    m = image_metrics(labels_a, scores_a)
    img_thr_honest = 0.5
    decisions = scores_a >= (m["best_threshold"] if m["best_threshold"] is not None else 0.5)
    honest_conf = confusion(labels_a, scores_a, img_thr_honest)
    hp_ = honest_conf["tp"]
    f_h = 2 * hp_ / max(2 * hp_ + honest_conf["fp"] + honest_conf["fn"], 1) if labels_a.any() else None
    metrics = {
        "split": split, "n": len(names),
        **{k_: m[k_] for k_ in ("auc", "ap", "ap_sklearn", "best_threshold", "f_measure", "tp", "fp", "fn", "tn")},
        "seg_threshold": k / BINS,
        "dice_mean": float(dice.mean()), "dice_std": float(dice.std()),
        "iou_mean": float(iou.mean()), "iou_std": float(iou.std()),
        "honest": {"image_threshold": img_thr_honest, "seg_threshold": kv / BINS, **honest_conf,
                   "f_measure": f_h, "dice_mean": float(dice_h.mean()), "dice_std": float(dice_h.std()),
                   "iou_mean": float(iou_h.mean()), "iou_std": float(iou_h.std())},
        "input_hw": [int(h), int(w)],
        "checkpoint": checkpoint,
        "undefined": m["undefined"],
    }
    write_metrics(out, metrics)
    hist_k = hist_pos[:, k:].sum(1) + hist_neg[:, k:].sum(1)
    write_results(out, ([name, int(labels_a[i]), float(scores_a[i]), int(decisions[i]), float(dice[i]),
                         float(iou[i]), maxp[i], gtpx[i], int(hist_k[i]), int(segmented[i])]
                        for i, name in enumerate(names)))
    return out


def _fake_prob(rng: np.random.Generator, gt: np.ndarray, positive: bool, quality: float) -> np.ndarray:
    """A plausible probability map: blurred GT (partly missed, slightly shifted) plus false blobs."""
    h, w = gt.shape
    g = (gt > 0).astype(np.float32)
    p = np.zeros((h, w), np.float32)
    if positive and g.any():
        keep = cv2.resize(rng.random((4, 4)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        keep = (keep < 0.35 + 0.6 * quality).astype(np.float32)
        shift = np.roll(g, int(rng.integers(-1, 2)), axis=int(rng.integers(0, 2)))
        blur = cv2.GaussianBlur(shift, (5, 5), 1.0)
        p = np.clip(blur * rng.uniform(0.7, 1.0) * (0.25 + 0.75 * keep) * 1.6, 0, 1)
    for _ in range(int(rng.poisson(1.5 - quality))):
        cy, cx = int(rng.integers(0, h)), int(rng.integers(0, w))
        r = max(1, int(rng.integers(1, max(2, h // 16))))
        cv2.circle(p, (cx, cy), r, float(rng.uniform(0.3, 0.9)), -1)
    noise = np.abs(rng.normal(0, 0.04, (h, w))).astype(np.float32)
    p = cv2.GaussianBlur(p, (3, 3), 0) + noise
    return np.clip(p, 0, 1)


# ----------------------------------------------------------------------------------------------- run
def fake_config(size: int = 64, epochs: int = 6, **overrides: Any) -> dict[str, Any]:
    """A resolved config (every DEFAULTS key) for a small CPU run."""
    cfg = dict(DEFAULTS)
    cfg.update({"epochs": epochs, "input_height": size, "input_width": size, "batch_size": 4,
                "learning_rate": 0.5, "validation_n_epochs": 2, "device": "cpu", "precision": "fp32",
                "seed": 1337})
    cfg.update(overrides)
    return cfg


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def make_fake_run(tmp_path: str | Path, n_samples: int = 40, size: int = 64, seed: int = 0,
                  status: str = "finished", *, name: str = "run", epochs: int = 6, data: str | Path | None = None,
                  quality: float = 0.8, with_val_eval: bool = False, start_time: float | None = None,
                  config: dict[str, Any] | None = None) -> Path:
    """A run folder `tmp_path/name` (see the module docstring). `n_samples` = test samples (60 % positives);
    the dataset (`tmp_path/data` unless `data` is given) also has train (n) and val (n/2) splits.
    `quality` shifts the fake model's curves and scores (compare two runs with different qualities).
    `with_val_eval` adds evals/val. Returns the run folder."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    tmp_path = Path(tmp_path)
    run = tmp_path / name
    run.mkdir(parents=True, exist_ok=True)
    if data is None:
        data = tmp_path / "data"
        if not (data / MANIFEST).is_file():
            npos = int(round(n_samples * 0.6))
            nv = max(2, n_samples // 2)
            nvp = max(1, int(round(nv * 0.6)))
            make_fake_dataset(data, {"train": (npos, n_samples - npos), "val": (nvp, nv - nvp),
                                     "test": (npos, n_samples - npos)}, size=size, seed=seed)
    data = Path(data)
    cfg = fake_config(size, epochs, **(config or {}))
    save_config(cfg, run / paths.CONFIG)
    counts = dataset_counts(data)
    n_train = sum(counts.get("train", {}).get(k, 0) for k in ("positives", "negatives")) or n_samples
    steps = max(1, math.ceil(n_train / cfg["batch_size"]))
    rng = np.random.default_rng(seed + 7)
    t = start_time if start_time is not None else time.time() - 600.0
    t0 = t
    log = EventLog(run)

    def emit(ev: str, **f: Any) -> None:
        log.emit(ev, time=round(t, 3), **f)

    def say(msg: str) -> None:
        log.log(msg, event=False)
        emit("log", level="info", message=msg)

    pid = os.getpid() if status == "running" else dead_pid() if status == "interrupted" else 4_000_000
    emit("run_started", config=cfg, device="cpu", precision="fp32", channels_last=False, counts=counts,
         resumed_from_epoch=0, world_size=1, pid=pid, data=str(data), layout="manifest",
         parameters=16_151_837 if cfg.get("architecture") == "upsampling" else 15_638_813, bad_samples=[])
    say(f"{name}: training on {data} for {epochs} epochs (cpu, fp32)")
    stop_at = {"running": max(1, epochs // 2), "interrupted": max(1, epochs // 2), "failed": max(1, epochs // 2),
               "stopped": max(1, epochs - 2)}.get(status, epochs)
    vals = []
    best_ap = -1.0
    for e in range(1, stop_at + 1):
        lam = e / epochs if cfg.get("dyn_balanced_loss", True) else 1.0
        decay = math.exp(-2.2 * quality * e / epochs)
        ls = 0.05 + 0.6 * decay + abs(rng.normal(0, 0.01))
        ld = 0.08 + 0.65 * decay * (1.1 - quality * 0.3) + abs(rng.normal(0, 0.02))
        lt = (1 - lam) * ls + cfg.get("delta_cls_loss", 0.01) * lam * ld
        for s in range(1, steps + 1):
            emit("step", epoch=e, epochs=epochs, step=s, steps=steps, loss_seg=ls * (1 + 0.1 / s),
                 loss_dec=ld * (1 + 0.1 / s), loss=lt * (1 + 0.1 / s), images_per_s=25.0,
                 eta_s=(epochs - e) * steps * 0.16)
            t += 0.16
        correct = min(n_train, int(round(n_train * (0.55 + 0.4 * (1 - decay)))))
        sec = steps * 0.16
        row = {"epoch": e, "loss_seg": ls, "loss_dec": ld, "loss": lt, "correct": correct, "total": n_train,
               "lambda_seg": 1 - lam, "lambda_dec": cfg.get("delta_cls_loss", 0.01) * lam, "seconds": sec}
        append_row(run / paths.LOSSES, LOSS_COLUMNS, row)
        emit("epoch", epochs=epochs, **row)
        say(f"Epoch {e}/{epochs} ==> avg_loss_seg={ls:.5f}, avg_loss_dec={ld:.5f}, avg_loss={lt:.5f}, "
            f"correct={correct}/{n_train}, in {sec:.2f}s/epoch")
        emit("checkpoint", epoch=e, path=str(paths.checkpoint_path(run, "last")), kind="last")
        if e % cfg["validation_n_epochs"] == 0 or e == epochs:
            ap = min(1.0, 0.55 + 0.45 * quality * (1 - decay) + rng.normal(0, 0.01))
            auc = min(1.0, ap + 0.02)
            dm = 0.25 + 0.5 * quality * (1 - decay)
            v = {"epoch": e, "auc": auc, "ap": ap, "ap_sklearn": ap - 0.003, "threshold": 0.4 + 0.1 * rng.random(),
                 "f_measure": 0.6 + 0.35 * quality * (1 - decay), "tp": 5, "fp": 1, "fn": 1, "tn": 3,
                 "seg_threshold": round(0.3 + 0.2 * rng.random(), 4), "dice_mean": dm, "dice_std": 0.2,
                 "iou_mean": dm * 0.8, "iou_std": 0.2, "val_loss_seg": ls * 1.1, "val_loss_dec": ld * 1.15,
                 "val_loss": lt * 1.1, "is_best": int(ap > best_ap)}
            if ap > best_ap:
                best_ap = ap
            vals.append(v)
            append_row(run / paths.VALIDATION, VALIDATION_COLUMNS, v)
            emit("validation", **v)
            say(f"VALIDATION on VAL set || AUC={auc:.6f}, and AP={ap:.6f}, with best thr={v['threshold']:.6f} at "
                f"f-measure={v['f_measure']:.3f} and FP=1, FN=1, TOTAL SAMPLES=10")
            if v["is_best"]:
                emit("checkpoint", epoch=e, path=str(paths.checkpoint_path(run, "best")), kind="best")
        t += 1.0

    kinds = ["last"] + (["best"] if vals else []) + (["final"] if status == "finished" else [])
    for kind in kinds:
        ck = paths.checkpoint_path(run, kind)
        ck.parent.mkdir(exist_ok=True)
        ck.write_bytes(b"fake checkpoint written by tests/fakes.py: not loadable\n")

    if status == "finished":
        emit("checkpoint", epoch=epochs, path=str(paths.checkpoint_path(run, "final")), kind="final")
        make_fake_eval(run, data, split="test", size=size, seed=seed, quality=quality)
        m = RunFolder(run).metrics()
        emit("evaluation", out_dir=str(run), **m)
        if m["auc"] is not None:
            log.log(f"{name} EVAL on TEST AUC={m['auc']:.6f}, and AP={m['ap']:.6f}, w/ best "
                       f"thr={m['best_threshold']:.6f} at f-m={m['f_measure']:.3f} and FP={m['fp']}, FN={m['fn']}", event=False)
        if with_val_eval:
            make_fake_eval(paths.eval_dir(run, "val"), data, split="val", size=size, seed=seed + 1, quality=quality)
        emit("finished", status="finished", epochs_done=epochs, seconds=t - t0)
    elif status == "stopped":
        emit("finished", status="stopped", epochs_done=stop_at, seconds=t - t0)
    elif status == "failed":
        emit("error", kind="oom", message="out of memory on cpu: lower batch_size or input size, then Resume",
             file=None)
        log.log("ERROR out of memory", event=False)
    log.close()
    return run


def make_untrained_run(run: str | Path, height: int, width: int, *, config_file: bool = True,
                       **overrides: Any) -> Path:
    """A run folder holding ``checkpoints/best.pth`` of a freshly initialised SegDecNet (seed 0) at ``height x
    width`` (fp32, CPU), for tests of predict/eval paths that need a real network but no training. ``config_file``
    also writes ``config.toml``. Imports torch (unlike the rest of this module)."""
    import torch

    from trainer.training.checkpoint import save_checkpoint
    from trainer.training.model import SegDecNet

    torch.manual_seed(0)
    run = Path(run)
    cfg = dict(DEFAULTS, input_height=height, input_width=width, device="cpu", precision="fp32", **overrides)
    model = SegDecNet(architecture=cfg["architecture"], decision_pooling=cfg["decision_pooling"], in_channels=3,
                      input_height=height, input_width=width)
    save_checkpoint(run / paths.CHECKPOINTS / "best.pth",
                    {"model": model.state_dict(), "config": cfg,
                     "meta": {"input_height": height, "input_width": width, "architecture": cfg["architecture"],
                              "decision_pooling": cfg["decision_pooling"]}})
    if config_file:
        save_config(cfg, run / paths.CONFIG)
    return run
