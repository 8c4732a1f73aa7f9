"""Inference over a split -> per-sample results, metrics and the files of an evaluation folder.

``evaluate_split`` writes an evaluation folder (the files: :mod:`trainer.runs.evaluation`);
``compute_validation`` is the same inference pass without files, used by the training loop after validation epochs.

Only histograms (2 x 4096 counts per sample) and a few scalars per sample are kept, never the pixels of a split, so
memory stays flat whatever the split size. Probability maps are PNG-encoded by a small thread pool while the next
batch runs through the network.
"""
from __future__ import annotations

import concurrent.futures as cf
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

from trainer.errors import DataError
from trainer.metrics import image as MI
from trainer.metrics import pixels as MP
from trainer.metrics import crack_record as CR
from trainer.metrics import uncertainty as U
from trainer.metrics.collector import EvalCollector, choose_seg_threshold, dice_block
from trainer.metrics.tolerance import TOLERANCE_PX
from trainer.runs import paths
from trainer.runs.evaluation import json_clean, write_metrics, write_prob_png, write_results, write_samples
from trainer.metrics.image import DEFAULT_THRESHOLD
from trainer.training.inference import InferencePass


def preload_sklearn() -> None:
    """Import sklearn.metrics (1-3 s, once per process) in a background thread while the network runs."""
    if "sklearn.metrics" in sys.modules:
        return

    def work():
        try:
            import sklearn.metrics  # noqa: F401
        except Exception:           # the main thread's own import will report it
            pass

    threading.Thread(target=work, name="preload-sklearn", daemon=True).start()


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
    make_pass = getattr(dataset, "inference_pass", InferencePass)  # tiles runs: sliding windows, full size
    p = make_pass(model, dataset, device=device, precision=precision, channels_last=channels_last,
              batch_size=batch_size, num_workers=num_workers, losses=True)
    col = EvalCollector(n, stride=dice_threshold_factor)
    preload_sklearn()
    done = 0
    for out in p:
        col.add(out)
        done += len(out["index"])
        if progress is not None:
            progress(done, n)
    col.check_complete()
    col.check_finite(_names(dataset, n))

    im = MI.image_metrics(col.labels, col.scores)
    undefined = list(im["undefined"])
    seg_t, seg_f1 = choose_seg_threshold(col, dice_threshold)
    if seg_t is None:
        seg_t = DEFAULT_THRESHOLD
        undefined.append("seg_threshold")
    stats, _, _, _ = dice_block(col, seg_t)
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
    return json_clean(res)


def evaluate_split(model, dataset, out_dir, *, seg_threshold: float | None, image_threshold: float | None = None,
                   device="cpu", precision: str = "fp32", channels_last: bool = False, write_maps: bool = True,
                   events=None, dice_threshold_factor: int = 1, honest: dict | None = None,
                   split: str | None = None, checkpoint: str | None = None, batch_size: int = 1,
                   num_workers: int = 0, png_threads: int = 1, tolerance_px: float = TOLERANCE_PX,
                   cldice: bool = True, tta: bool = False, temperature: dict | None = None,
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

    Crack metrics (:mod:`trainer.metrics.crack_record`): tolerance precision/recall/F1 (``tolerance_px``), ODS/OIS,
    pixel AP, clDice at ``seg_threshold`` (none when it is chosen after the pass; ``cldice=False`` skips the
    skeletons), Dice/IoU with empty GT = 1 and the
    reliability diagrams / ECE. ``temperature`` (:func:`trainer.metrics.calibration.temperature_record`, fitted on
    validation) is applied to the calibration part and recorded. ``tta``: flip TTA; writes ``uncertainty/<name>.png``
    and the per-sample ``uncertainty``.
    """
    t_start = time.perf_counter()
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probs_dir = out / paths.PROBS
        if write_maps:
            probs_dir.mkdir(exist_ok=True)
        if tta:
            (out / paths.UNCERTAINTY).mkdir(exist_ok=True)
        # metrics.json is written last and marks a complete folder: drop a previous one while this pass runs
        (out / paths.METRICS).unlink(missing_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the evaluation folder ({exc.strerror or exc})", out) from None
    n = len(dataset)
    names = _names(dataset, n)
    split_name = _split_name(dataset, split)
    if events is not None:
        events.emit("log", level="info", message=f"evaluating split '{split_name}': {n} samples -> {out}")

    make_pass = getattr(dataset, "inference_pass", InferencePass)  # tiles runs: sliding windows, full size
    p = make_pass(model, dataset, device=device, precision=precision, channels_last=channels_last,
                  batch_size=batch_size, num_workers=num_workers, losses=False, **({"tta": True} if tta else {}))
    col = EvalCollector(n, stride=dice_threshold_factor)
    crack = CR.CrackCollector(n, tolerance_px, cldice_threshold=seg_threshold, cldice=cldice)
    preload_sklearn()
    pool = cf.ThreadPoolExecutor(max_workers=max(int(png_threads), 1), thread_name_prefix="probs-png") \
        if (write_maps or tta) else None
    pending: list[cf.Future] = []
    input_hw = None
    done = 0
    png_s = 0.0
    crack_s = 0.0
    try:
        for batch_out in p:
            col.add(batch_out)
            prob = batch_out["prob"]
            tc = time.perf_counter()
            crack.add(batch_out["index"], prob, batch_out["gt"])
            crack_s += time.perf_counter() - tc
            input_hw = [int(prob.shape[-2]), int(prob.shape[-1])]
            if tta:
                for j, i in enumerate(batch_out["index"]):
                    unc = batch_out["uncertainty"][j]
                    crack.set_uncertainty(i, U.uncertainty_score(unc))
                    pending.append(pool.submit(write_prob_png, paths.uncertainty_png_path(out, names[i]),
                                               U.uncertainty_to_u8(unc)))
            if write_maps:
                u8 = np.rint(prob * np.float32(255.0)).astype(np.uint8)   # round(p * 255)
                for j, i in enumerate(batch_out["index"]):
                    pending.append(pool.submit(write_prob_png, probs_dir / paths.prob_png_name(names[i]), u8[j]))
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
        im = MI.image_metrics(col.labels, col.scores)
        undefined = list(im["undefined"])
        decision_threshold = image_threshold if image_threshold is not None else im["best_threshold"]
        if decision_threshold is None:
            decision_threshold = DEFAULT_THRESHOLD
        seg_source = "given"
        if seg_threshold is None:
            hp, hn = col.threshold_hists()
            seg_threshold, _ = MP.seg_threshold_pr(hp, hn)
            seg_source = "split"
            if seg_threshold is None:
                seg_threshold = DEFAULT_THRESHOLD
                seg_source = "default"
                undefined.append("seg_threshold")
        stats, dice, iou, k = dice_block(col, seg_threshold)
        if stats["dice_n"] == 0:
            undefined += ["dice_mean", "dice_std", "iou_mean", "iou_std"]
        valid = col.valid()
        decisions = col.scores.astype(np.float64) >= float(decision_threshold)
        gated_stats, _, _, _ = dice_block(col, seg_threshold, gate=decisions)
        tp_px = col.hist_pos[:, k:].sum(axis=1, dtype=np.int64)
        pred_px = tp_px + col.hist_neg[:, k:].sum(axis=1, dtype=np.int64)
        gt_px = col.hist_pos.sum(axis=1, dtype=np.int64)
        # the reference formula's float sums leave ~1e-17 where nothing overlaps: no TP pixel = exactly 0
        dice, iou = np.where(tp_px == 0, 0.0, dice), np.where(tp_px == 0, 0.0, iou)

        crack_arrays = crack.arrays()
        crack_samples = dict(hist_pos=col.hist_pos, hist_neg=col.hist_neg, labels=col.labels, scores=col.scores,
                             **crack_arrays)
        crack_metrics = CR.split_metrics(crack_samples, k, tolerance_px, crack.cldice_threshold, valid=valid,
                                         temperature=temperature)
        crack_cols = CR.columns(crack_samples, k)

        honest_block = None
        h = dict(honest) if honest else ({"image_threshold": image_threshold} if image_threshold is not None else None)
        if h is not None:
            h_img = h.get("image_threshold")
            h_seg = h.get("seg_threshold", seg_threshold)
            if h_seg is None:
                h_seg = seg_threshold
            hm = MI.image_metrics(col.labels, col.scores,
                                 threshold=h_img if h_img is not None else DEFAULT_THRESHOLD)
            h_stats, _, _, hk = dice_block(col, h_seg)
            honest_block = dict(image_threshold=h_img, decision_threshold=hm["threshold"],
                                seg_threshold=float(h_seg),
                                seg_threshold_bin=hk, seg_threshold_applied=MP.bin_to_threshold(hk),
                                tp=hm["tp"], fp=hm["fp"], fn=hm["fn"], tn=hm["tn"], accuracy=hm["accuracy"],
                                f_measure=hm["f_measure"], **h_stats)

        sp, sn = col.threshold_hists()
        best_t, best_f1 = MP.seg_threshold_pr(sp, sn)

        metrics = dict(
            split=split_name, n=n, n_positives=im["n_positives"], n_negatives=im["n_negatives"],
            auc=im["auc"], ap=im["ap"], ap_sklearn=im["ap_sklearn"], best_threshold=im["best_threshold"],
            f_measure=im["f_measure"], tp=im["tp"], fp=im["fp"], fn=im["fn"], tn=im["tn"],
            accuracy=im["accuracy"],
            seg_threshold=float(seg_threshold), seg_threshold_source=seg_source, seg_threshold_bin=k,
            seg_threshold_applied=MP.bin_to_threshold(k), **stats,
            decision_threshold=float(decision_threshold),
            gated=dict(image_threshold=float(decision_threshold), **gated_stats),
            honest=honest_block,
            split_best=dict(seg_threshold=best_t, pixel_f1=best_f1 if best_t is not None else None,
                            dice_threshold_factor=int(dice_threshold_factor)),
            bins=MP.B, input_hw=input_hw, checkpoint=str(checkpoint) if checkpoint is not None else None,
            device=str(p.dev), precision=p.precision, channels_last=bool(channels_last),
            undefined=undefined, undefined_reason=im["undefined_reason"], tta=bool(tta),
            image_score_rule=getattr(dataset, "image_score_rule", "whole_image"),  # tiles: max of the windows
            **crack_metrics,
        )

        # ---- files ----
        write_samples(out, names=np.asarray(names, dtype=str), labels=col.labels, scores=col.scores,
                      segmented=col.segmented, hist_pos=col.hist_pos, hist_neg=col.hist_neg, max_prob=col.max_prob,
                      **crack_arrays)
        extra = list(crack_cols)
        write_results(out, ([names[i], int(col.labels[i]), col.scores[i], int(decisions[i]),
                             dice[i] if valid[i] else None, iou[i] if valid[i] else None,
                             col.max_prob[i], int(gt_px[i]), int(pred_px[i]), int(col.segmented[i])]
                            + [crack_cols[c][i] for c in extra] for i in range(n)), extra_columns=extra)
        for f in pending:
            png_s += f.result()
        pending.clear()
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=False)
    t_end = time.perf_counter()
    metrics["timing"] = dict(total_s=t_end - t_start, load_s=p.t_load, forward_s=p.t_forward,
                             postprocess_s=p.t_post, finish_s=t_end - t_inf_end, png_thread_s=png_s,
                             crack_metrics_s=crack_s,
                             n_batches=p.n_forward)
    metrics = write_metrics(out, metrics)
    if events is not None:
        msg = (f"evaluated split '{split_name}': {n} samples in {metrics['timing']['total_s']:.1f} s "
               f"(forward {metrics['timing']['forward_s']:.1f} s) -> {out}")
        events.emit("log", level="info", message=msg)
    return metrics
