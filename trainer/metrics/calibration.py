"""Calibration: reliability diagrams, expected calibration error (ECE) and temperature scaling, for image scores and
for pixels.

Binary calibration of the crack probability ``p`` (not the "max-class confidence" of multi-class ECE):
:data:`N_BINS` = 15 equal-width bins of ``p`` on [0, 1] (``p = 1`` falls in the last bin); per bin the
**confidence** is the mean ``p``, the **accuracy** the fraction of crack samples/pixels, and
``ECE = sum_b (n_b / n) |accuracy_b - confidence_b|``.

Pixels come from the ``hist_pos``/``hist_neg`` histograms (``B = 4096`` bins): each histogram bin ``j`` stands for
``p = (j + 0.5) / B`` (at most ``1 / (2B)`` from the true value), and goes to calibration bin
``floor((j + 0.5) / B * 15)``.

Temperature scaling: ``p_T = sigmoid(logit(p) / T)``, one scalar ``T > 0`` fitted on the validation split by
minimising the negative log-likelihood (bounded 1-D search on ``log T`` in [-4, 4]), then applied to the test
split's scores and histograms. It changes no ranking: AUC, AP and the best F1 stay (up to rebinning); only the
probabilities' meaning (and so the thresholds' values) move. :func:`temperature_record` is what goes into
``metrics.json`` under ``temperature``.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from trainer.metrics import pixels as metrics_pixels

N_BINS = 15
"""Bins of a reliability diagram."""

P_CLIP = 1e-6
"""Probabilities are clipped to ``[P_CLIP, 1 - P_CLIP]`` before taking logits."""

LOG_T_RANGE = (-4.0, 4.0)


def _edges(n_bins: int) -> np.ndarray:
    return np.linspace(0.0, 1.0, int(n_bins) + 1)


def _reliability(conf_sum, pos, total, n_bins: int) -> dict:
    total = np.asarray(total, dtype=np.float64)
    conf = np.divide(conf_sum, total, out=np.full(n_bins, np.nan), where=total > 0)
    acc = np.divide(pos, total, out=np.full(n_bins, np.nan), where=total > 0)
    n = total.sum()
    ece = float(np.nansum(total / n * np.abs(acc - conf))) if n > 0 else None
    return dict(edges=_edges(n_bins), confidence=conf, accuracy=acc, counts=total.astype(np.int64), ece=ece)


def reliability_scores(labels, scores, n_bins: int = N_BINS) -> dict:
    """Reliability diagram of image scores: ``dict(edges [n+1], confidence [n], accuracy [n] (NaN in empty bins),
    counts [n], ece)``; ``ece`` is ``None`` for no samples."""
    y = (np.asarray(labels).reshape(-1).astype(np.int64) > 0).astype(np.float64)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"labels ({y.size}) and scores ({s.size}) differ in length")
    b = np.clip((s * n_bins).astype(np.int64), 0, n_bins - 1)
    return _reliability(np.bincount(b, weights=s, minlength=n_bins), np.bincount(b, weights=y, minlength=n_bins),
                        np.bincount(b, minlength=n_bins), n_bins)


def bin_centres() -> np.ndarray:
    """Probability each histogram bin stands for: ``(j + 0.5) / B``."""
    return (np.arange(metrics_pixels.B) + 0.5) / metrics_pixels.B


def reliability_pixels(hist_pos, hist_neg, n_bins: int = N_BINS) -> dict:
    """Reliability diagram of pixels from histograms (``[N, B]`` or ``[B]``, summed over samples); as
    :func:`reliability_scores`."""
    hp = np.asarray(hist_pos, dtype=np.float64).reshape(-1, metrics_pixels.B).sum(axis=0)
    hn = np.asarray(hist_neg, dtype=np.float64).reshape(-1, metrics_pixels.B).sum(axis=0)
    c = bin_centres()
    b = np.minimum((c * n_bins).astype(np.int64), n_bins - 1)
    tot = hp + hn
    return _reliability(np.bincount(b, weights=tot * c, minlength=n_bins), np.bincount(b, weights=hp, minlength=n_bins),
                        np.bincount(b, weights=tot, minlength=n_bins), n_bins)


def logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), P_CLIP, 1 - P_CLIP)
    return np.log(p) - np.log1p(-p)


def sigmoid(z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _nll(z, w_pos, w_neg, t: float) -> float:
    """Mean binary NLL of logits ``z / t`` with positive and negative weights."""
    zt = z / t
    n = w_pos.sum() + w_neg.sum()
    return float((w_pos @ np.logaddexp(0.0, -zt) + w_neg @ np.logaddexp(0.0, zt)) / n)


def _fit(z, w_pos, w_neg) -> dict:
    if w_pos.sum() <= 0 or w_neg.sum() <= 0:
        return dict(temperature=None, nll_before=None, nll_after=None, reason="needs both classes")
    r = minimize_scalar(lambda lt: _nll(z, w_pos, w_neg, float(np.exp(lt))), bounds=LOG_T_RANGE, method="bounded",
                        options=dict(xatol=1e-5))
    t = float(np.exp(r.x))
    return dict(temperature=t, nll_before=_nll(z, w_pos, w_neg, 1.0), nll_after=_nll(z, w_pos, w_neg, t), reason=None)


def fit_temperature_scores(labels, scores) -> dict:
    """Temperature of image scores (logits = ``logit(score)``): ``dict(temperature, nll_before, nll_after, reason)``
    (``temperature`` ``None`` on a one-class split)."""
    y = np.asarray(labels).reshape(-1).astype(np.int64) > 0
    z = logit(np.asarray(scores).reshape(-1))
    return _fit(z, y.astype(np.float64), (~y).astype(np.float64))


def fit_temperature_pixels(hist_pos, hist_neg) -> dict:
    """Temperature of pixel probabilities from histograms (NLL weighted by the bin counts at the bin centres)."""
    hp = np.asarray(hist_pos, dtype=np.float64).reshape(-1, metrics_pixels.B).sum(axis=0)
    hn = np.asarray(hist_neg, dtype=np.float64).reshape(-1, metrics_pixels.B).sum(axis=0)
    return _fit(logit(bin_centres()), hp, hn)


def apply_temperature_scores(scores, temperature: float | None) -> np.ndarray:
    """``sigmoid(logit(s) / T)`` (float32); ``T`` of ``None`` or 1 returns the scores unchanged."""
    s = np.asarray(scores, dtype=np.float32)
    if temperature is None or float(temperature) == 1.0:
        return s
    return sigmoid(logit(s) / float(temperature)).astype(np.float32)


def temperature_bin_map(temperature: float) -> np.ndarray:
    """Where each histogram bin goes under temperature ``T``: ``bin(sigmoid(logit(centre_j) / T))`` (monotone)."""
    return metrics_pixels.prob_to_bin(sigmoid(logit(bin_centres()) / float(temperature)))


def apply_temperature_hist(hist, temperature: float | None) -> np.ndarray:
    """Histograms (``[N, B]`` or ``[B]``) re-binned as if every pixel's probability had been temperature-scaled
    (each bin moves as its centre does). Same dtype and shape; ``T`` of ``None`` or 1 returns a copy."""
    h = np.asarray(hist)
    if temperature is None or float(temperature) == 1.0:
        return h.copy()
    m = temperature_bin_map(temperature)
    flat = h.reshape(-1, metrics_pixels.B).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, m[1:] != m[:-1]])     # m is non-decreasing: runs of equal targets
    out = np.zeros_like(flat)
    out[:, m[starts]] = np.add.reduceat(flat, starts, axis=1)
    return out.reshape(h.shape).astype(h.dtype)


def temperature_record(image_fit: dict | None, pixel_fit: dict | None, fitted_on: str) -> dict:
    """The ``temperature`` entry of ``metrics.json``: ``{image, pixel, fitted_on, image_nll_before/after,
    pixel_nll_before/after}`` (``None`` for a fit not made)."""
    i = image_fit or {}
    p = pixel_fit or {}
    return dict(image=i.get("temperature"), pixel=p.get("temperature"), fitted_on=fitted_on,
                image_nll_before=i.get("nll_before"), image_nll_after=i.get("nll_after"),
                pixel_nll_before=p.get("nll_before"), pixel_nll_after=p.get("nll_after"))
