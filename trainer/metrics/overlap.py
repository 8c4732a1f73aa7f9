"""Dice and IoU with empty ground truth handled, and pixel average precision, from the ``hist_pos``/``hist_neg``
histograms of ``samples.npz``.

**Empty-aware Dice/IoU** (``dice_empty_ok``, ``iou_empty_ok``), exact, without smoothing:

* GT empty and prediction empty: 1 (a crack-free image left crack-free is perfect);
* GT empty and any predicted pixel: 0;
* otherwise ``Dice = 2 TP / (G + TP + FP)``, ``IoU = TP / (G + FP)``.

The reference formula (:func:`trainer.metrics.dice_iou_from_counts`, smoothing ``1e-15``) stays for comparison
with the published report: it agrees on the empty/empty case (``1e-15 / 1e-15``) and gives ``~1e-15 / FP`` instead of
exactly 0 to a negative with false positives; the published code applied it to the float (JPEG) GT and a strict
``>``, which is where it departs most.

**Pixel AP**: sklearn's average precision (``sum_k (R_k - R_{k+1}) P_k``, a step function, no interpolation) with the
bin of each pixel's probability as its score, from the histograms summed over the split; equal to
``sklearn.metrics.average_precision_score(gt, bin(p))`` over all the split's pixels.
"""
from __future__ import annotations

import numpy as np

from trainer.metrics import pixels as metrics_pixels


def dice_iou_empty_ok(tp, fp, g) -> tuple[np.ndarray, np.ndarray]:
    """Empty-aware Dice and IoU from integer counts (TP, FP, GT pixels); arrays broadcast."""
    tp = np.asarray(tp, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    shape = np.broadcast(tp, fp, g).shape
    d_den = g + tp + fp
    i_den = g + fp
    dice = np.divide(2 * tp, d_den, out=np.ones(shape), where=d_den > 0)
    iou = np.divide(tp, i_den, out=np.ones(shape), where=i_den > 0)
    return dice, iou


def dice_iou_empty_ok_from_hist(hist_pos, hist_neg, k: int, gate=None) -> tuple[np.ndarray, np.ndarray]:
    """Empty-aware Dice and IoU of every sample at bin edge ``k`` (``hist`` arrays ``[N, B]`` or ``[B]``);
    ``gate`` (bool ``[N]``): samples with ``False`` (classified negative) predict nothing."""
    return dice_iou_empty_ok(*metrics_pixels.counts_at(hist_pos, hist_neg, k, gate))


def pixel_ap(hist_pos_total, hist_neg_total) -> float | None:
    """Pixel average precision of a split from its summed histograms (``[B]`` each); ``None`` without GT pixels."""
    hp = np.asarray(hist_pos_total, dtype=np.int64).reshape(-1, metrics_pixels.B).sum(axis=0)
    hn = np.asarray(hist_neg_total, dtype=np.int64).reshape(-1, metrics_pixels.B).sum(axis=0)
    g = int(hp.sum())
    if g <= 0:
        return None
    tp = np.cumsum(hp[::-1])[::-1]          # tp[k] = hp[k:].sum()
    fp = np.cumsum(hn[::-1])[::-1]
    pred = tp + fp
    precision = np.divide(tp, pred, out=np.ones(metrics_pixels.B), where=pred > 0)
    recall = tp / g
    d_recall = recall - np.append(recall[1:], 0.0)
    return float(np.sum(d_recall * precision))
