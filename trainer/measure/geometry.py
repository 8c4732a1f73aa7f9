"""Crack geometry from a binary mask: length, width, orientation, branches of every crack, and per-image totals.

A crack is an 8-connected component of the mask (its branches stay together). Each crack is measured on its own
bounding-box crop, so the cost follows the crack pixels, not the image size.

* **Skeleton** -- ``skimage.morphology.skeletonize`` of the component, traced into chains between junctions
  (``skeleton_graph``). Terminal chains shorter than the crack's width at their junction are spurs of the outline
  (a corner, a bump) and are pruned, like little loops on a junction; the pruned skeleton is thinned and traced
  again (up to three rounds).
* **Length** -- each chain's pixel centres are smoothed along the chain (Gaussian, ``SMOOTH_PX``; ends reflected
  about themselves so straight lines stay straight) and the polyline length is summed. Counting raw 8-steps
  (1 or sqrt 2) overestimates oblique lines by up to 8 %; the smoothed polyline does not. A skeleton stops about
  half a width short of each tip, so every free end is extended along its direction to where the mask ends
  (ray-marched on the bilinearly interpolated mask, sub-pixel): the length is the crack's full tip-to-tip length.
* **Width** -- at every skeleton vertex, the mask is sampled across the chain (along the normal of the smoothed
  polyline) every ``STEP_PX``; the two crossings of the 0.5 level of the bilinearly interpolated mask give the
  width to sub-pixel accuracy (an axis-aligned band of n pixels measures exactly n, where 2 x the distance
  transform would give n or n + 1 depending on parity). Each side is capped by the distance transform + 1, so a
  normal running along another branch near a junction cannot blow up. Widths are smoothed along the chain like the
  coordinates; the statistics (mean, median, max, p95) leave out the vertices inside junctions and the tips.
* **Orientation** -- degrees in [0, 180) of the first principal axis of the skeleton vertices, counter-clockwise
  from the image x axis as seen on screen (image y points down).

Accuracy on synthetic cracks (antialiased, blurred, thresholded; tests/unit/measure): length within 2 % (about 1 %
on 150 random straight cracks), width mean/median within 0.5 px for widths 2-15 px at any angle, p95 and max too
except in two cases a binary mask cannot resolve: at exactly 45 degrees the digital width moves in steps of
1/sqrt(2) px, and a crack a fraction of a degree off the image axes has runs one pixel thicker where its two
staircase edges step at different places, which the max (and p95 on short cracks) reports.

Specks (components under ``SPECK_AREA_PX`` pixels, such as a thresholded prediction leaves by the hundred) are
measured from their moments instead: length = pixel extent along the principal axis, width = area / length.

Everything is in pixels; ``scale`` converts to millimetres.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d
from skimage.morphology import skeletonize

from trainer.measure.skeleton_graph import Chain, SkeletonGraph, build_graph

__all__ = ["Crack", "ImageGeometry", "measure_mask", "label_mask", "MIN_AREA_PX", "SPECK_AREA_PX", "SMOOTH_PX",
           "STEP_PX"]

MIN_AREA_PX = 1          # components smaller than this (pixels) are not cracks
SPECK_AREA_PX = 32       # components smaller than this are specks, measured from their moments (no skeleton)
SMOOTH_PX = 2.0          # Gaussian sigma along the skeleton (pixels) for coordinates and widths
STEP_PX = 0.25           # sampling step across the crack and along tip rays (pixels)
_PAD = 2


@dataclass
class Crack:
    id: int
    length: float
    width_mean: float
    width_median: float
    width_max: float
    width_p95: float
    orientation: float
    bbox: tuple[int, int, int, int]          # x, y, w, h in image pixels
    n_branches: int
    n_endpoints: int
    area: int
    label: int = 0                           # the component's label in cv2.connectedComponents(mask, 8) order
    paths: list[np.ndarray] = field(default_factory=list)         # per branch: (N, 2) float (x, y), image pixels
    path_widths: list[np.ndarray] = field(default_factory=list)   # per branch: (N,) width at each vertex (px)


@dataclass
class ImageGeometry:
    height: int
    width: int
    cracks: list[Crack]

    @property
    def n_cracks(self) -> int:
        return len(self.cracks)

    @property
    def total_length(self) -> float:
        return float(sum(c.length for c in self.cracks))

    @property
    def max_width(self) -> float:
        return max((c.width_max for c in self.cracks), default=0.0)

    @property
    def widest(self) -> Crack | None:
        return max(self.cracks, key=lambda c: c.width_max, default=None)

    @property
    def cracked_area(self) -> int:
        return int(sum(c.area for c in self.cracks))

    @property
    def cracked_fraction(self) -> float:
        return self.cracked_area / float(max(self.height * self.width, 1))


def label_mask(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """The cracks of a mask as labelled components: (count incl. background 0, int32 labels, cv2 stats)."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"a mask must be 2-D (H x W), got shape {m.shape}")
    n, labels, stats, _ = cv2.connectedComponentsWithStats((m > 0).astype(np.uint8), connectivity=8)
    return n, labels, stats


def measure_mask(mask: np.ndarray, *, min_area: int = MIN_AREA_PX, labelled=None) -> ImageGeometry:
    """Measure every crack of a binary mask (H x W; nonzero = crack). ``labelled``: ``label_mask(mask)`` when the
    caller already has it."""
    n, labels, stats = labelled if labelled is not None else label_mask(mask)
    h, w = labels.shape
    cracks: list[Crack] = []
    for i in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if area < min_area:
            continue
        sub = labels[y:y + bh, x:x + bw] == i
        if area < SPECK_AREA_PX:
            crack = _measure_speck(sub, x, y)
        else:
            crop = np.zeros((bh + 2 * _PAD, bw + 2 * _PAD), np.uint8)
            crop[_PAD:_PAD + bh, _PAD:_PAD + bw] = sub
            crack = _measure_component(crop, x - _PAD, y - _PAD)
        crack.id, crack.bbox, crack.area, crack.label = len(cracks) + 1, (x, y, bw, bh), area, i
        cracks.append(crack)
    return ImageGeometry(h, w, cracks)


# ----------------------------------------------------------------------------------------------------------------

def _measure_component(crop: np.ndarray, ox: int, oy: int) -> Crack:
    # 5x5-mask distance (within ~2 %, 8x faster than the exact one): it only caps, bounds and prunes
    edt = cv2.distanceTransform(crop, cv2.DIST_L2, 5)
    skel = skeletonize(crop.astype(bool))
    graph = build_graph(skel)
    for _ in range(3):                      # pruning can leave a knot of junction pixels: thin it and look again
        if not _prune_spurs(graph, skel, edt):
            break
        skel = skeletonize(skel)
        graph = build_graph(skel)
    fmask = crop.astype(np.float32)
    reach = float(edt.max()) + 2.0
    paths, widths, keep = [], [], []
    for ch in graph.chains:
        pts = _chain_points(ch, graph)
        xy = _smooth_xy(pts, ch.closed)
        wv = _widths(fmask, edt, xy, reach, ch.closed)
        k = np.ones(len(xy), bool)
        for end in ch.ends:
            if end >= 0:                                   # leave out the junction zone
                jp = graph.junctions[end]
                r = float(edt[jp[:, 0], jp[:, 1]].max()) * 1.5 + SMOOTH_PX
                d = np.hypot(*(xy - jp[:, ::-1].mean(0)).T)
                k &= d > r
        if not ch.closed:
            xy, wv, k = _extend_tips(fmask, xy, wv, k, ch, reach)
        paths.append(xy + (ox, oy))
        widths.append(wv)
        keep.append(k)
    allw = np.concatenate(widths) if widths else np.zeros(1)
    kept = np.concatenate(keep) if keep else np.zeros(1, bool)
    sel = allw[kept] if kept.any() else allw
    verts = np.concatenate(paths) if paths else np.zeros((1, 2))
    length = float(sum(np.hypot(*np.diff(p, axis=0).T).sum() for p in paths if len(p) > 1))
    return Crack(0, length, float(sel.mean()), float(np.median(sel)), float(sel.max()),
                 float(np.percentile(sel, 95)), _orientation(verts), (0, 0, 0, 0), len(graph.chains),
                 graph.n_endpoints, 0, 0, paths, widths)


def _measure_speck(sub: np.ndarray, ox: int, oy: int) -> Crack:
    """A speck (under ``SPECK_AREA_PX`` pixels) has no skeleton worth tracing: its length is its pixel extent along
    its principal axis, its width its area over that length, its path that axis."""
    ys, xs = np.nonzero(sub)
    pts = np.stack([xs, ys], 1).astype(np.float64)
    c = pts.mean(0)
    if len(pts) > 1:
        v = np.linalg.eigh((pts - c).T @ (pts - c))[1][:, -1]
    else:
        v = np.array([1.0, 0.0])
    proj = (pts - c) @ v
    lo, hi = float(proj.min()) - 0.5, float(proj.max()) + 0.5
    length = hi - lo
    w = len(pts) / length
    path = np.stack([c + v * lo, c + v * hi]) + (ox, oy)
    return Crack(0, length, w, w, w, w, _orientation(path), (0, 0, 0, 0), 1, 2, 0, 0, [path], [np.array([w, w])])


def _prune_spurs(graph: SkeletonGraph, skel: np.ndarray, edt: np.ndarray) -> bool:
    """Remove terminal chains, and loops from a junction back to itself, shorter than the width at their junction
    (keeping the longest chain); True if any."""
    if len(graph.chains) < 2:
        return False
    longest = max(range(len(graph.chains)), key=lambda j: len(graph.chains[j].pixels))
    pruned = False
    for j, ch in enumerate(graph.chains):
        a, b = ch.ends
        terminal = (a < 0) != (b < 0)
        knot = a == b and a >= 0                         # a little loop on one junction (a thinning leftover)
        if j == longest or ch.closed or not (terminal or knot):
            continue
        jp = graph.junctions[max(a, b)]
        if len(ch.pixels) < 2.0 * float(edt[jp[:, 0], jp[:, 1]].max()):
            skel[ch.pixels[:, 0], ch.pixels[:, 1]] = False
            pruned = True
    return pruned


def _chain_points(ch: Chain, graph: SkeletonGraph) -> np.ndarray:
    """(x, y) float points of a chain, with the centres of the junctions it joins at either end."""
    pts = ch.pixels[:, ::-1].astype(np.float64)
    if ch.ends[0] >= 0:
        pts = np.vstack([graph.junctions[ch.ends[0]][:, ::-1].mean(0), pts])
    if ch.ends[1] >= 0:
        pts = np.vstack([pts, graph.junctions[ch.ends[1]][:, ::-1].mean(0)])
    return pts


def _smooth_xy(pts: np.ndarray, closed: bool) -> np.ndarray:
    if len(pts) < 3:
        return pts
    if closed:
        return gaussian_filter1d(pts, SMOOTH_PX, axis=0, mode="wrap")
    k = min(len(pts) - 1, int(4 * SMOOTH_PX) + 1)
    head = 2 * pts[0] - pts[k:0:-1]
    tail = 2 * pts[-1] - pts[-2:-k - 2:-1]
    ext = np.vstack([head, pts, tail])          # odd reflection: a straight run stays straight up to its ends
    return gaussian_filter1d(ext, SMOOTH_PX, axis=0, mode="nearest")[k:k + len(pts)]


def _tangents(xy: np.ndarray, closed: bool) -> np.ndarray:
    if len(xy) < 2:
        return np.tile([1.0, 0.0], (len(xy), 1))
    if closed and len(xy) > 2:
        t = np.roll(xy, -1, 0) - np.roll(xy, 1, 0)
    else:
        t = np.gradient(xy, axis=0)
    n = np.hypot(t[:, 0], t[:, 1])[:, None]
    return np.where(n > 1e-9, t / np.maximum(n, 1e-9), [1.0, 0.0])


def _sample(fmask: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    return cv2.remap(fmask, px.astype(np.float32), py.astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _first_exit(vals: np.ndarray) -> np.ndarray:
    """Distance (in samples, sub-sample) from column 0 to the first fall below 0.5 in each row; nan if none."""
    below = vals < 0.5
    j = np.argmax(below, axis=1)
    ok = below[np.arange(len(vals)), j] & (j > 0)
    jj = np.maximum(j, 1)
    v0, v1 = vals[np.arange(len(vals)), jj - 1], vals[np.arange(len(vals)), jj]
    frac = (v0 - 0.5) / np.maximum(v0 - v1, 1e-6)
    return np.where(ok, jj - 1 + frac, np.nan)


def _widths(fmask, edt, xy, reach, closed) -> np.ndarray:
    t = _tangents(xy, closed)
    nrm = np.stack([-t[:, 1], t[:, 0]], 1)
    s = np.arange(0.0, reach + STEP_PX, STEP_PX)
    iy = np.clip(np.rint(xy[:, 1]).astype(int), 0, edt.shape[0] - 1)
    ix = np.clip(np.rint(xy[:, 0]).astype(int), 0, edt.shape[1] - 1)
    cap = edt[iy, ix].astype(np.float64) + 1.0
    half = []
    for sign in (1.0, -1.0):
        px = xy[:, :1] + sign * nrm[:, :1] * s
        py = xy[:, 1:] + sign * nrm[:, 1:] * s
        d = _first_exit(_sample(fmask, px, py)) * STEP_PX
        half.append(np.fmin(np.where(np.isnan(d), cap, d), cap))
    w = half[0] + half[1]
    w = np.where(_sample(fmask, xy[:, :1], xy[:, 1:])[:, 0] >= 0.5, w, np.maximum(2.0 * edt[iy, ix] - 1.0, 1.0))
    if len(w) >= 3:
        w = gaussian_filter1d(w, SMOOTH_PX, mode="wrap" if closed else "nearest")
    return w


def _extend_tips(fmask, xy, wv, keep, ch: Chain, reach):
    """Replace each free end by the crack tip: the skeleton may hook towards a corner over the last half width, so
    the last ``half width`` of the chain is cut off and the tip is found by marching from the cut along the
    direction of the chain before it, to where the mask ends."""
    look = int(2 * SMOOTH_PX)
    for side in (0, 1):
        if ch.ends[side] >= 0:
            continue
        if side == 1:
            xy, wv, keep = xy[::-1], wv[::-1], keep[::-1]
        cut = 0
        if len(xy) > 2:
            seg = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
            r = float(np.median(wv)) / 2.0
            cut = int(min(np.searchsorted(seg, r), max(len(xy) - 2 - look, 0)))
        xy, wv, keep = xy[cut:], wv[cut:], keep[cut:]
        p, q = xy[0], xy[min(look, len(xy) - 1)]
        d = p - q
        nd = math.hypot(*d)
        if nd < 1e-9:                                       # a single pixel: extend both ways along x
            d, nd = np.array([1.0 if side else -1.0, 0.0]), 1.0
        elif side == 1 and len(xy) == 1:
            d = -d
        d = d / nd
        s = np.arange(0.0, 4.0 * reach + 4.0, STEP_PX)       # skeletonize may stop well short of the tip
        vals = _sample(fmask, p[0] + d[0] * s[None], p[1] + d[1] * s[None])
        ext = _first_exit(vals)[0]
        ext = 0.0 if np.isnan(ext) else float(ext) * STEP_PX
        if ext > 1e-6:
            xy, wv, keep = np.vstack([p + d * ext, xy]), np.r_[wv[0], wv], np.r_[False, keep]
        if side == 1:
            xy, wv, keep = xy[::-1], wv[::-1], keep[::-1]
    return xy, wv, keep


def _orientation(verts: np.ndarray) -> float:
    if len(verts) < 2:
        return 0.0
    c = verts - verts.mean(0)
    cov = c.T @ c
    vals, vecs = np.linalg.eigh(cov)
    vx, vy = vecs[:, -1]
    return float(round(math.degrees(math.atan2(-vy, vx)), 3) % 180.0)
