"""The inspection window's model: an evaluation folder, two thresholds, and everything that follows from them.

Qt-free (numpy, sklearn through :mod:`trainer.metrics`): widgets bind to it, tests drive it directly.

    model = ThresholdModel.from_eval(run_dir)            # or ThresholdModel(Evaluation.load(eval_dir))
    model.events.thresholds.connect(on_thresholds)       # plain Python callbacks (napari-style events)
    model.set_seg_threshold(0.42)                        # snapped up to a bin edge, as evaluation does
    model.dice, model.dice_empty_ok, model.crack, model.stats   # every sample, from the cumulative histograms
    model.set_sort("f1_tol", ascending=True); model.order       # gallery order after filters (gallery_order.py)

Every per-sample number comes from ``samples.npz`` through :class:`trainer.metrics.CumulativeHist` and
:class:`trainer.metrics.crack_record.CrackView`, the code that wrote ``results.csv`` and ``metrics.json``, so the
window and ``crack-train eval`` agree exactly at any threshold. The opening thresholds are the threshold rule's
(:mod:`crackviewer.inspect.presets`); curves live in :mod:`crackviewer.inspect.curve_data`.

Events: ``evaluation`` (loaded), ``thresholds`` (seg/image threshold or gating changed; everything recomputed),
``view`` (gallery order or filters changed), ``current`` (the selected sample changed, ``index``).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import numpy as np

from crackviewer.inspect.curve_data import CurveData
from crackviewer.inspect.evaluation_folder import Evaluation, natural_key
from crackviewer.inspect.events import Event, ModelEvents  # noqa: F401  (re-exported for widgets)
from crackviewer.inspect.gallery_order import LABEL_FILTERS, OUTCOMES, SORT_KEYS, GalleryOrder  # noqa: F401
from crackviewer.inspect.presets import Preset, make_presets, opening_thresholds  # noqa: F401
from crackviewer.inspect.split_metrics import SplitMetrics, split_summary
from trainer.metrics import crack_record
from trainer.metrics import image as metrics_image
from trainer.metrics import overlap as metrics_overlap
from trainer.metrics import pixels as metrics_pixels


class ThresholdModel(GalleryOrder, CurveData):
    """Thresholds, per-sample metrics, dataset statistics, curves and the gallery view of one evaluation."""

    def __init__(self, evaluation: Evaluation | None = None):
        self.events = ModelEvents("evaluation", "thresholds", "view", "current")
        self.evaluation: Evaluation | None = None
        self.n = 0
        self.seg_bin = metrics_pixels.threshold_to_bin(0.5)
        self.image_threshold = 0.5
        self.gated = False
        self.threshold_source = "default 0.5"
        self.current: int | None = None
        self.crack_view: crack_record.CrackView | None = None
        self.split: SplitMetrics | None = None
        self._init_order()
        self._init_curves()
        if evaluation is not None:
            self.set_evaluation(evaluation)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_eval(cls, eval_dir: str | Path) -> "ThresholdModel":
        return cls(Evaluation.load(eval_dir))

    def set_evaluation(self, ev: Evaluation, thresholds: str = "saved") -> None:
        """Load an evaluation. ``thresholds``: ``"saved"`` (the threshold rule: the run's thresholds.json when
        present, else the validation-chosen ones, ...), ``"validation"`` or ``"keep"``."""
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
        self.crack_view = (crack_record.CrackView(ev.samples_dict(), cum=self.cum) if ev.has_crack_metrics
                           else None)
        self.uncertainty = (np.asarray(ev.crack[crack_record.SAMPLES_KEY_UNCERTAINTY], np.float64)
                            if crack_record.SAMPLES_KEY_UNCERTAINTY in ev.crack else np.full(self.n, np.nan))
        self.cldice = (self.crack_view.cldice_at_operating if self.crack_view is not None
                       and self.crack_view.cldice_at_operating is not None else np.full(self.n, np.nan))
        self._init_curves()
        self.split = split_summary(ev, self.valid) if self.crack_view is not None else None
        self.presets = make_presets(ev, self.labels, self.scores, self._hp_total, self._hn_total)
        if thresholds != "keep":
            if thresholds == "saved":
                seg, img, gated, source = opening_thresholds(ev, self.presets)
            else:
                seg, img, gated = self.presets["seg_validation"].value, self.presets["image_validation"].value, False
                source = self.presets["seg_validation"].source
            self.seg_bin = metrics_pixels.threshold_to_bin(seg)
            self.image_threshold, self.gated, self.threshold_source = float(img), bool(gated), source
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
        if k != self.seg_bin:
            self.seg_bin = k
            self._thresholds_changed()

    def set_image_threshold(self, t: float) -> None:
        t = float(t)
        if math.isnan(t):
            raise ValueError("image threshold is NaN")
        if t != self.image_threshold:
            self.image_threshold = t
            self._thresholds_changed()

    def set_gated(self, gated: bool) -> None:
        if bool(gated) != self.gated:
            self.gated = bool(gated)
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
            self.events.view.emit(model=self, cause="thresholds")

    # ------------------------------------------------------------------ per-sample numbers
    def _recompute(self) -> None:
        self.decision = self.scores >= self.image_threshold
        gate = self.image_threshold if self.gated else None
        tp, fp = self.cum.counts(self.seg_bin, gate)
        self.tp_pixels = np.asarray(tp, dtype=np.int64)
        self.fp_pixels = np.asarray(fp, dtype=np.int64)
        self.pred_pixels = self.tp_pixels + self.fp_pixels
        dice, iou = metrics_pixels.dice_iou_from_counts(tp, fp, self.gt_pixels)
        self.dice_all, self.iou_all = dice, iou     # every sample (weak positives: vs an empty GT)
        self.dice = np.where(self.valid, dice, np.nan)
        self.iou = np.where(self.valid, iou, np.nan)
        if self.crack_view is not None:
            self.crack = self.crack_view.at(self.seg_bin, gate)
            d_ok, i_ok = self.crack["dice_empty_ok"], self.crack["iou_empty_ok"]
        else:
            self.crack = {}
            d_ok, i_ok = metrics_overlap.dice_iou_empty_ok(tp, fp, self.gt_pixels)
        self.dice_empty_ok = np.where(self.valid, d_ok, np.nan)
        self.iou_empty_ok = np.where(self.valid, i_ok, np.nan)
        pos, dec = self.positive, self.decision
        self.outcome = np.where(pos, np.where(dec, 0, 2), np.where(dec, 1, 3)).astype(np.int8)
        self.stats = self._stats(dice, iou)

    def metric(self, key: str) -> np.ndarray:
        """Per-sample values of a gallery metric (:data:`gallery_order.METRIC_KEYS`); NaN where undefined."""
        if key in ("dice", "iou", "dice_empty_ok", "iou_empty_ok", "cldice", "uncertainty"):
            return getattr(self, key)
        v = self.crack.get(key)
        return np.full(self.n, np.nan) if v is None else np.where(self.valid, v, np.nan)

    def _stats(self, dice, iou) -> dict:
        s = metrics_pixels.dice_stats(dice, iou, self.valid)
        tp, fp, fn, tn = (int(c) for c in np.bincount(self.outcome, minlength=4))
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        f = (2 * precision * recall / (precision + recall + metrics_image.F_EPS)
             if precision is not None and recall is not None else None)
        v = self.valid
        s.update(tp=tp, fp=fp, fn=fn, tn=tn, precision=precision, recall=recall, f_measure=f,
                 accuracy=(tp + tn) / self.n if self.n else None, n=self.n,
                 seg_threshold=self.seg_threshold, seg_bin=self.seg_bin, image_threshold=self.image_threshold,
                 gated=self.gated, pixel_tp=int(self.tp_pixels[v].sum()), pixel_fp=int(self.fp_pixels[v].sum()),
                 pixel_gt=int(self.gt_pixels[v].sum()),
                 dice_empty_ok_mean=float(self.dice_empty_ok[v].mean()) if v.any() else None,
                 iou_empty_ok_mean=float(self.iou_empty_ok[v].mean()) if v.any() else None)
        op = self.tolerance_operating_point()
        s.update(precision_tol=None if op is None else op["precision"], recall_tol=None if op is None else op["recall"],
                 f1_tol=None if op is None else op["f1"])
        return s

    def sample_info(self, i: int) -> dict:
        """Numbers of one sample at the current thresholds."""
        i = int(i)

        def val(a):
            x = float(a[i])
            return None if math.isnan(x) else x

        info = dict(index=i, name=self.names[i], label=int(self.labels[i]), score=float(self.scores[i]),
                    decision=int(self.decision[i]), outcome=OUTCOMES[int(self.outcome[i])],
                    dice=val(self.dice), iou=val(self.iou), dice_empty_ok=val(self.dice_empty_ok),
                    iou_empty_ok=val(self.iou_empty_ok),
                    gt_pixels=int(self.gt_pixels[i]), pred_pixels=int(self.pred_pixels[i]),
                    tp_pixels=int(self.tp_pixels[i]), fp_pixels=int(self.fp_pixels[i]),
                    segmented=bool(self.segmented[i]), weak=bool(self.positive[i] and not self.segmented[i]),
                    gated_out=bool(self.gated and not self.decision[i]))
        for key in ("precision_tol", "recall_tol", "f1_tol", "cldice", "uncertainty"):
            info[key] = val(self.metric(key))
        return info

    def mask_blanked(self, i: int) -> bool:
        """True when the sample's predicted mask is blanked by gating."""
        return bool(self.gated and not self.decision[int(i)])

    # ------------------------------------------------------------------ selection
    def set_current(self, i: int | None) -> None:
        i = None if i is None else int(i)
        if i is not None and not 0 <= i < self.n:
            raise IndexError(f"sample {i} outside 0..{self.n - 1}")
        if i != self.current:
            self.current = i
            self.events.current.emit(index=i)

    def rows(self, indices: Iterable[int] | None = None) -> list[dict]:
        idx = range(self.n) if indices is None else indices
        return [self.sample_info(i) for i in idx]
