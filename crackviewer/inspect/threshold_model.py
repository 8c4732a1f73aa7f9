"""The inspection window's model: an evaluation folder, two thresholds, and everything that follows from them.

Qt-free (numpy, sklearn through :mod:`trainer.metrics`): widgets bind to it, tests drive it directly.

    model = ThresholdModel.from_eval(run_dir)            # or ThresholdModel(Evaluation.load(eval_dir))
    model.events.thresholds.connect(on_thresholds)       # plain Python callbacks (napari-style events)
    model.set_seg_threshold(0.42)                        # snapped up to a bin edge, as evaluation does
    model.dice, model.iou, model.stats                   # every sample, from the cumulative histograms
    model.set_sort("dice", ascending=True); model.order  # gallery order after filters

Every per-sample number comes from ``samples.npz`` through :class:`trainer.metrics.CumulativeHist`, the same code
that wrote ``results.csv`` and ``metrics.json``, so the window and ``crack-train eval`` agree exactly at any threshold.

Events (``model.events.<name>.connect(callback)``; callbacks get keyword arguments):

* ``evaluation``  a new evaluation was loaded
* ``thresholds``  seg threshold, image threshold or gating changed (per-sample metrics and stats are recomputed)
* ``view``        gallery order or filters changed (``model.order``)
* ``current``     the selected sample changed (``index`` = sample index or None)
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from crackviewer.inspect.evaluation_folder import Evaluation, natural_key
from trainer.metrics import pixels as metrics_pixels
from trainer.metrics import image as metrics_image

OUTCOMES = ("TP", "FP", "FN", "TN")
"""Image-level classification outcomes; ``model.outcome`` holds their index (0..3)."""

SORT_KEYS = ("dice", "iou", "score", "name")
LABEL_FILTERS = ("all", "positive", "negative")


# ---------------------------------------------------------------------------------------------------------------
# events


class Event:
    """A list of callbacks: ``connect(cb)``, ``disconnect(cb)``, ``emit(**kwargs)``. Exceptions propagate."""

    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []
        self.blocked = False

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any] | None = None) -> None:
        if callback is None:
            self._callbacks.clear()
        elif callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, **kwargs: Any) -> None:
        if self.blocked:
            return
        for cb in list(self._callbacks):
            cb(**kwargs)


class ModelEvents:
    def __init__(self, *names: str):
        for n in names:
            setattr(self, n, Event(n))


# ---------------------------------------------------------------------------------------------------------------
# evaluation folder


# ---------------------------------------------------------------------------------------------------------------
# the model


@dataclass(frozen=True)
class Preset:
    """A threshold a reset button offers: its value and where it comes from."""

    value: float
    source: str


class ThresholdModel:
    """Thresholds, per-sample Dice/IoU, dataset statistics, curves and the gallery view of one evaluation."""

    def __init__(self, evaluation: Evaluation | None = None):
        self.events = ModelEvents("evaluation", "thresholds", "view", "current")
        self.evaluation: Evaluation | None = None
        self.n = 0
        # thresholds
        self.seg_bin = metrics_pixels.threshold_to_bin(0.5)
        self.image_threshold = 0.5
        self.gated = False
        # view
        self.sort_key = "dice"
        self.ascending = True
        self.outcome_filter: set[str] = set(OUTCOMES)
        self.label_filter = "all"
        self.dice_range = (0.0, 1.0)
        self.text_filter = ""
        self.current: int | None = None
        self.order = np.zeros(0, np.int64)
        if evaluation is not None:
            self.set_evaluation(evaluation)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_eval(cls, eval_dir: str | Path) -> "ThresholdModel":
        return cls(Evaluation.load(eval_dir))

    def set_evaluation(self, ev: Evaluation, thresholds: str = "saved") -> None:
        """Load an evaluation. ``thresholds``: ``"saved"`` (the run's thresholds.json when present, else the
        validation-chosen ones), ``"validation"`` or ``"keep"``."""
        self.evaluation = ev
        self.n = ev.n
        self.labels = np.asarray(ev.labels).astype(np.int8)
        self.positive = self.labels > 0
        self.scores = np.asarray(ev.scores, dtype=np.float64)
        self.segmented = np.asarray(ev.segmented, dtype=bool)
        self.valid = metrics_pixels.dice_valid(self.labels, self.segmented)
        self.names = list(ev.names)
        self._name_index = {n: i for i, n in enumerate(self.names)}
        self.cum = metrics_pixels.CumulativeHist(ev.hist_pos, ev.hist_neg, scores=self.scores)
        self.gt_pixels = self.cum.gt
        self._name_rank = np.empty(self.n, np.int64)
        self._name_rank[sorted(range(self.n), key=lambda i: natural_key(self.names[i]))] = np.arange(self.n)
        self._lower_names = [n.lower() for n in self.names]
        self._hp_total = np.asarray(ev.hist_pos).sum(axis=0, dtype=np.int64)
        self._hn_total = np.asarray(ev.hist_neg).sum(axis=0, dtype=np.int64)
        self._curves_cache: dict = {}
        self._dice_curve_cache: dict = {}
        self.presets = self._presets()
        if thresholds != "keep":
            seg, img, gated = self._initial_thresholds(thresholds)
            self.seg_bin = metrics_pixels.threshold_to_bin(seg)
            self.image_threshold = float(img)
            self.gated = bool(gated)
        self.current = None
        self._recompute()
        self._recompute_view()
        self.events.evaluation.emit(evaluation=ev)
        self.events.thresholds.emit(model=self)
        self.events.view.emit(model=self)
        self.events.current.emit(index=None)

    def index_of(self, name: str) -> int:
        try:
            return self._name_index[name]
        except KeyError:
            raise KeyError(f"no sample named {name!r} in this evaluation") from None

    # ------------------------------------------------------------------ presets
    def _presets(self) -> dict[str, Preset]:
        """Reset targets: seg/image x validation/optimal."""
        m = self.evaluation.metrics or {}
        honest = m.get("honest") or {}
        out: dict[str, Preset] = {}
        # segmentation, test-optimal: best pixel F1 over this split's summed histograms
        t_opt, _ = metrics_pixels.seg_threshold_pr(self._hp_total, self._hn_total)
        if t_opt is None:
            t_opt = metrics_image.DEFAULT_THRESHOLD
            out["seg_optimal"] = Preset(t_opt, "default 0.5 (no crack pixels in this split)")
        else:
            out["seg_optimal"] = Preset(float(t_opt), f"best pixel F1 on {self.evaluation.split or 'this split'}")
        if honest.get("seg_threshold") is not None:
            out["seg_validation"] = Preset(float(honest["seg_threshold"]), "chosen on validation")
        elif m.get("seg_threshold") is not None and m.get("seg_threshold_source", "given") == "given":
            out["seg_validation"] = Preset(float(m["seg_threshold"]), "the evaluation's seg threshold")
        else:
            out["seg_validation"] = Preset(out["seg_optimal"].value, out["seg_optimal"].source
                                           + " (no validation threshold recorded)")
        # image, test-optimal: best F on this split's PR curve
        best = m.get("best_threshold")
        if best is None:
            im = metrics_image.image_metrics(self.labels, self.scores)
            best = im["best_threshold"]
        if best is None:
            out["image_optimal"] = Preset(metrics_image.DEFAULT_THRESHOLD, "default 0.5 (one-class split)")
        else:
            out["image_optimal"] = Preset(float(best), f"best F on {self.evaluation.split or 'this split'}")
        if honest.get("image_threshold") is not None:
            out["image_validation"] = Preset(float(honest["image_threshold"]), "chosen on validation")
        elif m.get("decision_threshold") is not None:
            out["image_validation"] = Preset(float(m["decision_threshold"]), "the evaluation's decision threshold")
        else:
            out["image_validation"] = Preset(out["image_optimal"].value, out["image_optimal"].source
                                             + " (no validation threshold recorded)")
        return out

    def _initial_thresholds(self, mode: str) -> tuple[float, float, bool]:
        seg = self.presets["seg_validation"].value
        img = self.presets["image_validation"].value
        gated = False
        saved = self.evaluation.saved_thresholds if mode == "saved" else None
        if saved:
            if saved.get("seg_threshold") is not None:
                seg = float(saved["seg_threshold"])
            if saved.get("image_threshold") is not None:
                img = float(saved["image_threshold"])
            gated = bool(saved.get("gated", False))
        return seg, img, gated

    # ------------------------------------------------------------------ thresholds
    @property
    def seg_threshold(self) -> float:
        """The applied segmentation threshold (a bin edge ``k / B``)."""
        return metrics_pixels.bin_to_threshold(self.seg_bin)

    def set_seg_threshold(self, t: float) -> None:
        """Set the segmentation threshold; it is snapped UP to its bin edge (``trainer.metrics.threshold_to_bin``)."""
        self.set_seg_bin(metrics_pixels.threshold_to_bin(t))

    def set_seg_bin(self, k: int) -> None:
        k = int(min(max(int(k), 0), metrics_pixels.B))
        if k == self.seg_bin:
            return
        self.seg_bin = k
        self._thresholds_changed()

    def set_image_threshold(self, t: float) -> None:
        t = float(t)
        if math.isnan(t):
            raise ValueError("image threshold is NaN")
        if t == self.image_threshold:
            return
        self.image_threshold = t
        self._thresholds_changed()

    def set_gated(self, gated: bool) -> None:
        gated = bool(gated)
        if gated == self.gated:
            return
        self.gated = gated
        self._thresholds_changed()

    def set_thresholds(self, seg: float | None = None, image: float | None = None, gated: bool | None = None) -> None:
        """Set several at once (one recompute, one event)."""
        changed = False
        if seg is not None and metrics_pixels.threshold_to_bin(seg) != self.seg_bin:
            self.seg_bin = metrics_pixels.threshold_to_bin(seg)
            changed = True
        if image is not None and float(image) != self.image_threshold:
            self.image_threshold = float(image)
            changed = True
        if gated is not None and bool(gated) != self.gated:
            self.gated = bool(gated)
            changed = True
        if changed:
            self._thresholds_changed()

    def reset_seg(self, which: str = "validation") -> None:
        """``which``: ``"validation"`` (chosen on validation) or ``"optimal"`` (best pixel F1 on this split)."""
        self.set_seg_threshold(self.presets[f"seg_{which}"].value)

    def reset_image(self, which: str = "validation") -> None:
        """``which``: ``"validation"`` or ``"optimal"`` (best F on this split, the reference's test-optimal point)."""
        self.set_image_threshold(self.presets[f"image_{which}"].value)

    def _thresholds_changed(self) -> None:
        self._recompute()
        self.events.thresholds.emit(model=self)
        if self._view_depends_on_thresholds():
            self._recompute_view()
            self.events.view.emit(model=self)

    def _view_depends_on_thresholds(self) -> bool:
        return (self.sort_key in ("dice", "iou") or self.outcome_filter != set(OUTCOMES)
                or self.dice_range != (0.0, 1.0))

    # ------------------------------------------------------------------ per-sample numbers
    def _recompute(self) -> None:
        self.decision = self.scores >= self.image_threshold
        gate = self.image_threshold if self.gated else None
        tp, fp = self.cum.counts(self.seg_bin, gate)
        self.tp_pixels = np.asarray(tp, dtype=np.int64)
        self.fp_pixels = np.asarray(fp, dtype=np.int64)
        self.pred_pixels = self.tp_pixels + self.fp_pixels
        dice, iou = metrics_pixels.dice_iou_from_counts(tp, fp, self.gt_pixels)
        self.dice_all = dice            # defined for every sample (weak positives: vs an empty GT)
        self.iou_all = iou
        self.dice = np.where(self.valid, dice, np.nan)
        self.iou = np.where(self.valid, iou, np.nan)
        pos, dec = self.positive, self.decision
        self.outcome = np.where(pos, np.where(dec, 0, 2), np.where(dec, 1, 3)).astype(np.int8)
        self.stats = self._stats(dice, iou)

    def _stats(self, dice, iou) -> dict:
        s = metrics_pixels.dice_stats(dice, iou, self.valid)
        counts = np.bincount(self.outcome, minlength=4)
        tp, fp, fn, tn = (int(c) for c in counts)
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        f = (2 * precision * recall / (precision + recall + metrics_image.F_EPS)) if precision is not None and recall is not None \
            else None
        s.update(tp=tp, fp=fp, fn=fn, tn=tn, precision=precision, recall=recall, f_measure=f,
                 accuracy=(tp + tn) / self.n if self.n else None, n=self.n,
                 seg_threshold=self.seg_threshold, seg_bin=self.seg_bin, image_threshold=self.image_threshold,
                 gated=self.gated, pixel_tp=int(self.tp_pixels[self.valid].sum()),
                 pixel_fp=int(self.fp_pixels[self.valid].sum()),
                 pixel_gt=int(self.gt_pixels[self.valid].sum()))
        return s

    def sample_info(self, i: int) -> dict:
        """Numbers of one sample at the current thresholds."""
        i = int(i)
        return dict(index=i, name=self.names[i], label=int(self.labels[i]), score=float(self.scores[i]),
                    decision=int(self.decision[i]), outcome=OUTCOMES[int(self.outcome[i])],
                    dice=None if not self.valid[i] else float(self.dice[i]),
                    iou=None if not self.valid[i] else float(self.iou[i]),
                    gt_pixels=int(self.gt_pixels[i]), pred_pixels=int(self.pred_pixels[i]),
                    tp_pixels=int(self.tp_pixels[i]), fp_pixels=int(self.fp_pixels[i]),
                    segmented=bool(self.segmented[i]), weak=bool(self.positive[i] and not self.segmented[i]),
                    gated_out=bool(self.gated and not self.decision[i]))

    def mask_blanked(self, i: int) -> bool:
        """True when the sample's predicted mask is blanked by gating."""
        return bool(self.gated and not self.decision[int(i)])

    # ------------------------------------------------------------------ gallery view
    def set_sort(self, key: str, ascending: bool | None = None) -> None:
        if key not in SORT_KEYS:
            raise ValueError(f"sort key must be one of {SORT_KEYS}, got {key!r}")
        if key == self.sort_key and (ascending is None or bool(ascending) == self.ascending):
            return
        self.sort_key = key
        if ascending is not None:
            self.ascending = bool(ascending)
        self._view_changed()

    def set_ascending(self, ascending: bool) -> None:
        if bool(ascending) != self.ascending:
            self.ascending = bool(ascending)
            self._view_changed()

    def set_outcome_filter(self, outcomes: Iterable[str]) -> None:
        s = set(outcomes)
        bad = s - set(OUTCOMES)
        if bad:
            raise ValueError(f"unknown outcomes {sorted(bad)}; use {OUTCOMES}")
        if s != self.outcome_filter:
            self.outcome_filter = s
            self._view_changed()

    def set_label_filter(self, which: str) -> None:
        if which not in LABEL_FILTERS:
            raise ValueError(f"label filter must be one of {LABEL_FILTERS}, got {which!r}")
        if which != self.label_filter:
            self.label_filter = which
            self._view_changed()

    def set_dice_range(self, lo: float, hi: float) -> None:
        lo, hi = float(lo), float(hi)
        if lo > hi:
            lo, hi = hi, lo
        if (lo, hi) != self.dice_range:
            self.dice_range = (lo, hi)
            self._view_changed()

    def set_text_filter(self, text: str) -> None:
        text = (text or "").strip().lower()
        if text != self.text_filter:
            self.text_filter = text
            self._view_changed()

    def reset_filters(self) -> None:
        self.outcome_filter = set(OUTCOMES)
        self.label_filter = "all"
        self.dice_range = (0.0, 1.0)
        self.text_filter = ""
        self._view_changed()

    def _view_changed(self) -> None:
        self._recompute_view()
        self.events.view.emit(model=self)

    def filter_mask(self) -> np.ndarray:
        keep = np.ones(self.n, bool)
        if self.outcome_filter != set(OUTCOMES):
            allowed = np.zeros(4, bool)
            for o in self.outcome_filter:
                allowed[OUTCOMES.index(o)] = True
            keep &= allowed[self.outcome]
        if self.label_filter == "positive":
            keep &= self.positive
        elif self.label_filter == "negative":
            keep &= ~self.positive
        lo, hi = self.dice_range
        if (lo, hi) != (0.0, 1.0):
            d = self.dice
            with np.errstate(invalid="ignore"):
                keep &= (d >= lo - 1e-12) & (d <= hi + 1e-12)      # weak positives (no Dice) drop out
        if self.text_filter:
            t = self.text_filter
            keep &= np.fromiter((t in n for n in self._lower_names), bool, self.n)
        return keep

    def sort_values(self) -> np.ndarray:
        if self.sort_key == "dice":
            return self.dice
        if self.sort_key == "iou":
            return self.iou
        if self.sort_key == "score":
            return self.scores
        return self._name_rank.astype(np.float64)

    def _recompute_view(self) -> None:
        idx = np.flatnonzero(self.filter_mask())
        v = self.sort_values()[idx]
        nan = np.isnan(v)
        key = np.where(nan, np.inf, v if self.ascending else -v)      # samples without a Dice go last
        # ties broken by name, so the order is stable and readable
        order = np.lexsort((self._name_rank[idx], key))
        self.order = idx[order]

    @property
    def visible_count(self) -> int:
        return int(self.order.size)

    def row_of(self, i: int) -> int | None:
        hits = np.flatnonzero(self.order == int(i))
        return int(hits[0]) if hits.size else None

    # ------------------------------------------------------------------ selection
    def set_current(self, i: int | None) -> None:
        i = None if i is None else int(i)
        if i is not None and not 0 <= i < self.n:
            raise IndexError(f"sample {i} outside 0..{self.n - 1}")
        if i != self.current:
            self.current = i
            self.events.current.emit(index=i)

    def step_current(self, delta: int) -> int | None:
        """Move the selection ``delta`` tiles along the gallery order (clamped); returns the new sample index."""
        if not self.order.size:
            return self.current
        row = self.row_of(self.current) if self.current is not None else None
        row = 0 if row is None else min(max(row + int(delta), 0), self.order.size - 1)
        self.set_current(int(self.order[row]))
        return self.current

    # ------------------------------------------------------------------ curves
    def image_curves(self) -> dict | None:
        """Image-level ROC and PR curves with the threshold of every point, or None on a one-class split."""
        if "image" not in self._curves_cache:
            y = self.positive
            if not (y.any() and (~y).any()):
                self._curves_cache["image"] = None
            else:
                from sklearn.metrics import precision_recall_curve, roc_curve

                fpr, tpr, roc_t = roc_curve(y, self.scores)
                precision, recall, pr_t = precision_recall_curve(y, self.scores)
                top = float(np.nextafter(self.scores.max(), np.inf))
                roc_t = np.where(np.isfinite(roc_t), roc_t, top)
                # the PR curve's last point (recall 0, precision 1) has no threshold: above every score
                pr_t = np.append(pr_t, top)
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
        tp = float(self.tp_pixels.sum())          # already gated when gating is on
        fp = float(self.fp_pixels.sum())
        g = float(self.gt_pixels.sum())
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / g if g else 0.0
        return dict(precision=precision, recall=recall, threshold=self.seg_threshold)

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
            tp = tp * keep
            fp = fp * keep
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
        """Seg threshold of the pixel-PR (``"pixel"``: x=recall, y=precision) point nearest to (x, y), or for the
        Dice curve (``"dice"``) the threshold ``x`` itself."""
        if curve == "dice":
            return float(min(max(x, 0.0), 1.0))
        c = self.pixel_curve(step=1)
        d = ((c["recall"] - x) * aspect) ** 2 + (c["precision"] - y) ** 2
        return float(c["threshold"][int(np.argmin(d))])

    # ------------------------------------------------------------------ rows for export / tables
    def rows(self, indices: Iterable[int] | None = None) -> list[dict]:
        idx = range(self.n) if indices is None else indices
        return [self.sample_info(i) for i in idx]


# ---------------------------------------------------------------------------------------------------------------
# pixels of a sample (images, masks, probability maps): read on demand, thread-safe
