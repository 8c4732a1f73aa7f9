"""One sample being edited: its image, its MaskModel and where its save stands; and the signal that carries the
review ranking's progress back to the GUI thread."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal

from crackviewer.annotate.mask_model import MaskModel

SNAPSHOT_MIN_PIXELS = 16_000_000
"""Masks from this size (4000x4000) are saved from a snapshot kept up to date by dirty rectangles."""


@dataclass
class SaveJob:
    """One save of a sample on the save thread: the revision it saves, and its outcome once ``done`` is set."""

    rev: int
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None
    error: BaseException | None = None
    taken: bool = False            # the GUI thread has handled the outcome


@dataclass
class Session:
    name: str
    image: np.ndarray
    model: MaskModel
    saved_revision: int
    recovered: int = 0
    saving: bool = False
    resave: bool = False
    error: str | None = None
    label: int | None = None       # the image label as the edit history has it (None: the dataset's, untouched)
    save_job: "SaveJob | None" = None      # the save running (or last run) on the panel's save thread
    snapshot: np.ndarray | None = None     # large masks: the copy the save thread writes (see mask_for_save)
    snapshot_dirty: list = field(default_factory=list)   # rectangles changed since the snapshot was brought up to date

    def note_change(self, change, how: str) -> None:
        """A model listener: remember the rectangle a stroke, undo or redo changed (for :meth:`mask_for_save`)."""
        if self.snapshot is not None and change is not None and change.rect is not None:
            self.snapshot_dirty.append(change.rect)

    def mask_for_save(self) -> np.ndarray:
        """The mask as it is now, for the save thread. Masks under :data:`SNAPSHOT_MIN_PIXELS` are copied whole;
        a larger one keeps one copy into which only the rectangles changed since the last save are copied (a
        20000x20000 mask: a few kB per stroke on the GUI thread instead of 0.6 s for 400 MB). One save of a
        session runs at a time and this is called before it starts, so the save thread never reads a changing
        snapshot."""
        m = self.model.mask
        if m.size < SNAPSHOT_MIN_PIXELS:
            return m.copy()
        if self.snapshot is None or self.snapshot.shape != m.shape:
            self.snapshot = m.copy()
        else:
            for r in self.snapshot_dirty:
                self.snapshot[r.slices] = m[r.slices]
        self.snapshot_dirty = []
        return self.snapshot

    @property
    def dirty(self) -> bool:
        return self.model.revision != self.saved_revision

    @property
    def unsaved(self) -> bool:
        return self.dirty or self.error is not None


class Bridge(QObject):
    """Carries the review ranking's progress to the GUI thread (queued signal)."""

    rankProgress = Signal(int, int)
