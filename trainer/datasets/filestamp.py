"""Never overwrite a file someone else changed: stamps of loaded files and compare-then-write saves.

When the app loads a mask it keeps its :class:`FileStamp` (exists, size, mtime, sha256). A save goes through
:func:`save_if_unchanged`: under a short flock shared by every process saving into the dataset
(``<dataset>/.crackviewer/masks.lock``) the file on disk is stamped again; if its content differs from what was
loaded (another app instance or a script wrote or removed it), nothing is written and a :class:`SaveConflict` is
returned for the app to show ("changed on disk since you opened it: reload or keep yours"). Otherwise the new bytes
are written atomically and the new stamp is returned, to be kept for the next save. A file that was only touched
(same bytes, new mtime) is not a conflict.

:class:`MaskGuard` is the helper a mask store keeps per dataset: it remembers the stamp of every mask it loaded and
saves/removes masks through the guard.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from trainer.datasets.lock import short_lock
from trainer.atomic import atomic_write_bytes, write_error

MASKS_LOCK_FILE = "masks.lock"


@dataclass(frozen=True)
class FileStamp:
    """What a file was when it was read: ``exists``, ``size``, ``mtime_ns`` and the ``sha256`` of its bytes."""

    path: str
    exists: bool
    size: int = 0
    mtime_ns: int = 0
    sha256: str = ""

    @classmethod
    def of(cls, path: str | os.PathLike) -> "FileStamp":
        p = Path(path)
        try:
            data = p.read_bytes()
            st = p.stat()
        except FileNotFoundError:
            return cls(str(p), False)
        except OSError as e:                   # a folder, no permission: the write will say what is wrong
            return cls(str(p), True, -1, 0, f"unreadable ({e.strerror or e})")
        return cls(str(p), True, len(data), st.st_mtime_ns, hashlib.sha256(data).hexdigest())

    @classmethod
    def of_bytes(cls, path: str | os.PathLike, data: bytes) -> "FileStamp":
        """The stamp of ``data`` just written to ``path``."""
        st = Path(path).stat()
        return cls(str(path), True, len(data), st.st_mtime_ns, hashlib.sha256(data).hexdigest())

    def same_content(self, other: "FileStamp") -> bool:
        return self.exists == other.exists and (not self.exists or (self.size, self.sha256) ==
                                                (other.size, other.sha256))

    def describe(self) -> str:
        if not self.exists:
            return "no file"
        when = time.strftime("%H:%M:%S", time.localtime(self.mtime_ns / 1e9))
        return f"{self.size} bytes, modified {when}"


@dataclass(frozen=True)
class SaveConflict:
    """A save that was refused because the file changed on disk since it was loaded."""

    path: str
    loaded: FileStamp
    on_disk: FileStamp

    @property
    def message(self) -> str:
        return (f"{self.path} was changed by another program since it was opened here "
                f"(then: {self.loaded.describe()}; now: {self.on_disk.describe()}). It was not overwritten: "
                "reload it to see the other changes, or save your version under another name")

    def __str__(self) -> str:
        return self.message


def save_if_unchanged(root: str | os.PathLike, path: str | os.PathLike, data: bytes | None,
                      loaded: FileStamp) -> FileStamp | SaveConflict:
    """Write ``data`` to ``path`` (``None`` removes the file) unless it changed on disk since ``loaded``.

    Returns the new :class:`FileStamp`, or a :class:`SaveConflict` (nothing written). Raises
    :class:`~trainer.atomic.WriteError` when the write itself fails (the old file is kept).
    """
    path = Path(path)
    with short_lock(root, MASKS_LOCK_FILE):
        now = FileStamp.of(path)
        if loaded.size >= 0 and not now.same_content(loaded):   # size -1: unreadable when loaded, nothing to keep
            return SaveConflict(str(path), loaded, now)
        if data is None:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise write_error(e, path) from None
            return FileStamp(str(path), False)
        atomic_write_bytes(path, data)
        return FileStamp.of_bytes(path, data)


class MaskGuard:
    """Per-dataset memory of the mask files as they were loaded, and guarded saves (module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._stamps: dict[str, FileStamp] = {}

    def loaded(self, path: str | os.PathLike) -> FileStamp:
        """Stamp ``path`` as read now (call right after reading the mask) and remember it."""
        stamp = FileStamp.of(path)
        self._stamps[str(Path(path))] = stamp
        return stamp

    def stamp(self, path: str | os.PathLike) -> FileStamp:
        """The remembered stamp (stamping now when the file was never loaded through this guard)."""
        key = str(Path(path))
        if key not in self._stamps:
            self._stamps[key] = FileStamp.of(path)
        return self._stamps[key]

    def save(self, path: str | os.PathLike, data: bytes | None) -> SaveConflict | None:
        """Write (``None``: remove) ``path`` if unchanged since loaded; None when saved, else the conflict."""
        res = save_if_unchanged(self.root, path, data, self.stamp(path))
        if isinstance(res, SaveConflict):
            return res
        self._stamps[str(Path(path))] = res
        return None
