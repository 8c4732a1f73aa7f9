"""The annotation panel: paint and correct crack masks, flip image labels, never lose an edit.

``AnnotatePanel(QWidget)``:

* ``open_dataset(path)`` - any layout ``trainer.datasets`` reads; masks are written back in that layout
  (:mod:`crackviewer.annotate.mask_store`). The dataset's edit lock is taken; when another process holds it the
  dataset opens read-only and a banner says who edits it;
* ``open_sample(name)`` - show a sample (its unsaved edits, or strokes recovered from the crash journal, included);
  ``show_sample(name)`` also resets the list's filters so the sample is listed and selected;
* ``set_prediction_source(path)`` - an evaluation or run folder of the current model: enables "start from the
  prediction", the accept and tracer tools' use of it, the outline and the review queue
  (:mod:`crackviewer.annotate.review_queue`); "Prediction source…" lists the workspace's evaluations.

Left: the sample list with filters (all / segmented / weak / negative / unsaved / review queue), a split filter and
a search field, and the dataset counts. Centre: the image with the editable mask (a :class:`SampleViewer` from the
inspection window, so zoom and pan behave the same). Right: tools, sizes, opacity, the image label, undo/redo and
the save state.

Editing goes through :class:`~crackviewer.annotate.mask_model.MaskModel`; each tool returns the dirty rectangle, and only
that rectangle of the overlay's pixels is recoloured and repainted. Every completed stroke is appended to the
sample's journal at once, and a debounced autosave (300 ms after the last stroke) writes the mask atomically in a
worker thread. A failing save leaves the sample "unsaved" and shows why; the edits stay in memory (and in the
journal) and the save is retried after the next stroke or with Ctrl+S. A mask changed on disk by another process
is never overwritten: a dialog offers to reload it or to keep the edits as a copy (:mod:`crackviewer.annotate.access`).
An edit that turns a crack-free image into a crack says so, and its undo gives the label back.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QWidget

from crackviewer.annotate.access import AccessMixin
from crackviewer.annotate.assist import AssistMixin
from crackviewer.annotate.bindings import bind_annotate_shortcuts
from crackviewer.annotate.editing import MASK_COLOR, EditingMixin
from crackviewer.annotate.layout import AnnotateLayoutMixin
from crackviewer.annotate.listing import SampleListMixin
from crackviewer.annotate.mask_model import MaskModel
from crackviewer.annotate.mask_store import MaskStore
from crackviewer.annotate.prediction import PredictionMixin
from crackviewer.annotate.review_queue import PredictionSource, ReviewItem
from crackviewer.annotate.saving import SavingMixin
from crackviewer.annotate.session import SNAPSHOT_MIN_PIXELS, Bridge, Session
from crackviewer.annotate.status import StatusMixin
from crackviewer.annotate.tools import TOOL_HINTS, Tool
from crackviewer.annotate.toolset import make_tools
from crackviewer.qt.tasks import LatestTask, TaskRunner
from trainer.datasets.images import read_image
from trainer.errors import CrackError
from trainer.limits import VIEWER_MAX_MEGAPIXELS, opens_in_background

AUTOSAVE_MS = 300
RECENT_SESSIONS = 8                     # saved samples whose undo history is kept when the user moves on


# ------------------------------------------------------------------------------------------------------------------
# the panel


class AnnotatePanel(AnnotateLayoutMixin, SampleListMixin, EditingMixin, SavingMixin, PredictionMixin, AssistMixin,
                    AccessMixin, StatusMixin, QWidget):
    """Paint and correct crack masks (see the module docstring)."""

    sampleChanged = Signal(str)          # a sample's mask or label was saved (the dataset's counts may change)
    countsChanged = Signal(object)       # {split: {positives, negatives, segmented, weak}} after a save
    sampleOpened = Signal(str)
    saveStateChanged = Signal(str)       # "saved" | "unsaved" | "saving" | "failed"

    def __init__(self, parent: QWidget | None = None, *, autosave_ms: int = AUTOSAVE_MS):
        super().__init__(parent)
        self.store: MaskStore | None = None
        self.source: PredictionSource | None = None
        self.session: Session | None = None
        # recently edited samples, kept in memory with their undo history (all unsaved ones, plus the last
        # RECENT_SESSIONS saved ones) so going back to a sample keeps Ctrl+Z working
        self._sessions: dict[str, Session] = {}
        self._errors: dict[str, str] = {}
        self.edited: set[str] = set()    # samples whose mask or label was changed since the dataset was opened
        self._review: dict[str, ReviewItem] = {}
        self._review_missing: list[str] = []
        self._ranking = False
        self.workspace: Path | None = None          # where "Prediction source…" looks for runs (the app sets it)
        self.opened_runs: list[Path] = []          # run folders used as sources before: listed too
        self.predict_run: Path | None = None       # the run "Predict this sample" uses when no source names one
        self._predicted_here: dict[str, np.ndarray] = {}   # probability maps from "Predict this sample"
        self._tracer_cache = None
        self._predicted_cache = None
        self.last_brush_point: tuple[float, float] | None = None
        self.panning = False
        self.brush_size = 6.0
        self.tolerance = 18.0
        self._opacity = 0.6
        self._pred_cache: tuple[str, np.ndarray | None] | None = None
        self._bridge = Bridge()
        self._bridge.rankProgress.connect(self._on_rank_progress)
        self._saver = TaskRunner(self, threads=1)          # one thread: saves stay in order
        self._ranker = TaskRunner(self, threads=1)
        self._opener = LatestTask(self)                     # large images are decoded here
        self._autosave = QTimer(self)
        self._autosave.setSingleShot(True)
        self._autosave.setInterval(int(autosave_ms))
        self._autosave.timeout.connect(self._autosave_fire)
        self._lut = np.zeros(2, np.uint32)
        self._mask_pyramid = None            # the overlay's Pyramid over the open sample's mask (editing.py)
        self._set_mask_color(MASK_COLOR)
        self._build()
        self._tools = make_tools(self)
        self._tool_name = "brush"
        self.set_tool("brush")
        bind_annotate_shortcuts(self)
        self._update_enabled()
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.save_all)

    # ============================================================== dataset and samples
    def open_dataset(self, path) -> bool:
        """Open a dataset folder (any layout). Unsaved edits of the previous one are saved first."""
        self.save_all()
        try:
            store = MaskStore(path)
        except CrackError as e:
            self.flash(f"Cannot open the dataset: {e.message}", error=True)
            return False
        store.remove_stale_temp_files()
        if self.store is not None:
            self.store.release_edit_lock()
        self.store = store
        self._take_edit_lock(store)
        self.session = None
        self._sessions.clear()
        self._errors.clear()
        self.edited.clear()
        self._review.clear()
        self._predicted_here.clear()
        self._pred_cache = None
        self.split_combo.blockSignals(True)
        self.split_combo.clear()
        self.split_combo.addItem("all splits", None)
        for sp in store.index.splits:
            self.split_combo.addItem(sp, sp)
        self.split_combo.blockSignals(False)
        self._update_counts()
        self._refresh_list()
        pending = store.pending_journals() if self.editable else []
        if pending:
            self.flash(f"Recovering unsaved strokes of {len(pending)} sample(s) from the journal: "
                        f"{', '.join(pending[:5])}{'…' if len(pending) > 5 else ''}")
            for name in pending:
                self._recover(name)
        names = self.list_model.names
        if names:
            self.open_sample(names[0])
        else:
            self._show_empty()
        return True

    def _recover(self, name: str) -> None:
        """Replay a crash journal into a session and save it (the journal stays until a save covers it)."""
        try:
            s = self._load_session(name)
        except CrackError as e:
            self._errors[name] = e.message
            return
        if s.recovered:
            self._sessions[name] = s
            self._save_sync(s)

    def _load_session(self, name: str) -> Session:
        rec = self.store.record(name)
        image = read_image(rec.image_path, max_megapixels=VIEWER_MAX_MEGAPIXELS)
        if self.editable:
            mask, n = self.store.load_mask(name, image.shape[:2])
        else:                                   # read-only: the editor's journal is theirs, show the saved mask
            mask, n = self.store.read_saved_mask(name, image.shape[:2]), 0
        model = MaskModel(mask, image=image)
        s = Session(name, image, model, saved_revision=model.revision, recovered=n)
        if n:
            model.revision += 1                      # recovered strokes are not on disk yet
        model.listeners.append(s.note_change)       # first: a save started by the next listener sees the change
        model.listeners.append(lambda ch, how, s=s: self._on_model_change(s, ch, how))
        if mask.size >= SNAPSHOT_MIN_PIXELS:
            s.mask_for_save()                        # the one whole copy of a large mask, made while it opens
        return s

    def show_sample(self, name: str) -> bool:
        """Show sample ``name`` and select it in a list reset to show it (all samples, all splits, no search)."""
        if self.store is None:
            return False
        self.search.blockSignals(True)
        self.search.setText("")
        self.search.blockSignals(False)
        for combo in (self.split_combo, self.filter_combo):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        self._refresh_list()
        ok = self.open_sample(name)
        self._select_in_list(name)
        return ok

    def open_sample(self, name: str) -> bool:
        """Show sample ``name`` for editing; the previous sample is saved first (kept in memory if that fails)."""
        if self.store is None:
            return False
        if self.session is not None and self.session.name == name:
            return True
        self._leave_sample()
        s = self._sessions.get(name)
        if s is None:
            try:
                large, mp = opens_in_background(self.store.record(name).image_path)
            except CrackError as e:
                self.flash(f"Cannot open {name}: {e.message}", error=True)
                return False
            if large:                          # decode on a worker; the window stays responsive and says so
                self.title_label.setText(f"Opening {name} ({mp:.0f} MP)…")
                self._opener.start(name, lambda: self._load_session(name), self._show_session,
                                   lambda msg, n=name: self._open_failed(n, msg))
                self._select_in_list(name)
                self._update_enabled()
                return True
            try:
                s = self._load_session(name)
            except CrackError as e:
                self.flash(f"Cannot open {name}: {e.message}", error=True)
                return False
        self._opener.cancel()
        self._show_session(s)
        return True

    @property
    def opening(self) -> str | None:
        """The sample whose large image a worker is decoding, or None."""
        return self._opener.key

    def _open_failed(self, name: str, message: str) -> None:
        self.title_label.setText(name)
        self._update_enabled()
        self.flash(f"Cannot open {name}: {message}", error=True)

    def _show_session(self, s: Session) -> None:
        name = s.name
        self.session = s
        self._tracer_cache = self._predicted_cache = None
        if self.editable:
            self.show_banner("")                  # a note about the previous sample's label (read-only stays)
        self.accept_item.set_contours([])
        self.canvas.set_image(s.image, keep_view=True)
        self.repaint_mask(None, full=True)
        self._pred_cache = None
        self.last_brush_point = None
        for t in self._tools.values():
            t.cancel()
        self._update_prediction_outline()
        self._select_in_list(name)
        self._update_enabled()
        self._update_status()
        self._set_badge()
        if s.recovered and s.unsaved:
            self.flash(f"{name}: {s.recovered} stroke(s) recovered from the journal.")
        self.sampleOpened.emit(name)

    def _leave_sample(self) -> None:
        s = self.session
        if s is None:
            return
        for t in self._tools.values():
            t.cancel()
        if s.model.in_stroke:
            self.end_stroke()
        self._autosave.stop()
        if s.unsaved:
            self._save_sync(s)
        self._sessions.pop(s.name, None)
        if s.unsaved or s.model.undo_depth or s.model.redo_depth:
            self._sessions[s.name] = s            # unsaved edits stay in memory; history survives a visit elsewhere
        self.session = None
        self._prune_sessions()

    def _prune_sessions(self) -> None:
        """Drop the oldest *saved* sessions beyond RECENT_SESSIONS (unsaved ones are never dropped)."""
        saved = [n for n, x in self._sessions.items() if not x.unsaved and not x.saving]
        for n in saved[:max(0, len(saved) - RECENT_SESSIONS)]:
            self._sessions.pop(n, None)

    def _show_empty(self) -> None:
        self.title_label.setText("No sample matches the filter")
        self._update_enabled()

    def step_sample(self, step: int) -> None:
        names = self.list_model.names
        if not names:
            return
        cur = self.session.name if self.session else None
        i = names.index(cur) + step if cur in names else 0
        i = max(0, min(len(names) - 1, i))
        self.open_sample(names[i])

    def current_name(self) -> str | None:
        return self.session.name if self.session else None

    def is_unsaved(self, name: str) -> bool:
        if self.session is not None and self.session.name == name:
            return self.session.unsaved
        s = self._sessions.get(name)
        return bool(s is not None and s.unsaved) or name in self._errors

    def save_error(self, name: str) -> str | None:
        if self.session is not None and self.session.name == name:
            return self.session.error
        s = self._sessions.get(name)
        if s is not None and s.error:
            return s.error
        return self._errors.get(name)

    # ============================================================== tools
    def set_tool(self, name: str) -> None:
        if name not in self._tools:
            raise ValueError(f"unknown tool {name!r}")
        old = self._tool_name
        if old and old != name and hasattr(self, "_tools"):
            self._tools[old].cancel()
        self._tool_name = name
        if hasattr(self, "_tools"):
            self.canvas.set_tool(self._tools[name])
        self.tool_buttons[name].setChecked(True)
        self.hint_label.setText(TOOL_HINTS[name])
        self.canvas.viewport().setCursor(Qt.CrossCursor)
        self.accept_item.set_contours([])
        self.show_preview()
        self.ring.setVisible(False)
        self.ring_dark.setVisible(False)

    @property
    def tool_name(self) -> str:
        return self._tool_name

    @property
    def model(self) -> MaskModel | None:
        """The mask being edited (the tools' ToolHost.model); None when no sample is open or the dataset is read-only."""
        return self.session.model if self.session is not None and self.editable else None

    @property
    def tool(self) -> Tool:
        return self._tools[self._tool_name]

    # ============================================================== events
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        et = event.type()
        if et == QEvent.KeyPress and event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self.panning = True
            self.canvas.viewport().setCursor(Qt.OpenHandCursor)
            return True
        if et == QEvent.KeyRelease and event.key() == Qt.Key_Space and not event.isAutoRepeat():
            self.panning = False
            self.canvas.viewport().setCursor(Qt.CrossCursor)
            return True
        if et == QEvent.Resize and obj is self.canvas and self.help.isVisible():
            self.help.place()
        if et == QEvent.Leave and obj is self.canvas.viewport():
            self.ring.setVisible(False)
            self.ring_dark.setVisible(False)
        return super().eventFilter(obj, event)

    def closeEvent(self, event) -> None:  # noqa: N802
        self.save_all()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Save everything and stop the worker threads (the app calls this before quitting)."""
        self.save_all()
        self._saver.pool.waitForDone()
        if self.store is not None:
            self.store.release_edit_lock()
