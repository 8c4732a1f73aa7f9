"""Precision, recall and F1 with a pixel tolerance, streaming: per-sample histograms, any threshold, ODS and OIS.

Definitions (``t`` = tolerance in pixels, default :data:`TOLERANCE_PX` = 2; the tolerance disk is every offset
``(dy, dx)`` with ``dy^2 + dx^2 <= t^2``, 13 pixels for ``t = 2``; thresholds are bin edges ``k / B`` of
:mod:`trainer.metrics`, a pixel is predicted crack when ``bin(p) >= k``):

* a GT crack pixel is **recalled** at ``k`` when a predicted pixel lies in its tolerance disk, i.e. when the
  maximum bin within the disk is ``>= k``. One max-filter of the bin image (``cv2.dilate`` with the disk) turns this
  into a histogram: ``tol_hist_gt[j]`` = GT crack pixels whose disk maximum falls in bin ``j``;
* a predicted pixel is **matched** at ``k`` when a GT crack pixel lies in its tolerance disk. "Near GT" does not
  depend on the threshold (it is the GT dilated by the disk), so ``tol_hist_near[j]`` = pixels near GT with bin
  ``j``. Pixels far from GT are ``hist_pos + hist_neg - tol_hist_near`` (the histogram of all pixels is the same),
  so they are not stored;
* ``recall(k) = recalled(k) / G``, ``precision(k) = matched(k) / predicted(k)``, ``F1 = 2PR / (P + R)``.

Matching is many-to-one (a predicted pixel may match any GT pixel in reach and vice versa), as in the crack
literature's tolerance evaluation (CrackForest, DeepCrack); BSDS's one-to-one assignment is not done.

Per sample (``per_sample_prf``): an empty prediction has precision 1; a sample without GT crack pixels has recall 1
when nothing is predicted, else 0; F1 of a sample is 1 when GT and prediction are both empty, 0 when only one is,
else ``2PR / (P + R)`` (0 when both are 0).

Split level (arrays ``[N, B]`` summed over samples):

* **ODS F1** (optimal dataset scale): one threshold for the whole split; P and R from the counts summed over all
  samples (negatives contribute their false positives), F1 at every edge, the best one (``ods``);
* **OIS F1** (optimal image scale): each image's best F1 over all edges ``k = 0..B-1``, **averaged over the images
  with at least one GT crack pixel** (the DeepCrack evaluation's mean of per-image best F; a crack-free image's best
  F1 would trivially be 1 at threshold 1, so negatives are left out). BSDS instead pools the counts at each image's
  best threshold and takes F1 of the totals; that value is returned too, as ``ois_f1_pooled``.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from trainer.metrics import pixels as metrics_pixels

TOLERANCE_PX = 2.0
"""Default tolerance of precision/recall/F1, in pixels (the crack papers' 2 px)."""


def tolerance_disk(tolerance: float = TOLERANCE_PX) -> np.ndarray:
    """The structuring element: ``uint8 [2r+1, 2r+1]``, 1 where ``dy^2 + dx^2 <= t^2`` (``r = floor(t)``)."""
    t = float(tolerance)
    if not (t >= 0 and math.isfinite(t)):
        raise ValueError(f"tolerance must be a finite number of pixels >= 0, got {tolerance!r}")
    r = int(math.floor(t))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return (yy * yy + xx * xx <= t * t + 1e-9).astype(np.uint8)


def bin_image(prob) -> np.ndarray:
    """``trainer.metrics.prob_to_bin`` of a probability map as ``uint16`` (the same bins, computed in one pass:
    clipping ``p * B`` to ``[0, B - 1]`` before truncating gives ``min(max(int(p * B), 0), B - 1)``)."""
    p = np.asarray(prob)
    if p.dtype != np.float32 and p.dtype != np.float64:
        p = p.astype(np.float64)
    if not np.isfinite(p).all():
        raise ValueError("probability map contains NaN or infinite values")
    return np.clip(p * p.dtype.type(metrics_pixels.B), 0, metrics_pixels.B - 1).astype(np.uint16)


def sample_tolerance_histograms(prob, gt, tolerance: float = TOLERANCE_PX, bins=None) -> tuple[np.ndarray, np.ndarray]:
    """``(tol_hist_gt, tol_hist_near)``, ``int64 [B]`` each, of one probability map ``[H, W]`` and its GT mask.

    ``tol_hist_gt``: bin of the maximum probability within the tolerance disk, over GT crack pixels.
    ``tol_hist_near``: bin of the probability, over pixels with a GT crack pixel within the tolerance.
    ``bins``: the map's :func:`bin_image` when already computed.
    """
    p = np.asarray(prob)
    g = np.asarray(gt)
    if p.ndim != 2 or p.shape != g.shape:
        raise ValueError(f"probability map {p.shape} and GT {g.shape} must be equal 2-D shapes")
    g = np.ascontiguousarray(g, dtype=bool)
    bins = bin_image(p) if bins is None else bins
    if not g.any():
        z = np.zeros(metrics_pixels.B, dtype=np.int64)
        return z, z.copy()
    disk = tolerance_disk(tolerance)
    if disk.size == 1:
        disk_max, near = bins, g
    else:
        disk_max = cv2.dilate(bins, disk, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        near = cv2.dilate(g.view(np.uint8), disk, borderType=cv2.BORDER_CONSTANT, borderValue=0).view(bool)
    h_gt = np.bincount(disk_max[g], minlength=metrics_pixels.B).astype(np.int64)
    h_near = np.bincount(bins[near], minlength=metrics_pixels.B).astype(np.int64)
    return h_gt, h_near


def batch_tolerance_histograms(prob, gt, tolerance: float = TOLERANCE_PX) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sample_tolerance_histograms` of a batch ``prob [b, H, W]``, ``gt [b, H, W]``: ``[b, B]`` each."""
    p = np.asarray(prob)
    g = np.asarray(gt)
    if p.ndim != 3 or p.shape != g.shape:
        raise ValueError(f"batch probability maps {p.shape} and GT {g.shape} must be equal [b, H, W] shapes")
    out = [sample_tolerance_histograms(p[i], g[i], tolerance) for i in range(p.shape[0])]
    return (np.stack([o[0] for o in out]) if out else np.zeros((0, metrics_pixels.B), np.int64),
            np.stack([o[1] for o in out]) if out else np.zeros((0, metrics_pixels.B), np.int64))


def rev_cumsum(h) -> np.ndarray:
    """``out[..., k] = h[..., k:].sum()`` for ``k = 0..B`` (``int64 [..., B + 1]``, last entry 0)."""
    a = np.asarray(h, dtype=np.int64)
    out = np.zeros(a.shape[:-1] + (a.shape[-1] + 1,), dtype=np.int64)
    out[..., :-1] = np.cumsum(a[..., ::-1], axis=-1)[..., ::-1]
    return out


def _div(num, den, empty: float) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, float(empty)), where=den > 0)


def f1_of(precision, recall) -> np.ndarray:
    """``2PR / (P + R)``, 0 where both are 0."""
    p = np.asarray(precision, dtype=np.float64)
    r = np.asarray(recall, dtype=np.float64)
    return _div(2 * p * r, p + r, 0.0)


def prf_from_counts(recalled, gt, matched, predicted) -> dict:
    """Per-sample tolerance precision/recall/F1 (the module's empty-case rules) from counts (arrays broadcast)."""
    recalled, gt, matched, predicted = (np.asarray(x, dtype=np.int64) for x in (recalled, gt, matched, predicted))
    precision = _div(matched, predicted, 1.0)
    recall = np.where(gt > 0, _div(recalled, gt, 0.0), np.where(predicted > 0, 0.0, 1.0))
    f1 = np.where(gt > 0, f1_of(precision, recall), np.where(predicted > 0, 0.0, 1.0))
    return dict(precision=precision, recall=recall, f1=f1)


def counts_at(tol_hist_gt, tol_hist_near, hist_pos, hist_neg, k: int) -> dict:
    """Counts of every sample at edge ``k``: ``recalled, gt, matched, predicted`` (``int64 [N]`` or scalars)."""
    k = int(k)
    if not 0 <= k <= metrics_pixels.B:
        raise ValueError(f"bin edge k={k} outside 0..{metrics_pixels.B}")
    hg = np.asarray(tol_hist_gt)
    return dict(recalled=hg[..., k:].sum(axis=-1, dtype=np.int64), gt=hg.sum(axis=-1, dtype=np.int64),
                matched=np.asarray(tol_hist_near)[..., k:].sum(axis=-1, dtype=np.int64),
                predicted=(np.asarray(hist_pos)[..., k:].sum(axis=-1, dtype=np.int64)
                           + np.asarray(hist_neg)[..., k:].sum(axis=-1, dtype=np.int64)))


def per_sample_prf(tol_hist_gt, tol_hist_near, hist_pos, hist_neg, k: int) -> dict:
    """Tolerance precision/recall/F1 of every sample at edge ``k`` (arrays ``[N]``)."""
    return prf_from_counts(**counts_at(tol_hist_gt, tol_hist_near, hist_pos, hist_neg, k))


def _split_curve_counts(tol_hist_gt, tol_hist_near, hist_pos, hist_neg, valid=None):
    arrays = [np.asarray(a) for a in (tol_hist_gt, tol_hist_near, hist_pos, hist_neg)]
    if any(a.shape[-1] != metrics_pixels.B for a in arrays):
        raise ValueError(f"histograms must have {metrics_pixels.B} bins, got {[a.shape for a in arrays]}")
    if valid is not None:
        v = np.asarray(valid, dtype=bool)
        arrays = [a[v] for a in arrays]
    tot = [a.reshape(-1, metrics_pixels.B).sum(axis=0, dtype=np.int64) for a in arrays]
    return tot[0], tot[1], tot[2] + tot[3]


def split_curve(tol_hist_gt, tol_hist_near, hist_pos, hist_neg, valid=None) -> dict:
    """Split-level (pooled) tolerance P/R/F1 at every edge ``k = 0..B``: ``dict(k, threshold, precision, recall,
    f1, recalled, gt, matched, predicted)``. ``valid`` (bool ``[N]``) selects the samples that count."""
    hg, hn, hall = _split_curve_counts(tol_hist_gt, tol_hist_near, hist_pos, hist_neg, valid)
    recalled, matched, predicted = rev_cumsum(hg), rev_cumsum(hn), rev_cumsum(hall)
    g = int(hg.sum())
    precision = _div(matched, predicted, 1.0)
    recall = _div(recalled, np.full_like(recalled, g), 0.0)
    k = np.arange(metrics_pixels.B + 1)
    return dict(k=k, threshold=k / metrics_pixels.B, precision=precision, recall=recall, f1=f1_of(precision, recall),
                recalled=recalled, gt=g, matched=matched, predicted=predicted)


def ods(tol_hist_gt, tol_hist_near, hist_pos, hist_neg, valid=None) -> dict:
    """ODS: the best pooled tolerance F1 over edges ``k = 0..B-1``.

    Candidates are the edges where a count changes (a non-empty bin of any histogram, the histogram analogue of
    distinct scores, as :func:`trainer.metrics.seg_threshold_pr`); ties go to the lowest threshold. Returns
    ``dict(ods_f1, ods_threshold, ods_bin, ods_precision, ods_recall)``; all ``None`` without GT crack pixels.
    """
    c = split_curve(tol_hist_gt, tol_hist_near, hist_pos, hist_neg, valid)
    if c["gt"] <= 0:
        return dict(ods_f1=None, ods_threshold=None, ods_bin=None, ods_precision=None, ods_recall=None)
    hg, hn, hall = _split_curve_counts(tol_hist_gt, tol_hist_near, hist_pos, hist_neg, valid)
    nonempty = (hg > 0) | (hn > 0) | (hall > 0)
    f1 = np.where(nonempty, c["f1"][:metrics_pixels.B], -1.0)
    k = int(np.argmax(f1))
    return dict(ods_f1=float(c["f1"][k]), ods_threshold=metrics_pixels.bin_to_threshold(k), ods_bin=k,
                ods_precision=float(c["precision"][k]), ods_recall=float(c["recall"][k]))


def ois(tol_hist_gt, tol_hist_near, hist_pos, hist_neg, valid=None, chunk: int = 256) -> dict:
    """OIS: each image's best tolerance F1 over ``k = 0..B-1``, averaged over images with GT crack pixels.

    Returns ``dict(ois_f1, ois_f1_pooled, ois_n, best_f1 [N] (NaN for images that do not count),
    best_bin [N] (-1 likewise))``; ``ois_f1`` and ``ois_f1_pooled`` are ``None`` when no image counts.
    """
    hg, hn = np.asarray(tol_hist_gt), np.asarray(tol_hist_near)
    hp, hneg = np.asarray(hist_pos), np.asarray(hist_neg)
    n = hg.shape[0]
    use = hg.sum(axis=1, dtype=np.int64) > 0
    if valid is not None:
        use &= np.asarray(valid, dtype=bool)
    best_f1 = np.full(n, np.nan)
    best_bin = np.full(n, -1, dtype=np.int64)
    pooled = np.zeros(4, dtype=np.int64)          # recalled, gt, matched, predicted at each image's best edge
    rows = np.flatnonzero(use)
    for s in range(0, rows.size, chunk):
        r = rows[s:s + chunk]
        rec = rev_cumsum(hg[r])[:, :metrics_pixels.B]
        mat = rev_cumsum(hn[r])[:, :metrics_pixels.B]
        pred = rev_cumsum(hp[r].astype(np.int64) + hneg[r])[:, :metrics_pixels.B]
        g = rec[:, :1]
        f1 = f1_of(_div(mat, pred, 1.0), _div(rec, np.broadcast_to(g, rec.shape), 0.0))
        kb = np.argmax(f1, axis=1)
        ix = np.arange(r.size)
        best_f1[r] = f1[ix, kb]
        best_bin[r] = kb
        pooled += np.array([rec[ix, kb].sum(), g.sum(), mat[ix, kb].sum(), pred[ix, kb].sum()])
    if not rows.size:
        return dict(ois_f1=None, ois_f1_pooled=None, ois_n=0, best_f1=best_f1, best_bin=best_bin)
    p = float(_div(pooled[2], pooled[3], 1.0))
    rcl = float(_div(pooled[0], pooled[1], 0.0))
    return dict(ois_f1=float(np.nanmean(best_f1[rows])), ois_f1_pooled=float(f1_of(p, rcl)), ois_n=int(rows.size),
                best_f1=best_f1, best_bin=best_bin)
