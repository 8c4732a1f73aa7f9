"""One sample being edited: its image, its MaskModel and where its save stands; and the signal that carries the
review ranking's progress back to the GUI thread."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal

from crackviewer.annotate.mask_model import MaskModel


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

    @property
    def dirty(self) -> bool:
        return self.model.revision != self.saved_revision

    @property
    def unsaved(self) -> bool:
        return self.dirty or self.error is not None


class Bridge(QObject):
    """Carries the review ranking's progress to the GUI thread (queued signal)."""

    rankProgress = Signal(int, int)
