"""The curves of an evaluation (Qt-free), a part of :class:`~crackviewer.inspect.threshold_model.ThresholdModel`:
image ROC/PR, pixel PR, mean Dice over thresholds, the tolerance PR curve (issue 13) and the reliability diagrams,
with the current operating point on each."""
from __future__ import annotations

import numpy as np

from trainer.metrics import calibration as metrics_calibration
from trainer.metrics import pixels as metrics_pixels


class CurveData:
    """Mixed into the model, which provides ``positive``, ``scores``, ``stats``, ``cum``, ``valid``, ``decision``,
    ``gt_pixels``, ``tp_pixels``, ``fp_pixels``, ``crack_view``, ``evaluation`` and the thresholds."""

    def _init_curves(self) -> None:
        self._curves_cache: dict = {}
        self._dice_curve_cache: dict = {}

    def image_curves(self) -> dict | None:
        """Image-level ROC and PR curves with the threshold of every point, or None on a one-class split."""
        if "image" not in self._curves_cache:
            y = self.positive
            if not (y.any() and (~y).any()):
                self._curves_cache["image"] = None
            else:
                from sklearn.metrics import precision_recall_curve, roc_curve  # lazy: 1-3 s of GUI start-up

                fpr, tpr, roc_t = roc_curve(y, self.scores)
                precision, recall, pr_t = precision_recall_curve(y, self.scores)
                top = float(np.nextafter(self.scores.max(), np.inf))
                roc_t = np.where(np.isfinite(roc_t), roc_t, top)
                pr_t = np.append(pr_t, top)     # the PR curve's last point (recall 0, precision 1): above every score
                self._curves_cache["image"] = dict(fpr=fpr, tpr=tpr, roc_thresholds=roc_t, precision=precision,
                                                   recall=recall, pr_thresholds=pr_t,
                                                   auc=self.evaluation.metrics.get("auc"),
                                                   ap=self.evaluation.metrics.get("ap"))
        return self._curves_cache["image"]

    def image_operating_point(self) -> dict:
        """(FPR, TPR) and (recall, precision) at the current image threshold."""
        s = self.stats
        tp, fp, fn, tn = s["tp"], s["fp"], s["fn"], s["tn"]
        tpr = tp / (tp + fn) if tp + fn else 0.0
        fpr = fp / (fp + tn) if fp + tn else 0.0
        precision = tp / (tp + fp) if tp + fp else 1.0
        return dict(fpr=fpr, tpr=tpr, recall=tpr, precision=precision, threshold=self.image_threshold)

    def pixel_curve(self, step: int = 8) -> dict:
        """Pixel-level PR curve over the split's summed histograms (every ``step``-th bin edge), ungated."""
        key = ("pixel", step)
        if key not in self._curves_cache:
            c = metrics_pixels.pixel_pr_curve(self._hp_total, self._hn_total)
            ks = np.arange(0, metrics_pixels.B, step)
            self._curves_cache[key] = dict(k=ks, threshold=ks / metrics_pixels.B, precision=c["precision"][ks],
                                           recall=c["recall"][ks], f1=c["f1"][ks],
                                           full_precision=c["precision"], full_recall=c["recall"])
        return self._curves_cache[key]

    def pixel_operating_point(self) -> dict:
        """Pixel precision/recall of the split at the current seg threshold (gating applied when on)."""
        tp, fp, g = float(self.tp_pixels.sum()), float(self.fp_pixels.sum()), float(self.gt_pixels.sum())
        return dict(precision=tp / (tp + fp) if tp + fp else 1.0, recall=tp / g if g else 0.0,
                    threshold=self.seg_threshold)

    def tolerance_curve(self, step: int = 8) -> dict | None:
        """The split's tolerance PR curve (every ``step``-th bin edge, ungated) or None without crack metrics."""
        if self.crack_view is None:
            return None
        key = ("tolerance", step)
        if key not in self._curves_cache:
            c = self.crack_view.curve
            ks = np.arange(0, metrics_pixels.B, step)
            self._curves_cache[key] = dict(k=ks, threshold=ks / metrics_pixels.B, precision=c["precision"][ks],
                                           recall=c["recall"][ks], f1=c["f1"][ks])
        return self._curves_cache[key]

    def tolerance_operating_point(self) -> dict | None:
        """Pooled tolerance precision/recall/F1 of the split at the current seg threshold (ungated)."""
        if self.crack_view is None:
            return None
        c, k = self.crack_view.curve, self.seg_bin
        return dict(precision=float(c["precision"][k]), recall=float(c["recall"][k]), f1=float(c["f1"][k]),
                    threshold=self.seg_threshold)

    def reliability(self) -> dict:
        """Reliability diagrams ``{"image": ..., "pixel": ...}`` (edges, confidence, accuracy, counts, ece): from
        ``metrics.json`` when the evaluation wrote them, else computed from the scores and histograms."""
        if "reliability" not in self._curves_cache:
            rel = (self.evaluation.metrics or {}).get("reliability") or {}
            out = {}
            for kind in ("image", "pixel"):
                r = rel.get(kind)
                if not r:
                    r = (metrics_calibration.reliability_scores(self.labels, self.scores) if kind == "image" else
                         metrics_calibration.reliability_pixels(self._hp_total[None], self._hn_total[None]))
                out[kind] = {k: (np.asarray(v, dtype=np.float64) if k != "ece" else v) for k, v in r.items()}
            self._curves_cache["reliability"] = out
        return self._curves_cache["reliability"]

    def dice_curve(self, step: int = 32) -> dict:
        """Mean Dice and IoU over the valid samples at every ``step``-th bin edge, with the current gating."""
        key = (step, self.gated, self.image_threshold if self.gated else None)
        hit = self._dice_curve_cache.get("last")
        if hit is not None and hit[0] == key:
            return hit[1]
        base = self._dice_curve_cache.get(("base", step))
        if base is None:
            ks = np.append(np.arange(0, metrics_pixels.B, step), metrics_pixels.B)
            base = (ks, self.cum.tp[ks][:, self.valid].astype(np.float64),
                    self.cum.fp[ks][:, self.valid].astype(np.float64),
                    self.gt_pixels[self.valid].astype(np.float64)[None, :])
            self._dice_curve_cache[("base", step)] = base
        ks, tp, fp, gt = base
        if self.gated:
            keep = self.decision[self.valid]
            tp, fp = tp * keep, fp * keep
        if tp.shape[1]:
            d, i = metrics_pixels.dice_iou_from_counts(tp, fp, gt)
            out = dict(k=ks, threshold=ks / metrics_pixels.B, dice=d.mean(axis=1), iou=i.mean(axis=1))
        else:
            nan = np.full(ks.size, np.nan)
            out = dict(k=ks, threshold=ks / metrics_pixels.B, dice=nan, iou=nan)
        self._dice_curve_cache["last"] = (key, out)
        return out

    def nearest_image_threshold(self, curve: str, x: float, y: float, aspect: float = 1.0) -> float | None:
        """Threshold of the ROC (``curve="roc"``: x=FPR, y=TPR) or PR (``"pr"``: x=recall, y=precision) point
        nearest to (x, y); ``aspect`` scales x distances (plot units per pixel ratio)."""
        c = self.image_curves()
        if c is None:
            return None
        if curve == "roc":
            px, py, t = c["fpr"], c["tpr"], c["roc_thresholds"]
        elif curve == "pr":
            px, py, t = c["recall"], c["precision"], c["pr_thresholds"]
        else:
            raise ValueError(f"curve must be 'roc' or 'pr', got {curve!r}")
        d = ((px - x) * aspect) ** 2 + (py - y) ** 2
        return float(t[int(np.argmin(d))])

    def nearest_seg_threshold(self, curve: str, x: float, y: float, aspect: float = 1.0) -> float:
        """Seg threshold of the pixel-PR (``"pixel"``) or tolerance-PR (``"tolerance"``) point nearest to (x, y)
        (x=recall, y=precision), or for the Dice curve (``"dice"``) the threshold ``x`` itself."""
        if curve == "dice":
            return float(min(max(x, 0.0), 1.0))
        c = (self.tolerance_curve(step=1) if curve == "tolerance" else None) or self.pixel_curve(step=1)
        d = ((c["recall"] - x) * aspect) ** 2 + (c["precision"] - y) ** 2
        return float(c["threshold"][int(np.argmin(d))])
