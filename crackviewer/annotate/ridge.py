"""The crack tracer's cost map: dark, thin, elongated structures are cheap to walk along. Qt-free.

:class:`RidgeCost` turns an image (and, when a prediction is loaded, the model's probability map) into the cost
map the minimal-path search walks over:

    cost = ridge_weight * ridge_cost + prob_weight * (1 - prob) + eps

``ridge_cost`` is ``exp(-3 R / scale)`` in (0, 1] where ``R`` is scikit-image's Sato tubeness filter for black
ridges on ``log(grey + 0.05)`` (relative contrast) (:func:`skimage.filters.sato`, one call per sigma so the best sigma of each pixel is known too) and ``scale``
is a high percentile of ``R`` over the first area computed (then fixed, so every tile is normalised alike). The
exponential does not saturate: a clipped linear map made the whole crack band equally cheap and the path cut the
inside of every bend (0.7 px mean error on the synthetic test crack instead of 0.25 px).

The filter is computed lazily: only the tiles a request touches, each once (a request computes all its missing
tiles in one filter call over their bounding box plus a halo, so tiles join without seams). A 4000x3000 photo
therefore costs only what the user traces over.

:func:`estimate_width` measures a traced crack's width from the image: the median grey profile across the path,
width at half depth (FWHM of the dark dip).
"""
from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np
from scipy import ndimage
from skimage.filters import sato

# Over 1: scikit-image's Gaussian-derivative Hessian truncates at 100 sigma for sigma <= 1 (5x slower) and 8 above.
DEFAULT_SIGMAS = (1.2, 2.0, 3.0)
TILE = 128
SCALE_PERCENTILE = 99.0
LOG_OFFSET = 0.05          # the filter sees log(grey + 0.05): relative contrast, so a crack on dark brick is not
                           # outweighed by the bright mortar lines beside it (mosaic benchmark: 1.01 -> 0.37 px)
RIDGE_SHARPNESS = 3.0      # ridge_cost = exp(-3 R / scale): 0.05 at the scale, still falling towards the centre


def to_grey(image: np.ndarray) -> np.ndarray:
    """A float32 grey image in [0, 1] from an HxW or HxWxC uint8/uint16/float image."""
    img = np.asarray(image)
    dtype = img.dtype
    if img.ndim == 3:
        img = img[..., :3].mean(axis=2, dtype=np.float32) if img.shape[2] >= 3 else img[..., 0]
    if img.ndim != 2:
        raise ValueError(f"the tracer needs an HxW or HxWxC image, got shape {np.asarray(image).shape}")
    if dtype.kind in "ui":
        return img.astype(np.float32) / np.float32(255.0 if dtype == np.uint8 else np.iinfo(dtype).max)
    return img.astype(np.float32, copy=False)


def prob_to_float(prob: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A float32 probability map in [0, 1] of ``shape`` from a float (0..1) or uint8 (0..255) map of any size."""
    p = np.asarray(prob)
    if p.ndim == 3:
        p = p[..., 0]
    if p.ndim != 2:
        raise ValueError(f"a probability map must be 2-D (HxW), got shape {np.asarray(prob).shape}")
    p = p.astype(np.float32) / 255.0 if p.dtype == np.uint8 else p.astype(np.float32)
    h, w = shape
    if p.shape != (h, w):
        p = cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(p, 0.0, 1.0)


class RidgeCost:
    """Lazily tiled cost map of one image for the minimal-path tracer (see the module docstring)."""

    def __init__(self, image: np.ndarray, prob: np.ndarray | None = None, *,
                 sigmas: Sequence[float] = DEFAULT_SIGMAS, ridge_weight: float = 1.0, prob_weight: float = 1.0,
                 eps: float = 0.02, tile: int = TILE):
        img = np.asarray(image)
        if img.ndim not in (2, 3) or img.shape[0] < 2 or img.shape[1] < 2:
            raise ValueError(f"the tracer needs an HxW or HxWxC image, got shape {img.shape}")
        self.image = img
        self.shape: tuple[int, int] = (int(img.shape[0]), int(img.shape[1]))
        self.sigmas = tuple(float(s) for s in sigmas)
        if not self.sigmas or min(self.sigmas) <= 0:
            raise ValueError(f"sigmas must be positive, got {sigmas!r}")
        self.ridge_weight = float(ridge_weight)
        self.prob_weight = float(prob_weight)
        self.eps = float(eps)
        self.tile = int(tile)
        # beyond 6 sigma the Gaussian derivatives' weights are negligible (the tile test checks the agreement)
        self.halo = int(math.ceil(6 * max(self.sigmas))) + 2
        self.prob = None if prob is None else prob_to_float(prob, self.shape)
        self.scale: float | None = None
        th, tw = -(-self.shape[0] // self.tile), -(-self.shape[1] // self.tile)
        self._response = np.zeros(self.shape, np.float32)        # Sato response R (max over sigmas)
        self._best = np.zeros(self.shape, np.uint8)              # index of the sigma giving R
        self._done = np.zeros((th, tw), bool)                    # which tiles hold R already

    # ------------------------------------------------------------------ tiles
    def grey(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        return to_grey(self.image[r0:r1, c0:c1])

    def ensure(self, r0: int, r1: int, c0: int, c1: int) -> None:
        """Compute the ridge response of every tile the rows r0:r1, columns c0:c1 touch (once per tile)."""
        t = self.tile
        ta, tb = r0 // t, (r1 - 1) // t + 1
        sa, sb = c0 // t, (c1 - 1) // t + 1
        missing = ~self._done[ta:tb, sa:sb]
        if not missing.any():
            return
        rows = np.flatnonzero(missing.any(axis=1)) + ta
        cols = np.flatnonzero(missing.any(axis=0)) + sa
        h, w = self.shape
        y0, y1 = rows[0] * t, min((rows[-1] + 1) * t, h)
        x0, x1 = cols[0] * t, min((cols[-1] + 1) * t, w)
        hy0, hy1 = max(y0 - self.halo, 0), min(y1 + self.halo, h)
        hx0, hx1 = max(x0 - self.halo, 0), min(x1 + self.halo, w)
        grey = np.log(self.grey(hy0, hy1, hx0, hx1) + np.float32(LOG_OFFSET))
        best_r = np.zeros(grey.shape, np.float32)
        best_i = np.zeros(grey.shape, np.uint8)
        for i, s in enumerate(self.sigmas):
            r = sato(grey, sigmas=(s,), black_ridges=True, mode="reflect")
            better = r > best_r
            best_r[better] = r[better]
            best_i[better] = i
        inner = (slice(y0 - hy0, y1 - hy0), slice(x0 - hx0, x1 - hx0))
        keep = np.repeat(np.repeat(missing[rows[0] - ta:rows[-1] - ta + 1, cols[0] - sa:cols[-1] - sa + 1],
                                   t, axis=0), t, axis=1)[:y1 - y0, :x1 - x0]
        self._response[y0:y1, x0:x1][keep] = best_r[inner][keep]
        self._best[y0:y1, x0:x1][keep] = best_i[inner][keep]
        self._done[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = True
        if self.scale is None:
            self.scale = max(float(np.percentile(best_r[inner], SCALE_PERCENTILE)), 1e-6)

    # ------------------------------------------------------------------ costs
    def warm(self, r0: int, r1: int, c0: int, c1: int, centre: tuple[int, int], tiles: int = 1) -> bool:
        """Compute up to ``tiles`` missing tiles of rows r0:r1, columns c0:c1, the ones nearest ``centre`` (row,
        col) first; True when the whole region is done. Lets a GUI fill the cost map in idle time, one tile (tens
        of milliseconds) per call, so that a click there finds it ready."""
        t = self.tile
        h, w = self.shape
        r0, r1, c0, c1 = max(r0, 0), min(r1, h), max(c0, 0), min(c1, w)
        if r1 <= r0 or c1 <= c0:
            return True
        ta, sa = r0 // t, c0 // t
        missing = ~self._done[ta:(r1 - 1) // t + 1, sa:(c1 - 1) // t + 1]
        todo = np.argwhere(missing)
        if not len(todo):
            return True
        centres = (todo + 0.5) * t + (ta * t, sa * t)
        order = np.argsort(np.hypot(centres[:, 0] - centre[0], centres[:, 1] - centre[1]), kind="stable")
        for i in order[:max(1, int(tiles))]:
            y, x = (todo[i] + (ta, sa)) * t
            self.ensure(int(y), int(y) + 1, int(x), int(x) + 1)
        return len(todo) <= max(1, int(tiles))

    def response(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        self.ensure(r0, r1, c0, c1)
        return self._response[r0:r1, c0:c1]

    def cost(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """The float64 cost map of rows r0:r1, columns c0:c1 (every value >= eps > 0)."""
        resp = self.response(r0, r1, c0, c1)
        ridge_cost = np.exp(resp * np.float32(-RIDGE_SHARPNESS / self.scale))
        cost = self.ridge_weight * ridge_cost.astype(np.float64)
        if self.prob is not None and self.prob_weight:
            cost += self.prob_weight * (1.0 - self.prob[r0:r1, c0:c1])
        cost += max(self.eps, 1e-6)
        return cost


def estimate_width(grey: np.ndarray, path_rc: np.ndarray, *, reach: float = 12.0, step: float = 0.5,
                   fallback: float = 3.0) -> float:
    """Width (pixels) of the dark line along ``path_rc`` ((N, 2) row, col in ``grey``'s coordinates).

    The grey profiles across the path (along each point's normal, ``reach`` pixels each way) are aligned on their
    darkest sample near the path and their median is taken; the width is where that median profile lies below half
    way between its background (the outer samples) and its minimum. ``fallback`` when the path is too short or shows
    no dark dip.
    """
    pts = np.asarray(path_rc, np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return float(fallback)
    smooth = ndimage.uniform_filter1d(pts, size=min(7, len(pts)), axis=0, mode="nearest")
    tangent = np.gradient(smooth, axis=0)
    norm = np.hypot(tangent[:, 0], tangent[:, 1])
    ok = norm > 1e-6
    if ok.sum() < 3:
        return float(fallback)
    pts, tangent = pts[ok], tangent[ok] / norm[ok, None]
    if len(pts) > 400:                                  # a few hundred profiles are plenty for a median
        pts, tangent = pts[:: len(pts) // 400 + 1], tangent[:: len(pts) // 400 + 1]
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    d = np.arange(-reach, reach + step / 2, step)
    coords = pts[:, None, :] + d[None, :, None] * normal[:, None, :]           # (N, D, 2)
    prof = ndimage.map_coordinates(grey, [coords[..., 0].ravel(), coords[..., 1].ravel()], order=1,
                                   mode="nearest").reshape(len(pts), len(d))
    centre = len(d) // 2
    near = int(round(2.0 / step))                       # align each profile on its darkest sample within 2 px
    shift = np.argmin(prof[:, centre - near:centre + near + 1], axis=1) - near
    idx = np.clip(np.arange(len(d))[None, :] + shift[:, None], 0, len(d) - 1)
    median = np.median(np.take_along_axis(prof, idx, axis=1), axis=0)
    outer = np.abs(d) >= 0.6 * reach
    background = float(np.median(median[outer]))
    bottom = float(median[centre])
    depth = background - bottom
    if depth <= 1e-3:
        return float(fallback)
    below = median < background - depth / 2
    left = centre
    while left > 0 and below[left - 1]:
        left -= 1
    right = centre
    while right < len(d) - 1 and below[right + 1]:
        right += 1
    if not below[centre]:
        return float(fallback)
    return float(np.clip((right - left + 1) * step, 1.0, 2 * reach))
