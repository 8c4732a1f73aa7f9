"""The Annotate tab's status: sample title and label, the status line, which buttons are enabled, flash messages
and the banner (read-only dataset, a label an edit changed).

`StatusMixin` is the part of `AnnotatePanel` that owns this."""
from __future__ import annotations

import html
from dataclasses import replace

from PySide6.QtCore import Qt, QTimer

from crackviewer.annotate.sample_list import sample_kind
from crackviewer.annotate.tools import TOOL_HINTS


class StatusMixin:
    # ============================================================== status
    def _on_hover(self, x: int, y: int) -> None:
        self._hover_xy = (x, y)
        self._update_cursor_text()
        if x < 0:
            self.ring.setVisible(False)
            self.ring_dark.setVisible(False)

    def _update_cursor_text(self) -> None:
        """Cursor position and zoom: the only text touched on mouse moves (cheap, fixed-size label)."""
        xy = getattr(self, "_hover_xy", (-1, -1))
        pos = f"x {xy[0]}, y {xy[1]}   " if xy[0] >= 0 else ""
        self.cursor_label.setText(f"{pos}zoom {self.canvas.scale_factor() * 100:.0f}%")

    def _update_status(self) -> None:
        """Sample title, size, crack pixels, history depth and the label button (after opening, edits, saves)."""
        s = self.session
        if s is None or self.store is None:
            self.status_label.setText("")
            return
        rec = self.store.record(s.name)
        if s.label is not None and s.label != rec.label:        # the edit history's label, not saved yet
            rec = replace(rec, label=s.label, has_mask=rec.has_mask or s.model.crack_pixels() > 0)
        h, w = s.model.shape
        kind = {"segmented": "crack · segmented", "weak": "crack · weak label (no mask)",
                "negative": "no crack"}[sample_kind(rec)]
        self.title_label.setTextFormat(Qt.RichText)
        self.title_label.setText(f"{html.escape(s.name)}   <span style='font-size:10pt; color:#5b626b; "
                                 f"font-weight:400'>{html.escape(rec.split)} · {kind}</span>")
        self.status_label.setText(
            f"{w}×{h} px · {s.model.crack_pixels():,} crack px · undo {s.model.undo_depth} / "
            f"redo {s.model.redo_depth}")
        label = rec.label
        self.label_button.blockSignals(True)
        self.label_button.setChecked(label == 1)
        self.label_button.setText("Label: crack   C" if label == 1 else "Label: no crack   C")
        self.label_button.blockSignals(False)
        self._update_cursor_text()
        it = self._review.get(s.name)
        if it is not None:
            self.review_label.setText(f"<b>Review priority {it.priority * 100:.0f}%</b> ({it.kind}): "
                                      f"{html.escape(it.reason)}")
        self.review_label.setVisible(it is not None)

    def _update_enabled(self) -> None:
        s = self.session
        has = s is not None
        edit = has and self.editable
        self.undo_button.setEnabled(edit and s.model.can_undo)
        self.redo_button.setEnabled(edit and s.model.can_redo)
        for w in (self.clear_button, self.label_button, self.save_button, *self.tool_buttons.values()):
            w.setEnabled(edit)
        has_pred = edit and self._prob() is not None
        self.pred_button.setEnabled(has_pred)
        self.pred_add_button.setEnabled(has_pred)
        self.pred_check.setEnabled(self.source is not None or bool(self._predicted_here))
        self.predict_button.setEnabled(has and self._predict_run() is not None and not self.predicting)
        if has:
            self.undo_button.setText(f"Undo ({s.model.undo_depth})")
            self.redo_button.setText(f"Redo ({s.model.redo_depth})")

    def flash(self, text: str, error: bool = False) -> None:
        color = "#9d0020" if error else "#2b3038"
        self.hint_label.setText(f"<span style='color:{color}'>{html.escape(text)}</span>")
        self.hint_label.setTextFormat(Qt.RichText)
        QTimer.singleShot(6000, self, lambda: self.hint_label.setText(TOOL_HINTS[self._tool_name]))

    def show_banner(self, text: str, kind: str = "info") -> None:
        """A line above the image that stays until replaced (read-only dataset, a label an edit changed)."""
        self.banner.setProperty("kind", kind)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.setText(html.escape(text))
        self.banner.setVisible(bool(text))
