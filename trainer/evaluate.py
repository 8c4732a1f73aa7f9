"""Inference over a split -> per-sample results, metrics and the files of an evaluation folder.

``evaluate_split`` writes (see docs/architecture.md, "Evaluation folder")::

    results.csv   name,label,score,decision,dice,iou,max_prob,gt_pixels,pred_pixels,segmented
    samples.npz   names, labels (int8), scores (float32), segmented (bool), hist_pos/hist_neg (uint32 [N, 4096]),
                  max_prob (float32)
    probs/<file name>.png   8-bit probability map round(p*255) at model input resolution; a '/' or '\\' in a sample
                  name becomes '__' in the file name (see ``prob_png_name``)
    metrics.json  written last (its presence means the folder is complete)

``compute_validation`` is the same inference pass without files, used by the training loop after validation epochs.

Only histograms (2 x 4096 counts per sample) and a few scalars per sample are kept, never the pixels of a split, so
memory stays flat whatever the split size. Probability maps are PNG-encoded by a small thread pool while the next
batch runs through the network.
"""
from __future__ import annotations

import concurrent.futures as cf
import csv
import io
import json
import math
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from trainer import metrics as M
from trainer.diskfull import atomic_write_checked
from trainer.errors import ConfigError, CrackError, DataError

__all__ = ["evaluate_split", "compute_validation", "prob_png_name", "load_samples", "PNG_PARAMS"]

# Fast PNG settings for probability maps: zlib level 1 with Huffman-only coding is ~2.5x faster than OpenCV's
# default and gives smaller files on typical (mostly dark) probability maps.
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY]

RESULTS_COLUMNS = ["name", "label", "score", "decision", "dice", "iou", "max_prob", "gt_pixels", "pred_pixels",
                   "segmented"]


def prob_png_name(name: str) -> str:
    """File name of a sample's probability map inside ``probs/``: path separators in the name become ``__``
    (names such as ``train_positive/12`` in some layouts)."""
    return str(name).replace("/", "__").replace("\\", "__") + ".png"


def load_samples(path: str | Path) -> dict:
    """Read ``samples.npz`` of an evaluation folder (or the file itself) into a dict of arrays."""
    p = Path(path)
    if p.is_dir():
        p = p / "samples.npz"
    try:
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise DataError("no samples.npz here; evaluate the split first", p) from None
    except Exception as exc:  # corrupt/truncated archive
        raise DataError(f"cannot read the per-sample results ({exc})", p) from None


# ----------------------------------------------------------------------------------------------------------------
# device / precision
# ----------------------------------------------------------------------------------------------------------------

def _preload_sklearn() -> None:
    """Import sklearn.metrics (1-3 s, once per process) in a background thread while the network runs."""
    if "sklearn.metrics" in sys.modules:
        return

    def work():
        try:
            import sklearn.metrics  # noqa: F401
        except Exception:           # the main thread's own import will report it
            pass

    threading.Thread(target=work, name="preload-sklearn", daemon=True).start()


def _device(device: Any) -> torch.device:
    if isinstance(device, torch.device):
        return device
    name = str(device or "cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}: use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but torch sees no CUDA GPU; use device=cpu")
    return dev


def _bf16_supported(dev: torch.device) -> bool:
    if dev.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:
        return False


def _precision(precision: str, dev: torch.device) -> str:
    p = str(precision or "fp32").lower()
    if p == "auto":
        return "bf16" if _bf16_supported(dev) else "fp32"
    if p not in ("fp32", "bf16"):
        raise ConfigError(f"unknown precision {precision!r}: use fp32, bf16 or auto")
    return p


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


# ----------------------------------------------------------------------------------------------------------------
# the shared inference pass
# ----------------------------------------------------------------------------------------------------------------

class _Pass:
    """One inference pass over a dataset: yields per-batch numpy results and keeps timings."""

    def __init__(self, model, dataset, *, device, precision, channels_last, batch_size, num_workers, losses):
        if len(dataset) == 0:
            raise DataError("the split to evaluate has no samples")
        self.model = model
        self.dataset = dataset
        self.dev = _device(device)
        self.precision = _precision(precision, self.dev)
        self.channels_last = bool(channels_last)
        self.batch_size = max(int(batch_size), 1)
        self.num_workers = max(int(num_workers), 0)
        self.losses = losses
        self.t_load = 0.0
        self.t_forward = 0.0
        self.t_post = 0.0
        self.n_forward = 0

    def __iter__(self):
        model, dev = self.model, self.dev
        was_training = model.training
        model.eval()
        model.to(dev)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        loader = torch.utils.data.DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False,
                                             num_workers=self.num_workers, pin_memory=dev.type == "cuda")
        autocast = torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")
        try:
            with torch.inference_mode():
                t0 = time.perf_counter()
                for batch in loader:
                    t1 = time.perf_counter()
                    self.t_load += t1 - t0
                    x = batch["image"].to(dev, non_blocking=True)
                    if self.channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    with autocast:
                        cls_logit, seg_logits = model(x)
                    _sync(dev)
                    t2 = time.perf_counter()
                    self.t_forward += t2 - t1
                    self.n_forward += 1
                    out = self._post(batch, x.shape[-2:], cls_logit, seg_logits)
                    t0 = time.perf_counter()
                    self.t_post += t0 - t2
                    yield out
                    t0 = time.perf_counter()   # time spent by the consumer is not "loading"
        finally:
            if was_training:
                model.train()

    def _post(self, batch, hw, cls_logit, seg_logits) -> dict:
        dev = self.dev
        H, W = int(hw[0]), int(hw[1])
        cls_logit = cls_logit.float().reshape(-1)
        seg_logits = seg_logits.float()
        if seg_logits.dim() == 3:
            seg_logits = seg_logits[:, None]
        prob = torch.sigmoid(seg_logits)
        if prob.shape[-2:] != (H, W):
            prob = F.interpolate(prob, size=(H, W), mode="bilinear", align_corners=False)
        mask = batch["mask"].to(dev, non_blocking=True).float()
        if mask.dim() == 3:
            mask = mask[:, None]
        out = dict(
            index=np.asarray(batch["index"]).reshape(-1).astype(np.int64),
            label=batch["label"].float().reshape(-1).cpu().numpy(),
            segmented=np.asarray(batch["is_segmented"]).reshape(-1).astype(bool),
            score=torch.sigmoid(cls_logit).cpu().numpy().astype(np.float32),
            prob=prob[:, 0].contiguous().cpu().numpy(),
            gt=(mask[:, 0] > 0.5).cpu().numpy(),
        )
        if self.losses:
            label = batch["label"].to(dev).float().reshape(-1)
            out["loss_dec"] = F.binary_cross_entropy_with_logits(cls_logit, label, reduction="none").cpu().numpy()
            target = mask
            if seg_logits.shape[-2:] != mask.shape[-2:]:   # 1/8 head: soft targets by area averaging
                target = F.adaptive_avg_pool2d(mask, seg_logits.shape[-2:])
            ls = F.binary_cross_entropy_with_logits(seg_logits, target, reduction="none").mean(dim=(1, 2, 3))
            out["loss_seg"] = ls.cpu().numpy()
        return out


def _batch_histograms(prob: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample histograms of a batch ``prob [b,H,W]``, ``gt [b,H,W] bool`` in one bincount: ``[b,B]`` each."""
    b = prob.shape[0]
    idx = M.prob_to_bin(prob.reshape(b, -1))
    idx += (gt.reshape(b, -1).astype(np.int64) * M.B)
    idx += (np.arange(b, dtype=np.int64) * (2 * M.B))[:, None]
    h = np.bincount(idx.reshape(-1), minlength=2 * M.B * b).reshape(b, 2, M.B)
    return h[:, 1], h[:, 0]


def _write_png(path: Path, prob_u8: np.ndarray) -> float:
    t0 = time.perf_counter()
    ok, buf = cv2.imencode(".png", prob_u8, PNG_PARAMS)
    if not ok:
        raise DataError("OpenCV could not encode the probability map", path)
    atomic_write_checked(path, buf.tobytes())     # a full disk names the file and leaves no temp file
    return time.perf_counter() - t0


def _atomic_text(path: Path, text: str) -> None:
    from trainer.checkpoint import atomic_write_text

    atomic_write_text(path, text)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        return repr(float(v))          # exact round trip (a float32 score compares as written)
    return str(v)


def _json_clean(v):
    if isinstance(v, dict):
        return {str(k): _json_clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return _json_clean(v.tolist())
    if isinstance(v, (np.bool_, bool)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    return v


def _names(dataset, n: int) -> list[str]:
    recs = getattr(dataset, "records", None)
    if recs is not None and len(recs) == n:
        return [str(r.name) for r in recs]
    return [str(i) for i in range(n)]


def _split_name(dataset, split: str | None) -> str:
    if split:
        return str(split)
    recs = getattr(dataset, "records", None) or []
    splits = {getattr(r, "split", None) for r in recs}
    splits.discard(None)
    if len(splits) == 1:
        return str(next(iter(splits)))
    return "mixed" if splits else "unknown"


class _Collector:
    """Accumulates per-sample scalars and histograms of one pass (flat memory: no pixels kept)."""

    def __init__(self, n: int, stride: int = 1):
        self.n = n
        self.hist_pos = np.zeros((n, M.B), dtype=np.uint32)
        self.hist_neg = np.zeros((n, M.B), dtype=np.uint32)
        self.labels = np.zeros(n, dtype=np.int8)
        self.scores = np.zeros(n, dtype=np.float32)
        self.segmented = np.zeros(n, dtype=bool)
        self.max_prob = np.zeros(n, dtype=np.float32)
        self.seen = np.zeros(n, dtype=bool)
        self.stride = max(int(stride), 1)
        # strided histograms for the threshold choice (dice_threshold_factor > 1), summed over the split
        self.sub_pos = np.zeros(M.B, dtype=np.int64)
        self.sub_neg = np.zeros(M.B, dtype=np.int64)
        self._offset = 0
        self.loss_seg_sum = 0.0
        self.loss_seg_n = 0
        self.loss_dec_sum = 0.0
        self.loss_dec_n = 0

    def add(self, out: dict) -> None:
        idx = out["index"]
        if idx.min() < 0 or idx.max() >= self.n:
            raise DataError(f"dataset returned sample index {int(idx.max())} outside 0..{self.n - 1}")
        hp, hn = _batch_histograms(out["prob"], out["gt"])
        self.hist_pos[idx] = hp
        self.hist_neg[idx] = hn
        self.labels[idx] = (out["label"] > 0.5).astype(np.int8)
        self.scores[idx] = out["score"]
        self.segmented[idx] = out["segmented"]
        self.max_prob[idx] = out["prob"].reshape(len(idx), -1).max(axis=1)
        self.seen[idx] = True
        if self.stride > 1:
            for j in range(len(idx)):
                p, g = out["prob"][j], out["gt"][j]
                sp, sn = M.sample_histograms(p, g, self.stride, self._offset)
                self.sub_pos += sp
                self.sub_neg += sn
                self._offset = M.next_offset(self._offset, p.size, self.stride)
        if "loss_dec" in out:
            self.loss_dec_sum += float(out["loss_dec"].sum())
            self.loss_dec_n += len(idx)
            seg = out["segmented"]
            self.loss_seg_sum += float(out["loss_seg"][seg].sum())
            self.loss_seg_n += int(seg.sum())

    def check_complete(self) -> None:
        if not self.seen.all():
            missing = int((~self.seen).sum())
            raise DataError(f"{missing} of {self.n} samples were never returned by the dataset (check its 'index')")

    def check_finite(self, names: list[str]) -> None:
        bad = ~(np.isfinite(self.scores) & np.isfinite(self.max_prob))
        if bad.any():
            first = names[int(np.argmax(bad))]
            raise CrackError(f"the model produced NaN or infinite outputs on {int(bad.sum())} of {self.n} samples "
                             f"(first: {first}); its weights have diverged. Evaluate an earlier checkpoint "
                             f"(e.g. best.pth) or train again with a lower learning rate")

    def threshold_hists(self) -> tuple[np.ndarray, np.ndarray]:
        if self.stride > 1:
            return self.sub_pos, self.sub_neg
        return (self.hist_pos.sum(axis=0, dtype=np.int64), self.hist_neg.sum(axis=0, dtype=np.int64))

    def valid(self) -> np.ndarray:
        return M.dice_valid(self.labels, self.segmented)


def _dice_block(col: _Collector, seg_threshold: float, gate=None) -> tuple[dict, np.ndarray, np.ndarray, int]:
    k = M.threshold_to_bin(seg_threshold)
    dice, iou = M.dice_iou_from_hist(col.hist_pos, col.hist_neg, k, gate=gate)
    return M.dice_stats(dice, iou, col.valid()), dice, iou, k


def _choose_seg_threshold(col: _Collector, dice_threshold: int) -> tuple[float | None, float | None]:
    if int(dice_threshold) == 1:
        pos = col.labels == 1
        return M.seg_threshold_min_max(col.max_prob[pos]), None
    if int(dice_threshold) == 2:
        hp, hn = col.threshold_hists()
        t, f1 = M.seg_threshold_pr(hp, hn)
        return t, (f1 if t is not None else None)
    raise ConfigError(f"dice_threshold must be 1 (min of per-positive maxima) or 2 (pixel PR best F1), "
                      f"got {dice_threshold!r}")


# ----------------------------------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------------------------------

def compute_validation(model, dataset, *, dice_threshold: int = 2, dice_threshold_factor: int = 1,
                       device="cpu", precision: str = "fp32", channels_last: bool = False, batch_size: int = 1,
                       num_workers: int = 0, progress: Callable[[int, int], None] | None = None) -> dict:
    """Validation metrics after a training epoch; writes no files.

    Returns the ``validation.csv`` columns (minus ``epoch``/``is_best``): ``auc, ap, ap_sklearn, threshold
    (= best_threshold, the image threshold to carry over), f_measure, tp, fp, fn, tn, seg_threshold, dice_mean,
    dice_std, iou_mean, iou_std, val_loss_seg, val_loss_dec, val_loss`` plus ``best_threshold, accuracy, n,
    n_positives, n_negatives, seg_f1, dice_n, undefined, undefined_reason, seconds``.

    * ``seg_threshold``: ``dice_threshold = 2``: best-F1 bin edge of the pixel PR curve of the whole split (summed
      histograms, every ``dice_threshold_factor``-th pixel of the concatenated split); ``1``: min over positives of
      the per-image max probability. When it cannot be chosen (no crack pixels / no positives) it is 0.5 and
      ``"seg_threshold"`` is listed in ``undefined``.
    * Dice/IoU: mean and population std over all samples (negatives included), at ``seg_threshold``.
    * Losses: ``val_loss_seg`` = mean per-pixel BCE over segmented samples (unweighted), ``val_loss_dec`` = mean BCE
      of the classification logit, ``val_loss`` = their sum (unweighted; the training loop may re-weight).
    """
    t_start = time.perf_counter()
    n = len(dataset)
    p = _Pass(model, dataset, device=device, precision=precision, channels_last=channels_last,
              batch_size=batch_size, num_workers=num_workers, losses=True)
    col = _Collector(n, stride=dice_threshold_factor)
    _preload_sklearn()
    done = 0
    for out in p:
        col.add(out)
        done += len(out["index"])
        if progress is not None:
            progress(done, n)
    col.check_complete()
    col.check_finite(_names(dataset, n))

    im = M.image_metrics(col.labels, col.scores)
    undefined = list(im["undefined"])
    seg_t, seg_f1 = _choose_seg_threshold(col, dice_threshold)
    if seg_t is None:
        seg_t = M.DEFAULT_THRESHOLD
        undefined.append("seg_threshold")
    stats, _, _, _ = _dice_block(col, seg_t)
    if stats["dice_n"] == 0:
        undefined += ["dice_mean", "dice_std", "iou_mean", "iou_std"]
    loss_seg = col.loss_seg_sum / col.loss_seg_n if col.loss_seg_n else None
    loss_dec = col.loss_dec_sum / col.loss_dec_n if col.loss_dec_n else None
    if loss_seg is None:
        undefined.append("val_loss_seg")
    res = dict(
        n=n, n_positives=im["n_positives"], n_negatives=im["n_negatives"],
        auc=im["auc"], ap=im["ap"], ap_sklearn=im["ap_sklearn"],
        threshold=im["best_threshold"], best_threshold=im["best_threshold"], f_measure=im["f_measure"],
        tp=im["tp"], fp=im["fp"], fn=im["fn"], tn=im["tn"], accuracy=im["accuracy"],
        seg_threshold=float(seg_t), seg_f1=seg_f1, dice_threshold=int(dice_threshold),
        dice_threshold_factor=int(dice_threshold_factor), **stats,
        val_loss_seg=loss_seg, val_loss_dec=loss_dec,
        val_loss=(loss_seg or 0.0) + (loss_dec or 0.0),
        undefined=undefined, undefined_reason=im["undefined_reason"],
        seconds=time.perf_counter() - t_start,
    )
    return _json_clean(res)


def evaluate_split(model, dataset, out_dir, *, seg_threshold: float | None, image_threshold: float | None = None,
                   device="cpu", precision: str = "fp32", channels_last: bool = False, write_maps: bool = True,
                   events=None, dice_threshold_factor: int = 1, honest: dict | None = None,
                   split: str | None = None, checkpoint: str | None = None, batch_size: int = 1,
                   num_workers: int = 0, png_threads: int = 1,
                   progress: Callable[[int, int], None] | None = None) -> dict:
    """Evaluate ``model`` on ``dataset`` and write an evaluation folder into ``out_dir``; returns the metrics dict.

    Operating points written to ``metrics.json``:

    * top level = the reference's: image threshold chosen on this split itself (``best_threshold``, test-optimal);
      ``tp/fp/fn/tn/f_measure`` at it; Dice/IoU at ``seg_threshold`` (the one passed in, e.g. the last validation's;
      ``None`` = chosen on this split by pixel-PR best F1, recorded as ``seg_threshold_source = "split"``).
    * ``honest``: when ``honest=dict(image_threshold=..., seg_threshold=...)`` is given (thresholds chosen on
      validation at the best epoch), or else when ``image_threshold`` is given (with ``seg_threshold``): counts, F and
      Dice/IoU at those thresholds. ``null`` otherwise.
    * ``decision_threshold``: ``image_threshold`` if given, else ``best_threshold`` (0.5 on a one-class split); it is
      the ``decision`` column of ``results.csv`` and the gate of the ``gated`` block (Dice/IoU when samples classified
      negative predict no pixels).
    * ``events`` (an ``EventLog``) gets a ``log`` event at the start and at the end; the ``evaluation`` event is
      emitted by the caller (it knows which weights were used).
    * ``split_best``: the best pixel-F1 seg threshold of this split itself (every ``dice_threshold_factor``-th pixel),
      for information.

    Segmentation thresholds are applied snapped up to their bin edge (``seg_threshold_bin`` / ``_applied``).
    Dice/IoU statistics count every sample except weakly labelled positives (no mask), whose ``dice``/``iou`` cells
    in ``results.csv`` are left empty.
    """
    t_start = time.perf_counter()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probs_dir = out / "probs"
        if write_maps:
            probs_dir.mkdir(exist_ok=True)
        # metrics.json is written last and marks a complete folder: drop a previous one while this pass runs
        (out / "metrics.json").unlink(missing_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the evaluation folder ({exc.strerror or exc})", out) from None
    n = len(dataset)
    names = _names(dataset, n)
    split_name = _split_name(dataset, split)
    if events is not None:
        events.emit("log", level="info", message=f"evaluating split '{split_name}': {n} samples -> {out}")

    p = _Pass(model, dataset, device=device, precision=precision, channels_last=channels_last,
              batch_size=batch_size, num_workers=num_workers, losses=False)
    col = _Collector(n, stride=dice_threshold_factor)
    _preload_sklearn()
    pool = cf.ThreadPoolExecutor(max_workers=max(int(png_threads), 1), thread_name_prefix="probs-png") \
        if write_maps else None
    pending: list[cf.Future] = []
    input_hw = None
    done = 0
    png_s = 0.0
    try:
        for batch_out in p:
            col.add(batch_out)
            prob = batch_out["prob"]
            input_hw = [int(prob.shape[-2]), int(prob.shape[-1])]
            if pool is not None:
                u8 = np.rint(prob * np.float32(255.0)).astype(np.uint8)   # round(p * 255)
                for j, i in enumerate(batch_out["index"]):
                    pending.append(pool.submit(_write_png, probs_dir / prob_png_name(names[i]), u8[j]))
                # keep the queue short: at most a few maps in flight (memory stays flat)
                while len(pending) > 8:
                    png_s += pending.pop(0).result()
            done += len(batch_out["index"])
            if progress is not None:
                progress(done, n)
        t_inf_end = time.perf_counter()
        col.check_complete()
        col.check_finite(names)

        # ---- metrics (no pixels needed any more) ----
        im = M.image_metrics(col.labels, col.scores)
        undefined = list(im["undefined"])
        decision_threshold = image_threshold if image_threshold is not None else im["best_threshold"]
        if decision_threshold is None:
            decision_threshold = M.DEFAULT_THRESHOLD
        seg_source = "given"
        if seg_threshold is None:
            hp, hn = col.threshold_hists()
            seg_threshold, _ = M.seg_threshold_pr(hp, hn)
            seg_source = "split"
            if seg_threshold is None:
                seg_threshold = M.DEFAULT_THRESHOLD
                seg_source = "default"
                undefined.append("seg_threshold")
        stats, dice, iou, k = _dice_block(col, seg_threshold)
        if stats["dice_n"] == 0:
            undefined += ["dice_mean", "dice_std", "iou_mean", "iou_std"]
        valid = col.valid()
        decisions = col.scores.astype(np.float64) >= float(decision_threshold)
        gated_stats, _, _, _ = _dice_block(col, seg_threshold, gate=decisions)
        tp_px = col.hist_pos[:, k:].sum(axis=1, dtype=np.int64)
        pred_px = tp_px + col.hist_neg[:, k:].sum(axis=1, dtype=np.int64)
        gt_px = col.hist_pos.sum(axis=1, dtype=np.int64)

        honest_block = None
        h = dict(honest) if honest else ({"image_threshold": image_threshold} if image_threshold is not None else None)
        if h is not None:
            h_img = h.get("image_threshold")
            h_seg = h.get("seg_threshold", seg_threshold)
            if h_seg is None:
                h_seg = seg_threshold
            hm = M.image_metrics(col.labels, col.scores,
                                 threshold=h_img if h_img is not None else M.DEFAULT_THRESHOLD)
            h_stats, _, _, hk = _dice_block(col, h_seg)
            honest_block = dict(image_threshold=h_img, decision_threshold=hm["threshold"],
                                seg_threshold=float(h_seg),
                                seg_threshold_bin=hk, seg_threshold_applied=M.bin_to_threshold(hk),
                                tp=hm["tp"], fp=hm["fp"], fn=hm["fn"], tn=hm["tn"], accuracy=hm["accuracy"],
                                f_measure=hm["f_measure"], **h_stats)

        sp, sn = col.threshold_hists()
        best_t, best_f1 = M.seg_threshold_pr(sp, sn)

        metrics = dict(
            split=split_name, n=n, n_positives=im["n_positives"], n_negatives=im["n_negatives"],
            auc=im["auc"], ap=im["ap"], ap_sklearn=im["ap_sklearn"], best_threshold=im["best_threshold"],
            f_measure=im["f_measure"], tp=im["tp"], fp=im["fp"], fn=im["fn"], tn=im["tn"],
            accuracy=im["accuracy"],
            seg_threshold=float(seg_threshold), seg_threshold_source=seg_source, seg_threshold_bin=k,
            seg_threshold_applied=M.bin_to_threshold(k), **stats,
            decision_threshold=float(decision_threshold),
            gated=dict(image_threshold=float(decision_threshold), **gated_stats),
            honest=honest_block,
            split_best=dict(seg_threshold=best_t, pixel_f1=best_f1 if best_t is not None else None,
                            dice_threshold_factor=int(dice_threshold_factor)),
            bins=M.B, input_hw=input_hw, checkpoint=str(checkpoint) if checkpoint is not None else None,
            device=str(p.dev), precision=p.precision, channels_last=bool(channels_last),
            undefined=undefined, undefined_reason=im["undefined_reason"],
        )

        # ---- files ----
        npz = io.BytesIO()
        np.savez_compressed(npz, names=np.asarray(names, dtype=str), labels=col.labels,
                            scores=col.scores, segmented=col.segmented, hist_pos=col.hist_pos,
                            hist_neg=col.hist_neg, max_prob=col.max_prob)
        atomic_write_checked(out / "samples.npz", npz.getvalue())
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(RESULTS_COLUMNS)
        for i in range(n):
            w.writerow([names[i], int(col.labels[i]), _fmt(col.scores[i]), int(decisions[i]),
                        _fmt(dice[i]) if valid[i] else "", _fmt(iou[i]) if valid[i] else "",
                        _fmt(col.max_prob[i]), int(gt_px[i]), int(pred_px[i]), int(col.segmented[i])])
        _atomic_text(out / "results.csv", buf.getvalue())
        for f in pending:
            png_s += f.result()
        pending.clear()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=False)
    t_end = time.perf_counter()
    metrics["timing"] = dict(total_s=t_end - t_start, load_s=p.t_load, forward_s=p.t_forward,
                             postprocess_s=p.t_post, finish_s=t_end - t_inf_end, png_thread_s=png_s,
                             n_batches=p.n_forward)
    metrics = _json_clean(metrics)
    _atomic_text(out / "metrics.json", json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    if events is not None:
        msg = (f"evaluated split '{split_name}': {n} samples in {metrics['timing']['total_s']:.1f} s "
               f"(forward {metrics['timing']['forward_s']:.1f} s) -> {out}")
        events.emit("log", level="info", message=msg)
    return metrics
