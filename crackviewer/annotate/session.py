"""One sample being edited: its image, its MaskModel and where its save stands; and the signals that carry
worker-thread results (saves, review ranking) back to the GUI thread."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal

from crackviewer.annotate.mask_model import MaskModel


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
    future: object = None
    future_rev: int = -1
    futures_done: set = field(default_factory=set)

    @property
    def dirty(self) -> bool:
        return self.model.revision != self.saved_revision

    @property
    def unsaved(self) -> bool:
        return self.dirty or self.error is not None


class Bridge(QObject):
    """Carries worker-thread results to the GUI thread (queued signal)."""

    saveDone = Signal(object)
    rankProgress = Signal(int, int)
