"""The prediction side of the Annotate tab: a prediction source (an evaluation of the current model), its outline
over the mask, "start from the prediction", and the review queue ranked on a worker thread.

`PredictionMixin` is the part of `AnnotatePanel` that owns this; it uses the panel's `source`, `store`, `session`,
`_ranker` (a one-thread TaskRunner) and the prediction controls."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtWidgets import QDialog

from figures import colors
from crackviewer.annotate.mask_model import prediction_mask
from crackviewer.annotate.review_queue import PredictionSource, ReviewItem, rank
from crackviewer.annotate.sources import SourceDialog, source_choices
from crackviewer.viewer.layers import CONTOUR_MAX_PIXELS, mask_contours, mask_edges, premul_u32
from crackviewer.viewer.pyramid import Pyramid
from trainer.errors import CrackError


class PredictionMixin:
    def start_from_prediction(self, mode: str = "replace") -> None:
        s = self.session
        if s is None:
            return
        prob = self._prob()
        if prob is None:
            self.flash("No prediction for this sample: choose a prediction source (an evaluation folder of the "
                        "current model that covers this sample).", error=True)
            return
        rect = self.apply_edit(lambda m: m.from_prediction(prob, self.thr_spin.value(), mode))
        if rect is None:
            self.flash("The prediction does not change the mask.")

    # ============================================================== prediction source & review queue
    def set_prediction_source(self, eval_dir) -> bool:
        """Use an evaluation (or run) folder of the current model: prediction tools, outline and review queue."""
        try:
            src = PredictionSource(eval_dir)
        except CrackError as e:
            self.flash(f"Prediction source: {e.message}", error=True)
            return False
        self.source = src
        run = self._predict_run()
        if run is not None and run not in self.opened_runs:
            self.opened_runs.append(run)
        self._pred_cache = None
        self._review.clear()
        self._review_missing = []
        self.thr_spin.blockSignals(True)
        self.thr_spin.setValue(src.seg_threshold)
        self.accept_slider.setValue(int(round(min(0.99, max(0.01, src.seg_threshold)) * 100)))
        self.thr_spin.blockSignals(False)
        covered = len(src.names() & {r.name for r in self.store.records()}) if self.store else len(src.names())
        total = len(self.store.records()) if self.store else 0
        self.source_label.setText(f"{Path(eval_dir).name}: {covered}/{total} samples covered, "
                                  f"threshold {src.seg_threshold:.3f}")
        self.source_label.setToolTip(str(eval_dir))
        self._update_prediction_outline()
        self._update_enabled()
        self._refresh_list()                      # the list marks the samples the source covers
        if self._filter_key() == "review":
            self._start_ranking(force=True)
        return True

    def _choose_source(self) -> None:
        names = {r.name for r in self.store.records()} if self.store else set()
        choices = source_choices(self.workspace, self.opened_runs, names)
        start = self.workspace or (self.store.root if self.store else None)
        dlg = SourceDialog(self, choices, start)
        if dlg.exec() == QDialog.Accepted and dlg.chosen is not None:
            self.set_prediction_source(dlg.chosen)

    def has_prediction(self, name: str) -> bool:
        """Is there a prediction for sample ``name`` (from the source, or predicted here)?"""
        return name in self._predicted_here or (self.source is not None and self.source.covers(name))

    def _prob(self) -> np.ndarray | None:
        s = self.session
        if s is None:
            return None
        if s.name in self._predicted_here:
            return self._predicted_here[s.name]
        if self.source is None:
            return None
        if self._pred_cache is None or self._pred_cache[0] != s.name:
            self._pred_cache = (s.name, self.source.prob(s.name))
        return self._pred_cache[1]

    def _on_pred_toggle(self, on: bool) -> None:
        self.pred_item.setVisible(bool(on))
        self.pred_raster.setVisible(bool(on))
        self._update_prediction_outline()

    def _update_prediction_outline(self) -> None:
        if not self.pred_check.isChecked() or self.session is None:
            self.pred_item.set_contours([])
            self.pred_raster.clear()
            return
        prob = self._prob()
        if prob is None:
            self.pred_item.set_contours([])
            self.pred_raster.clear()
            return
        pm = prediction_mask(prob, self.thr_spin.value(), self.session.model.shape)
        if pm.size <= CONTOUR_MAX_PIXELS:
            self.pred_item.set_contours(mask_contours(pm))
            self.pred_raster.clear()
        else:                      # too large for a vector outline: its edge pixels, drawn tile by tile
            self.pred_item.set_contours([])
            lut = np.array([0, premul_u32(colors.PRED)], np.uint32)
            self.pred_raster.set_source(Pyramid(pm, "max"), lambda t: lut[mask_edges(t)])

    def _start_ranking(self, force: bool = False) -> None:
        if self.source is None or self.store is None or self._ranking:
            self._refresh_list()
            return
        if self._review and not force:
            return
        self._ranking = True
        recs = self.store.records()
        src = self.source
        bridge = self._bridge

        def job():
            return rank(recs, src, progress=lambda i, n: bridge.rankProgress.emit(i, n) if i % 16 == 0 else None)
        self._ranker.run(job, self._on_rank_done, self._on_rank_failed)
        self._refresh_list()

    def _on_rank_progress(self, i: int, n: int) -> None:
        if self._filter_key() == "review":
            self.list_note.setText(f"Ranking samples… {i}/{n}")

    def _on_rank_failed(self, message: str) -> None:
        self.flash(f"Review queue failed: {message}", error=True)
        self._on_rank_done(([], []))

    def _on_rank_done(self, result) -> None:
        self._ranking = False
        items, missing = result
        self._review = {it.name: it for it in items}
        self._review_missing = missing
        self._refresh_list()
        self._update_status()

    def review_items(self) -> list[ReviewItem]:
        return sorted(self._review.values(), key=lambda it: (-it.priority, it.name))
