"""Measurement accuracy: predicted cracks against ground-truth cracks, matched by overlap.

Two cracks overlap when their pixels touch within ``tolerance_px`` (each mask is compared with the other one
dilated by that many pixels, so a prediction one or two pixels off still matches). The match score of a predicted
crack P and a ground-truth crack G is the tolerant Dice ``(|P & dil(G)| + |dil(P) & G|) / (|P| + |G|)``. Pairs are
matched one to one (the assignment with the highest total score, ``scipy.optimize.linear_sum_assignment``); pairs
scoring below ``min_score`` stay unmatched. A crack that the prediction splits in two is therefore matched to the
larger piece only, and the other piece counts as unmatched.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from trainer.measure.geometry import ImageGeometry, label_mask, measure_mask

__all__ = ["CrackPair", "ImageMatch", "match_cracks", "accuracy", "TOLERANCE_PX", "MIN_SCORE"]

TOLERANCE_PX = 2
MIN_SCORE = 0.2


@dataclass
class CrackPair:
    image: str
    pred_id: int
    gt_id: int
    score: float
    pred_length: float          # px
    gt_length: float
    pred_width_max: float       # px
    gt_width_max: float
    mm_per_px: float | None = None


@dataclass
class ImageMatch:
    pairs: list[CrackPair]
    pred: ImageGeometry
    gt: ImageGeometry
    pred_unmatched: list[int]   # crack ids
    gt_unmatched: list[int]


def _overlap_counts(lab_a: np.ndarray, n_a: int, lab_b: np.ndarray, n_b: int, tol: int) -> np.ndarray:
    """counts[i, j] = pixels of component i of A inside component j of B dilated by ``tol``."""
    if tol > 0:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tol + 1, 2 * tol + 1))
        if n_b < 65536:
            lab_b = cv2.dilate(lab_b.astype(np.uint16), k).astype(np.int64)
        else:
            from scipy.ndimage import grey_dilation
            lab_b = grey_dilation(lab_b, footprint=k.astype(bool)).astype(np.int64)
    sel = (lab_a > 0) & (lab_b > 0)
    flat = lab_a[sel].astype(np.int64) * n_b + lab_b[sel]
    return np.bincount(flat, minlength=n_a * n_b).reshape(n_a, n_b)


def match_cracks(pred_mask: np.ndarray, gt_mask: np.ndarray, *, image: str = "", mm_per_px: float | None = None,
                 tolerance_px: int = TOLERANCE_PX, min_score: float = MIN_SCORE, min_area: int | None = None
                 ) -> ImageMatch:
    """Measure both masks (same H x W) and pair their cracks; lengths and widths of a pair are in pixels."""
    if np.shape(pred_mask) != np.shape(gt_mask):
        raise ValueError(f"{image or 'masks'}: prediction {np.shape(pred_mask)} and ground truth "
                         f"{np.shape(gt_mask)} differ in size")
    kw = {} if min_area is None else {"min_area": min_area}
    lp, lg = label_mask(pred_mask), label_mask(gt_mask)
    pred, gt = measure_mask(pred_mask, labelled=lp, **kw), measure_mask(gt_mask, labelled=lg, **kw)
    pairs: list[CrackPair] = []
    if pred.cracks and gt.cracks:
        pg = _overlap_counts(lp[1], lp[0], lg[1], lg[0], tolerance_px)     # |P & dil(G)|
        gp = _overlap_counts(lg[1], lg[0], lp[1], lp[0], tolerance_px).T   # |dil(P) & G|
        pl = np.array([c.label for c in pred.cracks])
        gl = np.array([c.label for c in gt.cracks])
        area_p = np.array([c.area for c in pred.cracks], float)
        area_g = np.array([c.area for c in gt.cracks], float)
        score = (pg[np.ix_(pl, gl)] + gp[np.ix_(pl, gl)]) / (area_p[:, None] + area_g[None, :])
        rows, cols = linear_sum_assignment(-score)
        for r, c in zip(rows, cols):
            if score[r, c] >= min_score:
                p, g = pred.cracks[r], gt.cracks[c]
                pairs.append(CrackPair(image, p.id, g.id, float(score[r, c]), p.length, g.length, p.width_max,
                                       g.width_max, mm_per_px))
    mp, mg = {p.pred_id for p in pairs}, {p.gt_id for p in pairs}
    return ImageMatch(pairs, pred, gt, [c.id for c in pred.cracks if c.id not in mp],
                      [c.id for c in gt.cracks if c.id not in mg])


def accuracy(matches: list[ImageMatch]) -> dict:
    """Mean absolute errors of the matched pairs: length and maximum width in px, and in mm over the pairs whose
    image has a scale (``None`` when none has)."""
    pairs = [p for m in matches for p in m.pairs]
    out = dict(n_pairs=len(pairs), n_pred=sum(m.pred.n_cracks for m in matches),
               n_gt=sum(m.gt.n_cracks for m in matches),
               n_pred_unmatched=sum(len(m.pred_unmatched) for m in matches),
               n_gt_unmatched=sum(len(m.gt_unmatched) for m in matches),
               length_mae_px=None, width_max_mae_px=None, length_mae_mm=None, width_max_mae_mm=None,
               n_pairs_mm=0)
    if not pairs:
        return out
    dl = np.array([p.pred_length - p.gt_length for p in pairs])
    dw = np.array([p.pred_width_max - p.gt_width_max for p in pairs])
    out.update(length_mae_px=float(np.abs(dl).mean()), width_max_mae_px=float(np.abs(dw).mean()))
    k = np.array([p.mm_per_px if p.mm_per_px is not None else np.nan for p in pairs], float)
    has = np.isfinite(k)
    if has.any():
        out.update(length_mae_mm=float(np.abs(dl[has] * k[has]).mean()),
                   width_max_mae_mm=float(np.abs(dw[has] * k[has]).mean()), n_pairs_mm=int(has.sum()))
    return out
