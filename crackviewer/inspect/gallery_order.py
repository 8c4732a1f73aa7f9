"""The gallery's order and filters (Qt-free), a part of :class:`~crackviewer.inspect.threshold_model.ThresholdModel`:
sort by any per-sample metric, filter by outcome, label, name and a range of one metric."""
from __future__ import annotations

from typing import Iterable

import numpy as np

OUTCOMES = ("TP", "FP", "FN", "TN")
"""Image-level classification outcomes; ``model.outcome`` holds their index (0..3)."""

METRIC_KEYS = ("dice_empty_ok", "dice", "iou_empty_ok", "iou", "f1_tol", "precision_tol", "recall_tol", "cldice",
               "uncertainty")
"""Per-sample metrics the gallery sorts and filters by (``model.metric(key)``; NaN = not defined for the sample)."""
SORT_KEYS = METRIC_KEYS + ("score", "name")
LABEL_FILTERS = ("all", "positive", "negative")
THRESHOLD_FREE = ("score", "name", "cldice", "uncertainty")


class GalleryOrder:
    """Sorting and filtering state and ``order`` (sample indices in gallery order). Mixed into the model, which
    provides ``n``, ``outcome``, ``positive``, ``metric(key)``, ``_name_rank``, ``_lower_names`` and ``events``."""

    def _init_order(self) -> None:
        self.sort_key = "dice_empty_ok"
        self.ascending = True
        self.outcome_filter: set[str] = set(OUTCOMES)
        self.label_filter = "all"
        self.range_key = "dice_empty_ok"
        self.dice_range = (0.0, 1.0)
        self.text_filter = ""
        self.order = np.zeros(0, np.int64)

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
        """Keep samples whose Dice (the reference's formula) lies in [lo, hi]."""
        self.set_metric_range("dice", lo, hi)

    def set_metric_range(self, key: str, lo: float, hi: float) -> None:
        if key not in METRIC_KEYS:
            raise ValueError(f"range filter key must be one of {METRIC_KEYS}, got {key!r}")
        lo, hi = sorted((float(lo), float(hi)))
        if (key, (lo, hi)) != (self.range_key, self.dice_range):
            self.range_key, self.dice_range = key, (lo, hi)
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

    def _view_depends_on_thresholds(self) -> bool:
        return (self.sort_key not in THRESHOLD_FREE or self.outcome_filter != set(OUTCOMES)
                or (self.dice_range != (0.0, 1.0) and self.range_key not in THRESHOLD_FREE))

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
            d = self.metric(self.range_key)
            with np.errstate(invalid="ignore"):
                keep &= (d >= lo - 1e-12) & (d <= hi + 1e-12)      # samples without the metric drop out
        if self.text_filter:
            t = self.text_filter
            keep &= np.fromiter((t in n for n in self._lower_names), bool, self.n)
        return keep

    def sort_values(self) -> np.ndarray:
        if self.sort_key == "score":
            return self.scores
        if self.sort_key == "name":
            return self._name_rank.astype(np.float64)
        return self.metric(self.sort_key)

    def _recompute_view(self) -> None:
        keep = self.filter_mask()
        if keep.all():
            v = self.sort_values()
            idx = None
        else:
            idx = np.flatnonzero(keep)
            v = self.sort_values()[idx]
        key = np.where(np.isnan(v), np.inf, v if self.ascending else -v)   # samples without the metric go last
        ranks = self._name_rank if idx is None else self._name_rank[idx]
        order = np.lexsort((ranks, key))                                    # ties broken by name: stable, readable
        self.order = order if idx is None else idx[order]

    @property
    def visible_count(self) -> int:
        return int(self.order.size)

    def row_of(self, i: int) -> int | None:
        hits = np.flatnonzero(self.order == int(i))
        return int(hits[0]) if hits.size else None

    def step_current(self, delta: int) -> int | None:
        """Move the selection ``delta`` tiles along the gallery order (clamped); returns the new sample index."""
        if not self.order.size:
            return self.current
        row = self.row_of(self.current) if self.current is not None else None
        row = 0 if row is None else min(max(row + int(delta), 0), self.order.size - 1)
        self.set_current(int(self.order[row]))
        return self.current
