"""Measurement accuracy: predicted cracks against ground-truth cracks, matched by overlap.

Overlap is tolerant: each mask is compared with the other one dilated by ``tolerance_px`` pixels, so a prediction
one or two pixels off still overlaps. A predicted crack P and a ground-truth crack G are linked when at least
``min_cover`` of either lies on the other: ``|P & dil(G)| >= min_cover |P|`` or ``|dil(P) & G| >= min_cover |G|``.

Predictions often break one crack into pieces, or join two cracks into one, so cracks are compared by **group**: the
connected groups of the links (union-find over the bipartite graph). A matched group holds one or more predicted
and one or more ground-truth cracks; its lengths are the sums and its maximum widths the maxima of each side. So a
crack predicted in three pieces is compared with its full length, not with its largest piece. Cracks without a link
are unmatched (false or missed cracks); they count in ``accuracy`` but have no error.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import grey_dilation

from trainer.measure.geometry import ImageGeometry, label_mask, measure_mask

__all__ = ["CrackPair", "ImageMatch", "match_cracks", "accuracy", "TOLERANCE_PX", "MIN_COVER"]

TOLERANCE_PX = 2
MIN_COVER = 0.3


@dataclass
class CrackPair:
    """A matched group: predicted crack ids and ground-truth crack ids, with summed lengths and maximum widths."""
    image: str
    pred_ids: list[int]
    gt_ids: list[int]
    score: float                # tolerant Dice of the two sides
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
            lab_b = grey_dilation(lab_b, footprint=k.astype(bool)).astype(np.int64)
    sel = (lab_a > 0) & (lab_b > 0)
    flat = lab_a[sel].astype(np.int64) * n_b + lab_b[sel]
    return np.bincount(flat, minlength=n_a * n_b).reshape(n_a, n_b)


def _groups(links: np.ndarray) -> list[tuple[list[int], list[int]]]:
    """Connected groups of a boolean (n_pred, n_gt) link matrix, as (pred indices, gt indices)."""
    n_p, n_g = links.shape
    parent = list(range(n_p + n_g))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for p, g in zip(*np.nonzero(links)):
        parent[find(int(p))] = find(n_p + int(g))
    out: dict[int, tuple[list[int], list[int]]] = {}
    for i in range(n_p + n_g):
        r = find(i)
        if i < n_p:
            out.setdefault(r, ([], []))[0].append(i)
        else:
            out.setdefault(r, ([], []))[1].append(i - n_p)
    return [v for v in out.values() if v[0] and v[1]]


def match_cracks(pred_mask: np.ndarray, gt_mask: np.ndarray, *, image: str = "", mm_per_px: float | None = None,
                 tolerance_px: int = TOLERANCE_PX, min_cover: float = MIN_COVER, min_area: int | None = None
                 ) -> ImageMatch:
    """Measure both masks (same H x W) and match their cracks in groups; lengths and widths are in pixels."""
    if np.shape(pred_mask) != np.shape(gt_mask):
        raise ValueError(f"{image or 'masks'}: prediction {np.shape(pred_mask)} and ground truth "
                         f"{np.shape(gt_mask)} differ in size")
    kw = {} if min_area is None else {"min_area": min_area}
    lp, lg = label_mask(pred_mask), label_mask(gt_mask)
    pred, gt = measure_mask(pred_mask, labelled=lp, **kw), measure_mask(gt_mask, labelled=lg, **kw)
    pairs: list[CrackPair] = []
    if pred.cracks and gt.cracks:
        pl = np.array([c.label for c in pred.cracks])
        gl = np.array([c.label for c in gt.cracks])
        pg = _overlap_counts(lp[1], lp[0], lg[1], lg[0], tolerance_px)[np.ix_(pl, gl)]     # |P & dil(G)|
        gp = _overlap_counts(lg[1], lg[0], lp[1], lp[0], tolerance_px).T[np.ix_(pl, gl)]   # |dil(P) & G|
        area_p = np.array([c.area for c in pred.cracks], float)[:, None]
        area_g = np.array([c.area for c in gt.cracks], float)[None, :]
        links = (pg >= min_cover * area_p) | (gp >= min_cover * area_g)
        for ps, gs in _groups(links):
            cp, cg = [pred.cracks[i] for i in ps], [gt.cracks[j] for j in gs]
            score = float((pg[np.ix_(ps, gs)].sum() + gp[np.ix_(ps, gs)].sum())
                          / (area_p[ps, 0].sum() + area_g[0, gs].sum()))
            pairs.append(CrackPair(image, [c.id for c in cp], [c.id for c in cg], score,
                                   sum(c.length for c in cp), sum(c.length for c in cg),
                                   max(c.width_max for c in cp), max(c.width_max for c in cg), mm_per_px))
    mp = {i for p in pairs for i in p.pred_ids}
    mg = {i for p in pairs for i in p.gt_ids}
    return ImageMatch(pairs, pred, gt, [c.id for c in pred.cracks if c.id not in mp],
                      [c.id for c in gt.cracks if c.id not in mg])


def accuracy(matches: list[ImageMatch]) -> dict:
    """Mean absolute errors over the matched groups: length and maximum width in px, and in mm over the groups whose
    image has a scale (``None`` when none has)."""
    pairs = [p for m in matches for p in m.pairs]
    out = dict(n_groups=len(pairs), n_pred=sum(m.pred.n_cracks for m in matches),
               n_gt=sum(m.gt.n_cracks for m in matches),
               n_pred_unmatched=sum(len(m.pred_unmatched) for m in matches),
               n_gt_unmatched=sum(len(m.gt_unmatched) for m in matches),
               length_mae_px=None, width_max_mae_px=None, length_mae_mm=None, width_max_mae_mm=None,
               n_groups_mm=0)
    if not pairs:
        return out
    dl = np.array([p.pred_length - p.gt_length for p in pairs])
    dw = np.array([p.pred_width_max - p.gt_width_max for p in pairs])
    out.update(length_mae_px=float(np.abs(dl).mean()), width_max_mae_px=float(np.abs(dw).mean()))
    k = np.array([p.mm_per_px if p.mm_per_px is not None else np.nan for p in pairs], float)
    has = np.isfinite(k)
    if has.any():
        out.update(length_mae_mm=float(np.abs(dl[has] * k[has]).mean()),
                   width_max_mae_mm=float(np.abs(dw[has] * k[has]).mean()), n_groups_mm=int(has.sum()))
    return out
