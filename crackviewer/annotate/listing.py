"""The Annotate tab's sample list: filters (kind, split, search, review queue), selection and the dataset counts.

`SampleListMixin` is the part of `AnnotatePanel` that owns this."""
from __future__ import annotations

import html

from PySide6.QtCore import QModelIndex

from crackviewer.annotate.sample_list import MARKS_LEGEND, sample_kind


class SampleListMixin:
    # ============================================================== list, filters, counts
    def _filter_key(self) -> str:
        return self.filter_combo.currentData()

    def _on_filter_changed(self, *_):
        if self._filter_key() == "review":
            self._start_ranking()
        self._refresh_list()

    def set_filter(self, key: str) -> None:
        for i in range(self.filter_combo.count()):
            if self.filter_combo.itemData(i) == key:
                self.filter_combo.setCurrentIndex(i)
                return
        raise ValueError(f"unknown filter {key!r}")

    def _refresh_list(self) -> None:
        if self.store is None:
            self.list_model.set_names([])
            return
        key = self._filter_key()
        split = self.split_combo.currentData()
        text = self.search.text().strip().lower()
        recs = self.store.records()
        note = ""
        review = None
        if key == "review":
            review = self._review
            order = [n for n in sorted(self._review, key=lambda n: (-self._review[n].priority, n))]
            by = {r.name: r for r in recs}
            recs = [by[n] for n in order if n in by]
            if self.source is None:
                note = "The review queue needs a prediction source (an evaluation of the current model)."
            elif self._ranking:
                note = "Ranking samples…"
            else:
                note = (f"{len(recs)} samples ranked by model disagreement"
                        + (f"; {len(self._review_missing)} not in the evaluation" if self._review_missing else ""))
        out = []
        for r in recs:
            if split is not None and r.split != split:
                continue
            if text and text not in r.name.lower():
                continue
            k = sample_kind(r)
            if key in ("segmented", "weak", "negative") and k != key:
                continue
            if key == "unsaved" and not self.is_unsaved(r.name):
                continue
            out.append(r.name)
        self.list_model.set_names(out, review)
        if key != "review":
            note = f"{len(out)} of {len(self.store.records())} samples  ·  {MARKS_LEGEND}"
        self.list_note.setText(note)
        if self.session is not None:
            self._select_in_list(self.session.name)

    def _select_in_list(self, name: str) -> None:
        try:
            row = self.list_model.names.index(name)
        except ValueError:
            self.list_view.clearSelection()
            return
        idx = self.list_model.index(row)
        sm = self.list_view.selectionModel()
        sm.blockSignals(True)
        sm.setCurrentIndex(idx, sm.SelectionFlag.ClearAndSelect)
        sm.blockSignals(False)
        self.list_view.scrollTo(idx)

    def _on_list_current(self, current: QModelIndex, _prev=None) -> None:
        if current.isValid() and current.row() < len(self.list_model.names):
            self.open_sample(self.list_model.names[current.row()])

    def _update_counts(self) -> None:
        if self.store is None:
            self.counts_label.setText("No dataset open.")
            return
        counts = self.store.counts()
        rows = []
        tot = {"positives": 0, "negatives": 0, "segmented": 0, "weak": 0}
        for sp, c in counts.items():
            for k in tot:
                tot[k] += c[k]
            rows.append(f"<tr><td><b>{html.escape(sp)}</b></td><td align=right>{c['segmented']}</td>"
                        f"<td align=right>{c['weak']}</td><td align=right>{c['negatives']}</td></tr>")
        head = ("<tr><td></td><td align=right style='color:#00795a'>segm.</td>"
                "<td align=right style='color:#a86f00'>weak</td><td align=right style='color:#6b727b'>neg.</td></tr>")
        rows.append(f"<tr><td><b>total</b></td><td align=right><b>{tot['segmented']}</b></td>"
                    f"<td align=right><b>{tot['weak']}</b></td><td align=right><b>{tot['negatives']}</b></td></tr>")
        self.counts_label.setText(f"<div style='font-weight:600'>{html.escape(self.store.root.name)} "
                                  f"<span style='color:#6b727b; font-weight:400'>({self.store.layout})</span></div>"
                                  f"<table cellspacing=0 cellpadding=1 width='100%'>{head}{''.join(rows)}</table>")

    def counts(self) -> dict:
        return self.store.counts() if self.store is not None else {}
