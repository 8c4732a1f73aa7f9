"""Who may write the dataset open in the Annotate tab, and what happens when someone else wrote a mask first.

- Opening a dataset takes its edit lock (:meth:`MaskStore.take_edit_lock`). When another process holds it, the
  dataset opens **read-only**: tools, label and save buttons are disabled and a banner says who edits it since when.
- A save that finds the mask changed on disk since it was loaded (:class:`MaskConflictError`) writes nothing; a
  dialog offers **Reload** (take the file on disk, drop the edits) or **Save mine as a copy** (the edits go to
  ``.crackviewer/conflicts/``, then the file on disk is shown). Closing the app never asks: it keeps a copy.

`AccessMixin` is the part of `AnnotatePanel` that owns this."""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from crackviewer.annotate.mask_store import MaskConflictError, MaskStore
from crackviewer.annotate.session import Session
from trainer.errors import CrackError

RELOAD, KEEP_COPY, LATER = "reload", "copy", "later"


class AccessMixin:
    _shutting_down = False

    @property
    def editable(self) -> bool:
        """A dataset is open and this process holds its edit lock."""
        return self.store is not None and self.store.read_only is None

    def _take_edit_lock(self, store: MaskStore) -> None:
        held = store.take_edit_lock()
        if held is None:
            self.show_banner("")
        else:
            msg = held.message[:1].upper() + held.message[1:]         # "Opened read-only: <who> is editing …"
            self.show_banner(f"{msg}. Painting and label changes are off until it is closed; reopen the dataset "
                             f"then.", "warning")

    def _refuse_read_only(self) -> bool:
        """True (after saying why) when the dataset is read-only."""
        if self.store is not None and self.store.read_only is not None:
            self.flash(self.store.read_only.message, error=True)
            return True
        return False

    def _save_failed(self, s: Session, e: Exception) -> None:
        """A save of ``s`` raised ``e``: keep the reason; a conflict also asks what to do."""
        s.error = e.message if isinstance(e, CrackError) else f"{type(e).__name__}: {e}"
        if isinstance(e, MaskConflictError):
            if self._shutting_down:
                self._resolve_conflict(s, KEEP_COPY)
            else:
                QTimer.singleShot(0, self, lambda: self._resolve_conflict(s, self.ask_conflict(s.name, e)))

    def ask_conflict(self, name: str, e: MaskConflictError) -> str:
        """Ask what to do with a mask changed on disk: RELOAD, KEEP_COPY or LATER."""
        box = QMessageBox(QMessageBox.Warning, "Mask changed on disk",
                          f"{name}: {e.message}\n\nYour edits were not written over it.", parent=self)
        reload = box.addButton("Reload from disk", QMessageBox.DestructiveRole)
        copy = box.addButton("Save mine as a copy", QMessageBox.AcceptRole)
        box.addButton("Decide later", QMessageBox.RejectRole)
        box.exec()
        return {reload: RELOAD, copy: KEEP_COPY}.get(box.clickedButton(), LATER)

    def _resolve_conflict(self, s: Session, choice: str) -> None:
        if choice == LATER or self.store is None:
            return
        if choice == KEEP_COPY:
            try:
                where = self.store.save_copy(s.name, s.model.mask)
            except CrackError as err:
                self.flash(f"Could not keep your version: {err.message}", error=True)
                return
            self.flash(f"Your version of {s.name} is kept as {where.relative_to(self.store.root)}; "
                       f"showing the one on disk.")
        self.store.discard_journal(s.name)
        self._sessions.pop(s.name, None)
        if self.session is s:
            self.session = None
            self.open_sample(s.name)
        self.list_model.refresh_name(s.name)
