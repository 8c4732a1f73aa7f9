"""clDice (Shit et al., CVPR 2021): does the prediction follow each crack end to end, whatever its drawn width.

With ``P`` the predicted mask (``bin(p) >= k``), ``G`` the GT mask and ``S(.)`` the skeleton
(``skimage.morphology.skeletonize``, 8-connected)::

    Tprec = |S(P) & G| / |S(P)|      Tsens = |S(G) & P| / |S(G)|      clDice = 2 Tprec Tsens / (Tprec + Tsens)

Empty cases: ``Tprec = 1`` when ``S(P)`` is empty, ``Tsens = 1`` when ``S(G)`` is empty, ``clDice = 0`` when both
are 0. So GT and prediction both empty give 1, exactly one of them empty gives 0.

Streaming and thresholds: ``S(G)`` does not depend on the threshold, so ``Tsens`` at **every** edge comes from one
histogram per sample (``skel_hist_gt``: bins of ``p`` over the GT skeleton). ``S(P)`` changes with the threshold
and costs one skeletonisation per threshold (a few ms at 448x448, more on noisy maps), so ``Tprec`` and clDice are
computed **only at the operating threshold(s)** handed to :func:`cldice_counts` during evaluation; the slider shows
live ``Tsens`` and the stored clDice of the operating threshold (or recomputes one sample from its probability
map). Skeletons are computed on the bounding box of the mask only (identical result, much faster on sparse cracks).
"""
from __future__ import annotations

import numpy as np
from skimage.morphology import skeletonize

from trainer.metrics import pixels as metrics_pixels

CLDICE_COUNTS = ("skel_pred_in_gt", "skel_pred", "skel_gt_in_pred", "skel_gt")
"""The four integer counts of one sample at one threshold: ``|S(P)&G|, |S(P)|, |S(G)&P|, |S(G)|``."""


def skeleton(mask) -> np.ndarray:
    """The skeleton (bool, same shape) of a 2-D mask, computed on its bounding box (plus a 1-pixel margin)."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {m.shape}")
    out = np.zeros_like(m)
    rows = np.flatnonzero(m.any(axis=1))
    if not rows.size:
        return out
    cols = np.flatnonzero(m.any(axis=0))
    r0, r1 = max(rows[0] - 1, 0), min(rows[-1] + 2, m.shape[0])
    c0, c1 = max(cols[0] - 1, 0), min(cols[-1] + 2, m.shape[1])
    out[r0:r1, c0:c1] = skeletonize(m[r0:r1, c0:c1])
    return out


def cldice_from_counts(skel_pred_in_gt, skel_pred, skel_gt_in_pred, skel_gt) -> dict:
    """``dict(tprec, tsens, cldice)`` (arrays broadcast) from the four counts, with the module's empty-case rules."""
    a, sp, b, sg = (np.asarray(x, dtype=np.float64) for x in (skel_pred_in_gt, skel_pred, skel_gt_in_pred, skel_gt))
    shape = np.broadcast(a, sp, b, sg).shape
    tprec = np.divide(a, sp, out=np.ones(shape), where=sp > 0)
    tsens = np.divide(b, sg, out=np.ones(shape), where=sg > 0)
    s = tprec + tsens
    cl = np.divide(2 * tprec * tsens, s, out=np.zeros(shape), where=s > 0)
    return dict(tprec=tprec, tsens=tsens, cldice=cl)


def cldice_counts(prob, gt, threshold: float, gt_skeleton=None, bins=None) -> np.ndarray:
    """The four :data:`CLDICE_COUNTS` (``int64 [4]``) of one map at ``threshold`` (snapped up to its bin edge, as
    everywhere: predicted = ``bin(p) >= k``). Pass ``gt_skeleton`` / ``bins`` (the map's bins) to reuse them."""
    p = np.asarray(prob)
    g = np.asarray(gt, dtype=bool)
    if p.ndim != 2 or p.shape != g.shape:
        raise ValueError(f"probability map {p.shape} and GT {g.shape} must be equal 2-D shapes")
    k = metrics_pixels.threshold_to_bin(threshold)
    pred = (metrics_pixels.prob_to_bin(p) if bins is None else bins) >= k
    sp = skeleton(pred)
    sg = skeleton(g) if gt_skeleton is None else np.asarray(gt_skeleton, dtype=bool)
    return np.array([np.count_nonzero(sp & g), np.count_nonzero(sp), np.count_nonzero(sg & pred),
                     np.count_nonzero(sg)], dtype=np.int64)


def cldice(prob, gt, threshold: float) -> float:
    """clDice of one probability map at ``threshold`` (snapped up to its bin edge)."""
    return float(cldice_from_counts(*cldice_counts(prob, gt, threshold))["cldice"])


def skeleton_histogram(prob, gt, gt_skeleton=None, bins=None) -> np.ndarray:
    """``skel_hist_gt``: ``int64 [B]`` histogram of the probability bins over the GT skeleton ``S(G)``; then
    ``|S(G) & P_k| = skel_hist_gt[k:].sum()`` at every edge ``k``."""
    p = np.asarray(prob)
    sg = skeleton(gt) if gt_skeleton is None else np.asarray(gt_skeleton, dtype=bool)
    if p.shape != sg.shape:
        raise ValueError(f"probability map {p.shape} and GT {sg.shape} differ in shape")
    b = metrics_pixels.prob_to_bin(p[sg]) if bins is None else bins[sg]
    return np.bincount(b, minlength=metrics_pixels.B).astype(np.int64)


def tsens_at(skel_hist_gt, k: int) -> np.ndarray:
    """Topology sensitivity of every sample at edge ``k`` from ``skel_hist_gt [N, B]`` (1 for an empty GT)."""
    h = np.asarray(skel_hist_gt)
    k = int(k)
    if not 0 <= k <= metrics_pixels.B:
        raise ValueError(f"bin edge k={k} outside 0..{metrics_pixels.B}")
    hit = h[..., k:].sum(axis=-1, dtype=np.int64)
    tot = h.sum(axis=-1, dtype=np.int64)
    return np.divide(hit.astype(np.float64), tot, out=np.ones(np.shape(tot)), where=tot > 0)
