"""Saving in the Annotate tab: a debounced autosave writes the current mask atomically on a worker thread; a
failed save keeps the edits (in memory and in the journal) and says why; leaving a sample or the app saves at once.

`SavingMixin` is the part of `AnnotatePanel` that owns this; it uses the panel's `store`, `session`, `_sessions`,
`_saver` (a one-thread TaskRunner: saves stay in order) and the save badge."""
from __future__ import annotations

import html
import time

from PySide6.QtWidgets import QApplication

from crackviewer.annotate.review_queue import score_sample
from crackviewer.annotate.session import SaveJob, Session
from crackviewer.qt.style import set_state
from trainer.errors import CrackError

SAVE_BADGE_TEXT = {"idle": "No sample open", "unchanged": "No changes yet", "saved": "✔ Saved to the dataset",
                   "saving": "● Saving…", "unsaved": "● Unsaved changes (autosave pending)", "failed": "✖ Not saved",
                   "readonly": "Read-only: another process edits this dataset"}


class SavingMixin:
    # ============================================================== saving
    def _autosave_fire(self) -> None:
        s = self.session
        if s is None:
            return
        if s.model.in_stroke:
            return                       # the end of the stroke restarts the timer
        self._start_save(s)

    def _start_save(self, s: Session) -> None:
        if s.saving:
            s.resave = True
            return
        if not s.dirty and s.error is None:
            return
        s.saving = True
        s.resave = False
        job = SaveJob(s.model.revision)
        s.save_job = job
        args = (self.store, s.name, s.mask_for_save(), self.store.journal_size(s.name), s.label)
        self._saver.run(lambda: _run_save(job, *args), lambda j, s=s: self._on_save_done(s, j))
        self._set_badge()

    def _finish_job(self, s: Session, job: SaveJob) -> bool:
        """Take the outcome of a finished save (once per job). False when it was handled already."""
        if job.taken:
            return False
        job.taken = True
        s.saving = False
        if job.error is not None:
            self._save_failed(s, job.error)
        else:
            s.error = None
            self._errors.pop(s.name, None)
            s.saved_revision = job.rev
            self._saved(s, job.result)
        return True

    def _on_save_done(self, s: Session, job: SaveJob) -> None:
        if not self._finish_job(s, job):
            return
        if s.resave and s.dirty:
            self._start_save(s)
        elif s is not self.session:
            self._prune_sessions()
        self.list_model.refresh_name(s.name)
        if s is self.session:
            self._set_badge()
            self._update_enabled()

    def _saved(self, s: Session, res) -> None:
        if self.store is None:
            return
        if res.wrote or res.removed or res.label_changed:
            self.edited.add(s.name)
        self._update_counts()
        if s is self.session:
            self._update_status()
        self.sampleChanged.emit(s.name)
        self.countsChanged.emit(self.store.counts())
        if self.source is not None and s.name in self._review:
            try:
                it = score_sample(self.store.record(s.name), self.source, mask=s.model.mask)
            except CrackError:
                it = None
            if it is not None:
                self._review[s.name] = it

    def _save_sync(self, s: Session) -> bool:
        """Finish any running save of ``s``, then save it in this thread. True when everything is on disk."""
        if s.saving and s.save_job is not None:
            s.save_job.done.wait()
            self._finish_job(s, s.save_job)
        if not s.unsaved:
            return True
        rev = s.model.revision
        try:
            res = self.store.save_mask(s.name, s.mask_for_save(), self.store.journal_size(s.name), s.label)
        except Exception as e:          # noqa: BLE001 - any failure must keep the sample unsaved, with the reason
            self._save_failed(s, e)
        else:
            s.error = None
            self._errors.pop(s.name, None)
            s.saved_revision = rev
            self._saved(s, res)
        self.list_model.refresh_name(s.name)
        if s is self.session:
            self._set_badge()
            self._update_enabled()
        return not s.unsaved

    def save_now(self, wait: bool = True) -> bool:
        """Save the current sample now (Ctrl+S). Returns True when it is on disk."""
        s = self.session
        if s is None:
            return True
        self._autosave.stop()
        if s.model.in_stroke:
            self.end_stroke()
            self._autosave.stop()
        if wait:
            return self._save_sync(s)
        self._start_save(s)
        return False

    def save_all(self) -> bool:
        """Save every sample with unsaved edits (before quitting or switching datasets). True when all are saved."""
        if self.store is None or self.store.read_only is not None:
            return True
        ok = True
        if self.session is not None:
            ok = self.save_now(wait=True) and ok
        for s in list(self._sessions.values()):
            if s.unsaved:
                ok = self._save_sync(s) and ok
        return ok

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Process events until no save is pending (tests and scripts)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            QApplication.processEvents()
            busy = self._autosave.isActive() or any(
                s.saving for s in [self.session, *self._sessions.values()] if s is not None)
            if not busy:
                return True
            time.sleep(0.005)
        return False

    @property
    def save_state(self) -> str:
        s = self.session
        if s is None:
            return "idle"
        if self.store is not None and self.store.read_only is not None:
            return "readonly"
        if s.error:
            return "failed"
        if s.saving:
            return "saving"
        if s.dirty:
            return "unsaved"
        return "saved" if s.name in self.edited or s.model.undo_depth or s.recovered else "unchanged"

    def _set_badge(self, state: str | None = None) -> None:
        state = state or self.save_state
        s = self.session
        text = SAVE_BADGE_TEXT[state]
        detail = ""
        if state == "failed" and s is not None:
            err = s.error or ""
            if self.store is not None:          # paths inside the dataset: show them relative to it
                err = err.replace(str(self.store.root) + "/", "")
            detail = (f"<div style='font-weight:400; margin-top:3px'>{html.escape(err)}</div>"
                      "<div style='font-weight:400; color:#6b2b33; margin-top:3px'>Your edits are kept; the save is "
                      "retried after the next stroke or with Ctrl+S.</div>")
        elif state == "saved" and s is not None and self.store is not None:
            rec = self.store.record(s.name)
            where = rec.mask_path.relative_to(self.store.root) if rec.has_mask else "no mask file (empty)"
            detail = f"<div style='font-weight:400; color:#3d6b5c; margin-top:2px'>{html.escape(str(where))}</div>"
        set_state(self.save_badge, "state", state)
        self.save_badge.setText(f"{text}{detail}")
        self.saveStateChanged.emit(state)


def _run_save(job: SaveJob, store, name, mask, covered, label) -> SaveJob:
    """The save thread's part: write the mask, keep the outcome in ``job`` (any failure, to be shown)."""
    try:
        job.result = store.save_mask(name, mask, covered, label)
    except Exception as e:              # noqa: BLE001 - any failure must keep the sample unsaved, with the reason
        job.error = e
    finally:
        job.done.set()
    return job
