"""Pixel-level metrics: probability histograms, segmentation thresholds and Dice/IoU from histograms.

Pixel level: per-sample histograms of the predicted probability, split by ground-truth class, with ``B = 4096``
bins. ``bin(p) = min(int(p * B), B - 1)``. A segmentation threshold is always a bin edge ``k / B``
(``k`` in ``0..B``) and a pixel is predicted crack when ``bin(p) >= k``. For ``k <= B - 1`` this is exactly
``p >= k / B`` (both sides are exact in float32/float64 because ``B`` is a power of two); ``k = B`` (threshold
1.0) predicts nothing. A free threshold ``t`` is snapped UP to the next edge, ``k = ceil(t * B)``, so that
"predicted" means ``p >= k/B >= t``. From the histograms, Dice/IoU of every sample at every edge and the best-F1
pixel threshold are computed without re-reading any probability map.

Dice/IoU use the reference formula on binary GT (``reference-model.md`` §3.2), with ``TP = hist_pos[k:].sum()``,
``FP = hist_neg[k:].sum()``, ``G = hist_pos.sum()``::

    Dice = (2 TP + 1e-15) / (G + TP + FP + 1e-15)       IoU = (TP + 1e-15) / (G + FP + 1e-15)

so a negative with an empty prediction scores 1, and any false-positive pixel on a negative gives ~0.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from trainer.metrics.image import F_EPS


B = 4096
"""Number of probability bins of every histogram (the evaluation-folder contract)."""

SMOOTH = 1e-15
"""Smoothing of the reference Dice/IoU formula."""


def prob_to_bin(p) -> np.ndarray:
    """Bin index of probabilities: ``min(int(p * B), B - 1)`` (values below 0 go to bin 0)."""
    a = np.asarray(p)
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    b = (a * B).astype(np.int64)
    if b.ndim == 0:
        return np.int64(min(max(int(b), 0), B - 1))
    np.clip(b, 0, B - 1, out=b)
    return b


def prob8_bins() -> np.ndarray:
    """The bin of each stored 8-bit probability ``v`` (``p = v / 255``; 8-bit maps and thumbnails), int64 [256]."""
    return prob_to_bin(np.arange(256, dtype=np.float64) / 255.0)


_PROB8_BINS = prob8_bins()


def prob8_min_at_bin(k: int) -> int:
    """The smallest 8-bit probability predicted crack at bin edge ``k`` (``bin(v / 255) >= k``); 256 when none is,
    so ``prob8 >= prob8_min_at_bin(k)`` is the predicted mask of an 8-bit map."""
    return int(np.searchsorted(_PROB8_BINS, int(k), side="left"))


def threshold_to_bin(t: float) -> int:
    """Bin-edge index ``k`` of a threshold: ``ceil(t * B)`` clipped to ``[0, B]``.

    Snapping goes UP to the next edge, so a pixel is predicted (``bin(p) >= k``, i.e. ``p >= k / B``) only if
    ``p >= t``; thresholds that already are edges map to themselves. ``t >= 1`` gives ``k = B``: nothing predicted.
    """
    t = float(t)
    if math.isnan(t):
        raise ValueError("threshold is NaN")
    return int(min(max(math.ceil(t * B), 0), B))


def bin_to_threshold(k: int) -> float:
    """Threshold value of bin edge ``k``: ``k / B``."""
    return int(k) / B


def snap_threshold(t: float) -> float:
    """``t`` snapped to its bin edge (what is actually applied)."""
    return bin_to_threshold(threshold_to_bin(t))


def sample_histograms(prob, gt_bool, stride: int = 1, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Histograms (``int64 [B]`` each) of ``prob`` over GT-crack pixels and GT-background pixels.

    ``stride``/``offset`` subsample the flattened arrays as ``[offset::stride]`` (the reference's
    ``dice_threshold_factor``: keep every k-th pixel of the concatenated split; pass the running offset to continue
    the stride across samples, see ``next_offset``).
    """
    p = np.asarray(prob)
    g = np.asarray(gt_bool)
    if p.size != g.size:
        raise ValueError(f"probability map ({p.shape}) and GT ({g.shape}) differ in size")
    p = p.reshape(-1)
    g = g.reshape(-1)
    if stride > 1 or offset:
        p = p[offset::max(int(stride), 1)]
        g = g[offset::max(int(stride), 1)]
    b = prob_to_bin(p)
    b[g.astype(bool)] += B
    h = np.bincount(b, minlength=2 * B)
    return h[B:], h[:B]


def next_offset(offset: int, n_pixels: int, stride: int) -> int:
    """Offset into the next sample so that ``[offset::stride]`` continues a global stride over concatenated samples."""
    stride = max(int(stride), 1)
    return (int(offset) - int(n_pixels)) % stride


def pixel_pr_curve(hist_pos_total, hist_neg_total) -> dict:
    """Pixel-level PR curve over bin edges ``k = 0..B-1`` from summed histograms.

    Returns ``dict(k, threshold, precision, recall, f1, tp, fp)`` (numpy arrays over k; precision of an empty
    prediction is 1, as in sklearn). Decision ``bin(p) >= k``.
    """
    hp = np.asarray(hist_pos_total, dtype=np.float64).reshape(-1)
    hn = np.asarray(hist_neg_total, dtype=np.float64).reshape(-1)
    if hp.size != B or hn.size != B:
        raise ValueError(f"histograms must have {B} bins, got {hp.size} and {hn.size}")
    tp = np.cumsum(hp[::-1])[::-1]          # tp[k] = sum(hp[k:])
    fp = np.cumsum(hn[::-1])[::-1]
    g = tp[0]
    pred = tp + fp
    precision = np.divide(tp, pred, out=np.ones_like(tp), where=pred > 0)
    recall = tp / g if g > 0 else np.zeros_like(tp)
    f1 = 2 * precision * recall / (precision + recall + F_EPS)
    k = np.arange(B)
    return dict(k=k, threshold=k / B, precision=precision, recall=recall, f1=f1, tp=tp, fp=fp)


def seg_threshold_pr(hist_pos_total, hist_neg_total) -> tuple[float | None, float]:
    """``dice_threshold = 2``: the best-F1 threshold of the pixel-level PR curve, from summed histograms.

    Candidates are the lower edges of non-empty bins (the histogram analogue of sklearn's distinct score values, so
    a run of empty bins never moves the threshold away from the data); ties go to the lowest threshold, as with
    sklearn's argmax. The result is within one bin of sklearn's exact ``precision_recall_curve`` threshold.
    Returns ``(threshold, f1)``; ``(None, 0.0)`` when there are no GT-crack pixels.
    """
    c = pixel_pr_curve(hist_pos_total, hist_neg_total)
    if c["tp"][0] <= 0:
        return None, 0.0
    hp = np.asarray(hist_pos_total).reshape(-1)
    hn = np.asarray(hist_neg_total).reshape(-1)
    nonempty = (hp > 0) | (hn > 0)
    f1 = np.where(nonempty, c["f1"], -1.0)
    k = int(np.argmax(f1))
    return bin_to_threshold(k), float(c["f1"][k])


def seg_threshold_min_max(max_probs_of_positives) -> float | None:
    """``dice_threshold = 1``: the minimum over positives of each image's maximum probability, snapped DOWN to its
    bin edge (``bin(min max)/B``) so that every positive keeps at least its maximum pixel. ``None`` without positives.
    """
    m = np.asarray(list(max_probs_of_positives) if not isinstance(max_probs_of_positives, np.ndarray)
                   else max_probs_of_positives, dtype=np.float64).reshape(-1)
    if not m.size:
        return None
    return bin_to_threshold(int(prob_to_bin(m.min())))


# ----------------------------------------------------------------------------------------------------------------
# Dice / IoU
# ----------------------------------------------------------------------------------------------------------------

def dice_iou_from_counts(tp, fp, g) -> tuple[np.ndarray, np.ndarray]:
    """The reference formula from integer counts (TP, FP, GT pixels); the single place where it is written."""
    tp = np.asarray(tp, dtype=np.float64)
    fp = np.asarray(fp, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    dice = (2.0 * tp + SMOOTH) / (g + tp + fp + SMOOTH)
    iou = (tp + SMOOTH) / (g + fp + SMOOTH)
    return dice, iou


def dice_iou_from_hist(hist_pos, hist_neg, k: int, gate=None) -> tuple[np.ndarray, np.ndarray]:
    """Dice and IoU of every sample at bin edge ``k`` (vectorised; hist arrays ``[N, B]`` or ``[B]``).

    ``gate`` (optional bool ``[N]``): samples with ``gate == False`` (classified negative) get an empty prediction.
    """
    return dice_iou_from_counts(*counts_at(hist_pos, hist_neg, k, gate))


def counts_at(hist_pos, hist_neg, k: int, gate=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(TP, FP, G)`` of every sample at bin edge ``k`` from ``hist`` arrays ``[N, B]`` (or ``[B]``): a pixel is
    predicted crack when ``bin(p) >= k``; ``gate`` (bool ``[N]``): samples with ``False`` predict nothing."""
    hp = np.asarray(hist_pos)
    hn = np.asarray(hist_neg)
    if hp.shape != hn.shape or hp.shape[-1] != B:
        raise ValueError(f"histograms must be [N, {B}] and equal in shape, got {hp.shape} and {hn.shape}")
    k = int(k)
    if not 0 <= k <= B:
        raise ValueError(f"bin edge k={k} outside 0..{B}")
    g = hp.sum(axis=-1, dtype=np.int64)
    tp = hp[..., k:].sum(axis=-1, dtype=np.int64)
    fp = hn[..., k:].sum(axis=-1, dtype=np.int64)
    if gate is not None:
        gate = np.asarray(gate, dtype=bool)
        tp = np.where(gate, tp, 0)
        fp = np.where(gate, fp, 0)
    return tp, fp, g


def dice_valid(labels, segmented) -> np.ndarray:
    """Samples whose Dice means something: pixel-labelled samples and all negatives (their GT is empty by
    definition). Weakly labelled positives (no mask) are excluded from Dice statistics."""
    return np.asarray(segmented, dtype=bool) | (np.asarray(labels).astype(np.int64) == 0)


def dice_stats(dice, iou, valid=None) -> dict:
    """Mean and population std (``np.std``) of Dice and IoU over all samples (or those with ``valid``).

    Returns ``dict(dice_mean, dice_std, iou_mean, iou_std, dice_n)``; values are ``None`` when no sample counts.
    """
    d = np.asarray(dice, dtype=np.float64).reshape(-1)
    i = np.asarray(iou, dtype=np.float64).reshape(-1)
    if valid is not None:
        v = np.asarray(valid, dtype=bool).reshape(-1)
        d, i = d[v], i[v]
    if not d.size:
        return dict(dice_mean=None, dice_std=None, iou_mean=None, iou_std=None, dice_n=0)
    return dict(dice_mean=float(d.mean()), dice_std=float(d.std()), iou_mean=float(i.mean()),
                iou_std=float(i.std()), dice_n=int(d.size))


class CumulativeHist:
    """Per-sample reverse cumulative histograms, for Dice/IoU of all samples at any threshold in O(N).

    Built once from ``hist_pos``/``hist_neg`` ``[N, B]`` (e.g. ``samples.npz``); stores ``tp[k, i] =
    hist_pos[i, k:].sum()`` and ``fp[k, i]`` as ``[B + 1, N]`` (row k contiguous; int32 when counts allow, else
    int64). ``scores`` (optional) enables gating by an image threshold.
    """

    def __init__(self, hist_pos, hist_neg, scores=None):
        hp = np.asarray(hist_pos)
        hn = np.asarray(hist_neg)
        if hp.ndim == 1:
            hp, hn = hp[None], hn[None]
        if hp.shape != hn.shape or hp.ndim != 2 or hp.shape[1] != B:
            raise ValueError(f"histograms must be [N, {B}] and equal in shape, got {hp.shape} and {hn.shape}")
        n = hp.shape[0]
        total = int((hp.sum(axis=1, dtype=np.int64) + hn.sum(axis=1, dtype=np.int64)).max()) if n else 0
        dtype = np.int32 if total < 2 ** 31 else np.int64
        self.n = n
        self.tp = self._rev_cumsum(hp, dtype)
        self.fp = self._rev_cumsum(hn, dtype)
        self.gt = self.tp[0].astype(np.int64)
        self.scores = None if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1)
        if self.scores is not None and self.scores.size != n:
            raise ValueError(f"scores ({self.scores.size}) and histograms ({n}) differ in length")

    @staticmethod
    def _rev_cumsum(h: np.ndarray, dtype) -> np.ndarray:
        out = np.zeros((B + 1, h.shape[0]), dtype=dtype)
        np.cumsum(h.T[::-1], axis=0, dtype=dtype, out=out[:B][::-1])
        return out

    def counts(self, k: int, image_threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """TP and FP pixel counts of every sample at edge ``k`` (gated when ``image_threshold`` is given)."""
        k = int(k)
        if not 0 <= k <= B:
            raise ValueError(f"bin edge k={k} outside 0..{B}")
        tp, fp = self.tp[k], self.fp[k]
        if image_threshold is not None:
            if self.scores is None:
                raise ValueError("gating needs the scores: CumulativeHist(hist_pos, hist_neg, scores)")
            keep = self.scores >= float(image_threshold)
            tp = np.where(keep, tp, 0)
            fp = np.where(keep, fp, 0)
        return tp, fp

    def dice_iou(self, k: int, image_threshold: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Dice and IoU ``[N]`` at edge ``k``; with ``image_threshold``, samples scoring below it predict nothing."""
        tp, fp = self.counts(k, image_threshold)
        return dice_iou_from_counts(tp, fp, self.gt)

    def dice_iou_at(self, threshold: float, image_threshold: float | None = None):
        """Same as ``dice_iou`` for a threshold value (snapped up to its bin edge)."""
        return self.dice_iou(threshold_to_bin(threshold), image_threshold)

    def mean_curve(self, valid=None, ks: Iterable[int] | None = None) -> dict:
        """Mean Dice and IoU (over ``valid`` samples) at every edge ``k`` (or the given ``ks``): for a Dice-vs-threshold
        plot. Returns ``dict(k, threshold, dice, iou)`` arrays."""
        ks = np.arange(B + 1) if ks is None else np.asarray(list(ks), dtype=np.int64)
        tp, fp = self.tp[ks], self.fp[ks]
        gt = self.gt
        if valid is not None:
            v = np.asarray(valid, dtype=bool)
            tp, fp, gt = tp[:, v], fp[:, v], gt[v]
        d, i = dice_iou_from_counts(tp, fp, gt[None, :])
        if d.shape[1] == 0:
            nan = np.full(len(ks), np.nan)
            return dict(k=ks, threshold=ks / B, dice=nan, iou=nan)
        return dict(k=ks, threshold=ks / B, dice=d.mean(axis=1), iou=i.mean(axis=1))
