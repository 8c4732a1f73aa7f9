"""Flip test-time augmentation (TTA) and the uncertainty it reveals, as pure functions around a predict callable.

The model is hidden behind ``predict(image) -> prob [H, W]`` (or ``predict_batch(images [4, ...]) -> probs [4, H, W]``
to run the four flips in one forward pass), so this module needs no torch. The four views are identity, horizontal
flip, vertical flip and both; each prediction is flipped back before combining:

* ``mean`` = the average of the four probability maps (the TTA prediction);
* ``uncertainty`` = the per-pixel population standard deviation of the four (``spread="std"``, in [0, 0.5]) or their
  range max - min (``spread="range"``, in [0, 1]).

A sample's **uncertainty score** for ranking the review queue (:func:`uncertainty_score`) is the mean of its
:data:`TOP_K_FRACTION` most uncertain pixels (at least one pixel): comparable across images, independent of the
threshold, and high both for a doubtful crack and for a doubtful false alarm. :func:`uncertainty_over_prediction`
gives the mean over the predicted crack pixels instead.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from trainer.metrics import pixels as metrics_pixels

FLIPS = ("identity", "hflip", "vflip", "hvflip")
SPREADS = ("std", "range")
TOP_K_FRACTION = 0.005
"""Share of the pixels (the most uncertain ones) averaged into a sample's uncertainty score."""

UNCERTAINTY_MAX = {"std": 0.5, "range": 1.0}
"""Largest possible value of each spread (to scale an 8-bit uncertainty map: ``round(u / max * 255)``)."""


class TTAResult(NamedTuple):
    mean: np.ndarray          # float32 [H, W]
    uncertainty: np.ndarray   # float32 [H, W]
    views: np.ndarray         # float32 [4, H, W], flipped back, in FLIPS order


def _axes(hw_axes) -> tuple[int, int]:
    h, w = (int(a) for a in hw_axes)
    return h, w


def flip_views(image, hw_axes=(0, 1)) -> list[np.ndarray]:
    """The four flipped views of ``image`` (``hw_axes`` = its row and column axes: ``(0, 1)`` for HxWxC,
    ``(-2, -1)`` for CxHxW), in :data:`FLIPS` order."""
    a = np.asarray(image)
    h, w = _axes(hw_axes)
    return [a, np.flip(a, axis=w), np.flip(a, axis=h), np.flip(a, axis=(h, w))]


def unflip(probs) -> np.ndarray:
    """Flip the four predictions ``[4, H, W]`` (in :data:`FLIPS` order) back to the original orientation."""
    p = np.asarray(probs)
    if p.ndim != 3 or p.shape[0] != 4:
        raise ValueError(f"expected 4 probability maps [4, H, W], got shape {p.shape}")
    return np.stack([p[0], p[1][:, ::-1], p[2][::-1, :], p[3][::-1, ::-1]])


def combine(views, spread: str = "std") -> tuple[np.ndarray, np.ndarray]:
    """``(mean, uncertainty)`` of the back-flipped views ``[4, H, W]``."""
    if spread not in SPREADS:
        raise ValueError(f"spread must be one of {SPREADS}, got {spread!r}")
    v = np.asarray(views, dtype=np.float32)
    mean = v.mean(axis=0)
    unc = v.std(axis=0) if spread == "std" else v.max(axis=0) - v.min(axis=0)
    return mean.astype(np.float32), unc.astype(np.float32)


def flip_tta(image, predict: Callable | None = None, *, predict_batch: Callable | None = None, hw_axes=(0, 1),
             spread: str = "std") -> TTAResult:
    """Run the four flipped views through ``predict`` (one call each) or ``predict_batch`` (one call with a stacked
    ``[4, ...]`` array); returns :class:`TTAResult`. Each prediction must be ``[H, W]`` of the image's size."""
    if (predict is None) == (predict_batch is None):
        raise ValueError("give exactly one of predict and predict_batch")
    views = flip_views(image, hw_axes)
    if predict_batch is not None:
        preds = np.asarray(predict_batch(np.ascontiguousarray(np.stack(views))), dtype=np.float32)
    else:
        preds = np.stack([np.asarray(predict(np.ascontiguousarray(v)), dtype=np.float32) for v in views])
    a = np.asarray(image)
    h, w = _axes(hw_axes)
    if preds.shape != (4, a.shape[h], a.shape[w]):
        raise ValueError(f"predictions have shape {preds.shape[1:]}, expected {(a.shape[h], a.shape[w])}")
    back = unflip(preds)
    mean, unc = combine(back, spread)
    return TTAResult(mean, unc, back)


def uncertainty_score(uncertainty, top_k_fraction: float = TOP_K_FRACTION) -> float:
    """Mean of the ``top_k_fraction`` most uncertain pixels (at least one): the review queue's ranking key."""
    u = np.asarray(uncertainty, dtype=np.float32).reshape(-1)
    if not u.size:
        raise ValueError("empty uncertainty map")
    k = min(max(int(round(u.size * float(top_k_fraction))), 1), u.size)
    return float(np.partition(u, u.size - k)[u.size - k:].mean())


def uncertainty_over_prediction(uncertainty, prob, threshold: float) -> float | None:
    """Mean uncertainty over the predicted crack pixels (``bin(prob) >= k``, the threshold snapped up to its bin edge
    as everywhere); ``None`` when none is predicted."""
    u = np.asarray(uncertainty, dtype=np.float32)
    p = np.asarray(prob)
    if u.shape != p.shape:
        raise ValueError(f"uncertainty {u.shape} and probability {p.shape} differ in shape")
    sel = metrics_pixels.prob_to_bin(p) >= metrics_pixels.threshold_to_bin(threshold)
    return float(u[sel].mean()) if sel.any() else None


def uncertainty_to_u8(uncertainty, spread: str = "std") -> np.ndarray:
    """8-bit map for a PNG layer: ``round(u / UNCERTAINTY_MAX[spread] * 255)``."""
    u = np.asarray(uncertainty, dtype=np.float32) / UNCERTAINTY_MAX[spread]
    return np.clip(np.rint(u * 255.0), 0, 255).astype(np.uint8)
