"""Image-level metrics (numpy + scikit-learn, Qt-free).

Image level (``image_metrics``) follows the reference (``reference-model.md`` §3.1): sklearn's PR curve,
``F = 2PR / (P + R + 1e-8)``, best threshold = argmax F, AUC of the ROC curve, AP as the trapezoid area under the PR
curve (``ap``) and sklearn's ``average_precision_score`` (``ap_sklearn``); decisions are ``score >= threshold``.
"""
from __future__ import annotations

import numpy as np


F_EPS = 1e-8
"""Epsilon of the reference F-measure ``2PR / (P + R + 1e-8)``."""

DEFAULT_THRESHOLD = 0.5
"""Image decision threshold used when none is given and none can be chosen (one-class split)."""

REASON_ONLY_POS = "undefined: split has only positives"
REASON_ONLY_NEG = "undefined: split has only negatives"
REASON_EMPTY = "undefined: split is empty"


def _as_1d(name: str, values, dtype) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype).reshape(-1)
    return arr


def confusion_counts(labels, scores, threshold: float) -> dict:
    """TP/FP/FN/TN, accuracy, precision, recall and F (reference formula) at ``score >= threshold``."""
    y = _as_1d("labels", labels, np.int64) > 0
    s = _as_1d("scores", scores, np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels ({y.size}) and scores ({s.size}) differ in length")
    d = s >= float(threshold)
    tp = int(np.count_nonzero(d & y))
    fp = int(np.count_nonzero(d & ~y))
    fn = int(np.count_nonzero(~d & y))
    tn = int(np.count_nonzero(~d & ~y))
    n = tp + fp + fn + tn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * precision * recall / (precision + recall + F_EPS)
    return dict(threshold=float(threshold), tp=tp, fp=fp, fn=fn, tn=tn,
                accuracy=(tp + tn) / n if n else None,
                precision=precision, recall=recall, f_measure=float(f))


def image_metrics(labels, scores, threshold: float | None = None) -> dict:
    """Image-level metrics of a split.

    Returns a dict with ``n, n_positives, n_negatives, auc, ap, ap_sklearn, best_threshold, f_measure, threshold,
    tp, fp, fn, tn, accuracy, precision, recall, undefined, undefined_reason``.

    * ``best_threshold`` = threshold of the best F on this split's own PR curve (the reference's test-optimal point).
    * ``threshold`` = the decision threshold actually used for tp/fp/fn/tn/accuracy/f_measure: the given one (e.g. a
      validation-chosen threshold, the honest point) or ``best_threshold`` when ``None`` (then ``f_measure`` is the
      best F, as in the reference).
    * A split with only one class: ``auc``, ``ap``, ``ap_sklearn``, ``best_threshold`` are ``None`` (never NaN) and
      listed in ``undefined``; on a split without positives ``f_measure`` is ``None`` too (recall is 0/0). The counts
      are still made at the given threshold, or at 0.5 when none is given.
    """
    y = _as_1d("labels", labels, np.int64)
    s = _as_1d("scores", scores, np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels ({y.size}) and scores ({s.size}) differ in length")
    if s.size and not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinite values")
    yb = y > 0
    n_pos = int(np.count_nonzero(yb))
    n_neg = int(y.size - n_pos)
    out: dict = dict(n=int(y.size), n_positives=n_pos, n_negatives=n_neg,
                     auc=None, ap=None, ap_sklearn=None, best_threshold=None, best_f_measure=None)
    undefined: list[str] = []
    reason = None
    if n_pos and n_neg:
        from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

        precision, recall, thresholds = precision_recall_curve(yb, s)
        f = 2 * precision * recall / (precision + recall + F_EPS)
        ix = int(np.argmax(f[:-1])) if thresholds.size else 0   # the last point (P=1, R=0) has no threshold
        fpr, tpr, _ = roc_curve(yb, s)
        out.update(auc=float(auc(fpr, tpr)),
                   ap=float(auc(recall, precision)),
                   ap_sklearn=float(average_precision_score(yb, s)),
                   best_threshold=float(thresholds[ix]),
                   best_f_measure=float(f[ix]))
    else:
        reason = REASON_EMPTY if not y.size else (REASON_ONLY_POS if n_pos else REASON_ONLY_NEG)
        undefined = ["auc", "ap", "ap_sklearn", "best_threshold"]

    thr = threshold if threshold is not None else out["best_threshold"]
    if thr is None:
        thr = DEFAULT_THRESHOLD
    counts = confusion_counts(yb, s, thr)
    out.update(counts)
    if threshold is None and out["best_f_measure"] is not None:
        out["f_measure"] = out["best_f_measure"]        # identical by construction; keep sklearn's exact value
    if not n_pos:
        out["f_measure"] = None
        undefined.append("f_measure")
        if not y.size:
            undefined += ["accuracy"]
    out["undefined"] = undefined
    out["undefined_reason"] = reason
    return out


def roc_pr_curves(labels, scores) -> dict | None:
    """ROC and PR curves for plotting: ``dict(fpr, tpr, precision, recall)`` (lists), or ``None`` on a one-class split."""
    y = _as_1d("labels", labels, np.int64) > 0
    s = _as_1d("scores", scores, np.float64)
    if not (y.any() and (~y).any()):
        return None
    from sklearn.metrics import precision_recall_curve, roc_curve

    precision, recall, _ = precision_recall_curve(y, s)
    fpr, tpr, _ = roc_curve(y, s)
    return dict(fpr=fpr.tolist(), tpr=tpr.tolist(), precision=precision.tolist(), recall=recall.tolist())
