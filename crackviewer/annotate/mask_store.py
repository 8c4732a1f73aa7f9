"""Where edited masks and labels live on disk. Qt-free, safe against crashes and against other processes.

Masks are written into the dataset itself, in **its own layout**, at ``SampleRecord.mask_path`` (the path
``trainer.datasets`` reads: the existing mask file, or where the layout expects a new one). Values are 0 / 255,
8-bit single channel. An existing JPEG mask (khanhha, reference) is rewritten as JPEG at quality 100 at the same
path, which reads back exactly after the loader's ``> 127`` binarisation.

Safety rules:

- **One editor per dataset.** :meth:`MaskStore.take_edit_lock` takes the dataset's
  :class:`~trainer.datasets.lock.DatasetLock`; a second process gets the holder's description and the store is then
  read-only (every write raises :class:`MaskSaveError` with that description).
- **Never overwrite another's edit.** Every mask read is stamped (:class:`~trainer.datasets.filestamp.MaskGuard`);
  a save of a mask that changed on disk since raises :class:`MaskConflictError` and writes nothing (the app offers
  "reload" or "save mine as a copy": :meth:`MaskStore.save_copy`).
- **Atomic writes** through :func:`trainer.atomic.atomic_write_bytes`: a reader sees the
  old file or the new one; a failed write leaves the old file and raises :class:`MaskSaveError` naming the file.
  Temp files of killed processes are removed at the next open (:meth:`MaskStore.remove_stale_temp_files`).
- **Backups.** The first time crackviewer changes (or removes) an existing mask file, the original bytes are copied
  to ``<dataset>/.crackviewer/backup/<path of the mask relative to the dataset>``; the same holds for
  ``manifest.csv`` on the first label change. If the backup cannot be written, the mask is not touched.
- **Journal.** Each completed stroke (and each undo / redo) is appended to ``.crackviewer/journal/<name>.cvj``
  (:mod:`crackviewer.annotate.journal`) *before* the debounced autosave writes the mask; :meth:`MaskStore.load_mask`
  replays a journal it finds, so after a SIGKILL the user loses at most the stroke in progress.

Labels and masks stay consistent (label 1 iff the mask has crack pixels): saving a mask with crack pixels on a
crack-free sample turns the sample into a crack; saving an empty mask on a crack sample removes the mask file (after
the backup): the sample becomes *weakly labelled*; an empty mask on a crack-free sample is written only if the
sample already had a mask file. Labels are written the layout's way (:mod:`crackviewer.annotate.dataset_labels`).
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from crackviewer.annotate.dataset_labels import LabelWriter, MaskSaveError, save_error
from crackviewer.annotate.journal import encode_record, read_journal, replay, safe_name
from trainer.atomic import fsync_dir, remove_stale_temps
from trainer.datasets.filestamp import MaskGuard, SaveConflict
from trainer.datasets.images import read_mask
from trainer.datasets.index import DatasetIndex
from trainer.datasets.layouts import open_dataset
from trainer.datasets.lock import DatasetLock, LockHeld, state_dir
from trainer.datasets.records import SampleRecord
from trainer.atomic import WriteError, atomic_write_bytes, write_error
from trainer.errors import CrackError, DataError

__all__ = ["LabelError", "MaskConflictError", "MaskSaveError", "MaskStore", "SaveResult", "read_journal"]


class MaskConflictError(MaskSaveError):
    """The mask file changed on disk (another app instance or a script) since it was loaded: not overwritten."""

    def __init__(self, conflict: SaveConflict):
        self.conflict = conflict
        super().__init__(conflict.message)
        self.file = conflict.path


class LabelError(CrackError):
    """A label change this layout cannot express (the message says what to do instead)."""

    kind = "data"


@dataclass(frozen=True)
class SaveResult:
    record: SampleRecord           # the record after the save (has_mask / label updated)
    wrote: Path | None             # the mask file written (None when nothing was written)
    removed: Path | None           # the mask file removed (an empty mask on a crack sample)
    backup: Path | None            # the backup made by this save (first edit of an existing mask)
    label_changed: bool            # the save changed the image label (e.g. a crack-free sample became a crack)


def encode_mask(mask01: np.ndarray, path: Path) -> bytes:
    """0/255 single-channel bytes of ``mask01`` in the format of ``path``'s extension (PNG unless JPEG/BMP/TIFF)."""
    ext = Path(path).suffix.lower()
    img = np.ascontiguousarray(mask01, dtype=np.uint8) * np.uint8(255)
    if ext in (".jpg", ".jpeg"):
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 100])
    elif ext in (".bmp", ".tif", ".tiff"):
        ok, buf = cv2.imencode(ext, img)
    else:
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise MaskSaveError("OpenCV could not encode the mask", file=path)
    return buf.tobytes()


def _write(path: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(path, data)
    except WriteError as e:
        raise save_error(e) from None


class MaskStore:
    """Reads and writes the masks and labels of one dataset (see the module docstring).

    Thread-safety: :meth:`save_mask` may run in a worker thread while the GUI thread appends to journals; the
    journal and record bookkeeping is guarded by a lock.
    """

    def __init__(self, index: DatasetIndex | str | os.PathLike):
        if not isinstance(index, DatasetIndex):
            index = open_dataset(index)
        self.index = index
        self.root = Path(index.root)
        self.layout = index.layout
        self.state_dir = state_dir(self.root)
        self.backup_dir = self.state_dir / "backup"
        self.journal_dir = self.state_dir / "journal"
        self.conflict_dir = self.state_dir / "conflicts"
        self._lock = threading.RLock()
        self.guard = MaskGuard(self.root)      # stamps of loaded masks: a save never overwrites another's edit
        self.edit_lock = DatasetLock(self.root)
        self.read_only: LockHeld | None = None  # set by take_edit_lock when another process edits the dataset
        self.labels = LabelWriter(self.root, self.layout, self.backup_dir)
        self._journal_len: dict[str, int] = {}
        self._records = {r.name: replace(r, label=self.labels.apply_overrides(r)) for r in index.samples}

    # ------------------------------------------------------------ the edit lock
    def take_edit_lock(self) -> LockHeld | None:
        """Take the dataset's edit lock. None when taken; when another process holds it, the :class:`LockHeld`
        (its ``owner`` and a message naming who edits the dataset since when): the store is then read-only."""
        try:
            self.read_only = self.edit_lock.try_acquire()
        except WriteError as e:          # a read-only dataset folder: nobody can edit it
            self.read_only = LockHeld(self.edit_lock.path, None)
            self.read_only.message = f"opened read-only: {e.message}"
        return self.read_only

    def release_edit_lock(self) -> None:
        self.edit_lock.release()

    def _check_writable(self) -> None:
        if self.read_only is not None:
            raise MaskSaveError(self.read_only.message)

    def remove_stale_temp_files(self) -> list[Path]:
        """Delete temp files that a killed process left next to masks or state files. Returns what was removed."""
        folders = {Path(r.mask_path).parent for r in self.index.samples} | {self.state_dir, self.root}
        return [p for d in sorted(folders) for p in remove_stale_temps(d)]

    # ------------------------------------------------------------ records
    def records(self) -> list[SampleRecord]:
        with self._lock:
            return list(self._records.values())

    def record(self, name: str) -> SampleRecord:
        with self._lock:
            try:
                return self._records[name]
            except KeyError:
                raise DataError(f"no sample named {name!r} in this {self.layout} dataset", file=self.root) from None

    def counts(self) -> dict:
        """``{split: {"positives", "negatives", "segmented", "weak"}}`` of the records as edited (same rules as
        :meth:`trainer.datasets.index.DatasetIndex.counts`)."""
        out: dict[str, dict[str, int]] = {}
        for s in self.records():
            c = out.setdefault(s.split, {"positives": 0, "negatives": 0, "segmented": 0, "weak": 0})
            if s.label == 1:
                c["positives"] += 1
                c["segmented" if s.has_mask else "weak"] += 1
            else:
                c["negatives"] += 1
        order = {k: i for i, k in enumerate(self.index.splits)}
        return {k: out[k] for k in sorted(out, key=lambda k: (order.get(k, 99), k))}

    def _set_record(self, rec: SampleRecord) -> SampleRecord:
        with self._lock:
            self._records[rec.name] = rec
        return rec

    # ------------------------------------------------------------ loading
    def read_saved_mask(self, name: str, shape: tuple[int, int]) -> np.ndarray:
        """The mask as saved on disk ({0,1}, zeros when the sample has no mask file)."""
        rec = self.record(name)
        self.guard.loaded(rec.mask_path)        # stamp before reading: a change after it is a conflict at save
        if rec.mask_path.is_file():           # also a mask another process created since the dataset was read
            return read_mask(rec.mask_path, shape)
        return np.zeros(tuple(shape[:2]), np.uint8)

    def load_mask(self, name: str, shape: tuple[int, int]) -> tuple[np.ndarray, int]:
        """The sample's mask with any journal of unsaved strokes replayed on top: ``(mask, n_replayed)``;
        ``n_replayed > 0`` means strokes were recovered after a crash (the journal stays until a save covers it)."""
        mask = self.read_saved_mask(name, shape)
        records, _torn = read_journal(self.journal_path(name))
        n = replay(mask, records)
        with self._lock:
            self._journal_len[name] = self._journal_size(name)
        return mask, n

    def discard_journal(self, name: str) -> None:
        """Forget the sample's unsaved strokes (after a conflict: the mask on disk is taken as it is)."""
        self._journal_done(name, None)

    def pending_journals(self) -> list[str]:
        """Names of samples with strokes in a journal that no save covered yet (e.g. after a crash)."""
        if not self.journal_dir.is_dir():
            return []
        by_file = {safe_name(n): n for n in self._records}
        return sorted(by_file[p.stem] for p in self.journal_dir.glob("*.cvj") if p.stem in by_file
                      and p.stat().st_size > 0)

    # ------------------------------------------------------------ journal
    def journal_path(self, name: str) -> Path:
        return self.journal_dir / f"{safe_name(name)}.cvj"

    def _journal_size(self, name: str) -> int:
        try:
            return self.journal_path(name).stat().st_size
        except OSError:
            return 0

    def journal_append(self, name: str, shape: tuple[int, int], writes: list[tuple[int, int, np.ndarray]],
                       fsync: bool = True) -> int:
        """Append one stroke's absolute writes to the sample's journal; returns the journal length after it.
        Raises :class:`MaskSaveError` when the journal cannot be written (the caller should then save at once)."""
        self._check_writable()
        rec = encode_record(name, shape, writes)
        path = self.journal_path(name)
        with self._lock:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "ab") as f:
                    f.write(rec)
                    f.flush()
                    if fsync:
                        os.fsync(f.fileno())
                    size = f.tell()
            except OSError as e:
                raise save_error(write_error(e, path)) from None
            self._journal_len[name] = size
            return size

    def journal_size(self, name: str) -> int:
        with self._lock:
            return self._journal_len.get(name, 0)

    def _journal_done(self, name: str, covered: int | None) -> None:
        """Remove the journal if a save covered all of it (``covered`` = its length when the mask was copied)."""
        with self._lock:
            if covered is None or self._journal_size(name) <= covered:
                try:
                    self.journal_path(name).unlink()
                except FileNotFoundError:
                    pass
                except OSError:
                    return
                self._journal_len[name] = 0

    # ------------------------------------------------------------ saving
    def backup_path(self, rec: SampleRecord) -> Path:
        try:
            rel = Path(rec.mask_path).resolve().relative_to(self.root.resolve())
        except ValueError:
            rel = Path("outside") / Path(rec.mask_path).name
        return self.backup_dir / rel

    def _backup_file(self, src: Path, dst: Path) -> Path | None:
        if dst.exists() or not src.is_file():
            return None
        try:
            data = src.read_bytes()
        except OSError as e:
            raise MaskSaveError(f"cannot read the original to back it up ({e.strerror or e})", file=src) from None
        _write(dst, data)
        try:
            shutil.copystat(src, dst)
        except OSError:
            pass
        return dst

    def _guarded_write(self, path: Path, data: bytes | None) -> None:
        """Write (None: remove) a mask file unless it changed on disk since this store loaded it."""
        try:
            conflict = self.guard.save(path, data)
        except (WriteError, DataError) as e:
            raise save_error(e) from None
        if conflict is not None:
            raise MaskConflictError(conflict)

    def save_mask(self, name: str, mask: np.ndarray, journal_covered: int | None = None,
                  label: int | None = None) -> SaveResult:
        """Write the sample's mask into the dataset (atomically, backing up the original first) and settle its label.

        ``journal_covered``: the journal length when ``mask`` was copied from the editor (from
        :meth:`journal_size`); the journal is removed only if nothing was appended since. ``None`` removes it.
        ``label``: the image label the editor's history says the sample has (an undone edit gives its label back);
        None keeps the stored one. Crack pixels always make the sample a crack.
        Raises :class:`MaskSaveError` (nothing half-written; the sample stays unsaved), :class:`MaskConflictError`
        when the mask changed on disk since it was loaded.
        """
        self._check_writable()
        rec = self.record(name)
        crack = bool(np.asarray(mask).any())
        target = int(crack) if self.layout == "ksdd2" else max(int(crack), rec.label if label is None else int(label))
        path = Path(rec.mask_path)
        wrote = removed = backup = None
        if self.layout == "ksdd2" or crack or rec.has_mask or (target == 0 and path.is_file()):
            if self.layout != "ksdd2" and not crack and target == 1:
                # an empty mask on a crack sample: the sample becomes weakly labelled (no mask file)
                if path.is_file():
                    backup = self._backup_file(path, self.backup_path(rec))
                    self._guarded_write(path, None)
                    fsync_dir(path.parent)
                    removed = path
                rec = replace(rec, has_mask=False)
            else:
                data = encode_mask(mask, path)
                if rec.has_mask or path.is_file():
                    backup = self._backup_file(path, self.backup_path(rec))
                self._guarded_write(path, data)
                wrote = path
                rec = replace(rec, has_mask=True)
        label_changed = rec.label != target
        if label_changed and self.layout != "ksdd2":
            self.labels.write(rec, target)
        rec = self._set_record(replace(rec, label=target))
        self._journal_done(name, journal_covered)
        return SaveResult(rec, wrote, removed, backup, label_changed)

    def save_copy(self, name: str, mask: np.ndarray) -> Path:
        """Keep ``mask`` beside the dataset's state (``.crackviewer/conflicts/<name>-<time>.png``), not as the
        sample's mask: "save mine as a copy" after a conflict. Returns the file written."""
        path = self.conflict_dir / f"{safe_name(name)}-{time.strftime('%Y%m%d-%H%M%S')}.png"
        _write(path, encode_mask(mask, path))
        return path

    # ------------------------------------------------------------ labels
    def set_label(self, name: str, label: int) -> SampleRecord:
        """Change a sample's image label (1 crack, 0 crack-free), written the layout's way.

        The caller clears the mask first when a sample becomes crack-free (a crack-free sample has no crack
        pixels). Raises :class:`LabelError` for a change the layout cannot hold, :class:`MaskSaveError` on I/O.
        """
        self._check_writable()
        rec = self.record(name)
        label = 1 if label else 0
        if rec.label == label:
            return rec
        if self.layout == "ksdd2" and label == 1:
            raise LabelError("in the KSDD2 layout a sample is a crack when its mask has crack pixels: "
                             "paint the crack to make it one", file=rec.mask_path)
        self.labels.write(rec, label)
        return self._set_record(replace(rec, label=label))
