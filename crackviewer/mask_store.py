"""Where edited masks and labels live on disk. Qt-free, safe against crashes.

Masks are written into the dataset itself, in **its own layout**, at ``SampleRecord.mask_path`` (the path
``trainer.data`` reads: the existing mask file, or where the layout expects a new one - ``masks/<name>.png`` for the
manifest layout, ``<split>/masks/<stem>.png`` for khanhha, ``<folder>/<n>_GT.png`` for the reference layout, ...).
Values are 0 / 255, 8-bit single channel. An existing JPEG mask (khanhha, reference) is rewritten as JPEG at quality
100 at the same path, which reads back exactly after the loader's ``> 127`` binarisation.

Safety rules:

- **Atomic writes.** Every file (mask, manifest, label overrides, backups) is written to a hidden temp file in the
  same folder, flushed and fsync'ed, then ``os.replace``'d over the target. A reader sees the old file or the new
  one, never half a file. A failed write leaves the old file and raises :class:`MaskSaveError` with the reason.
- **Backups.** The first time crackviewer changes (or removes) an existing mask file, the original bytes are copied
  to ``<dataset>/.crackviewer/backup/<path of the mask relative to the dataset>``; a later edit never overwrites
  that backup. The same holds for ``manifest.csv`` on the first label change. If the backup cannot be written, the
  mask is not touched.
- **Journal.** Each completed stroke (and each undo / redo) is appended to
  ``<dataset>/.crackviewer/journal/<name>.cvj`` *before* the debounced autosave writes the mask. A record is
  ``b"CVJ1" + length + crc32 + zlib(payload)``; the payload holds absolute pixel values of the changed rectangles, so
  replaying records in order over the last saved mask gives the edited mask, whatever saves happened in between. A
  torn record at the end (the process was killed while writing it) is ignored. The journal is removed once a save
  has written everything it holds. :meth:`MaskStore.load_mask` replays a journal it finds, so after a SIGKILL the
  user loses at most the stroke in progress.

Labels and masks stay consistent (the same rules as the shared data's README: label 1 iff the mask has crack pixels):

- saving a mask with crack pixels on a crack-free sample turns the sample into a crack;
- saving an empty mask on a crack sample removes the mask file (after the backup): the sample becomes *weakly
  labelled* (crack, no mask) rather than a "segmented" crack with an empty target;
- an empty mask on a crack-free sample is written only if the sample already had a mask file.

Label changes are written the layout's way:

- ``manifest``: ``manifest.csv`` is rewritten atomically, changing only the ``label`` cell of that sample's line
  (every other line is kept byte for byte);
- ``ksdd2``: the label *is* "the mask has crack pixels", so "no crack" clears the mask and "crack" needs a painted
  mask (:class:`LabelError` says so);
- ``khanhha`` and ``reference`` encode the label in file or folder names; renaming files would break names used by
  run folders, so the change goes to ``<dataset>/.crackviewer/labels.json`` (``{"<name>": 0|1}``; an entry is
  dropped when it equals the layout's own label), which ``trainer.data.open_dataset`` applies: training sees it.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import threading
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np

from trainer.data import DatasetIndex, SampleRecord, open_dataset, read_mask
from trainer.datasets.filestamp import MaskGuard, SaveConflict
from trainer.datasets.lock import DatasetLock, LockHeld, update_manifest_labels
from trainer.diskfull import WriteError
from trainer.errors import CrackError, DataError

STATE_DIR = ".crackviewer"
LABELS_FILE = "labels.json"
_MAGIC = b"CVJ1"
_HEAD = struct.Struct("<4sII")          # magic, payload length, crc32 of payload


class MaskSaveError(CrackError):
    """A mask, label or backup could not be written; the message names the file and the reason."""

    kind = "data"


class MaskConflictError(MaskSaveError):
    """The mask file changed on disk (another app instance or a script) since it was loaded: not overwritten."""

    def __init__(self, conflict: SaveConflict):
        self.conflict = conflict
        super().__init__(conflict.message)
        self.file = conflict.path


class LabelError(CrackError):
    """A label change this layout cannot express (the message says what to do instead)."""

    kind = "data"


def _save_error(e: CrackError) -> MaskSaveError:
    err = MaskSaveError(e.message)          # the message already names the file
    err.file = e.file
    return err


@dataclass(frozen=True)
class SaveResult:
    record: SampleRecord           # the record after the save (has_mask / label updated)
    wrote: Path | None             # the mask file written (None when nothing was written)
    removed: Path | None           # the mask file removed (an empty mask on a crack sample)
    backup: Path | None            # the backup made by this save (first edit of an existing mask)
    label_changed: bool            # the save turned a crack-free sample into a crack


# --------------------------------------------------------------------------------------------------------------------
# atomic file helpers

def _os_reason(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, os.replace).

    Raises :class:`MaskSaveError` naming the file and the reason; the old file (if any) is left untouched.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident() % 100000}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(21, "the target is a folder", str(path))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise MaskSaveError(f"cannot write ({_os_reason(e)})", file=path) from None
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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


def safe_name(name: str) -> str:
    """A file name for sample ``name`` (names never hold '/', but may hold other odd characters)."""
    return quote(name, safe="-_.,+=@~") or "_"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


# --------------------------------------------------------------------------------------------------------------------
# the journal

def _encode_record(name: str, shape: tuple[int, int], writes: list[tuple[int, int, np.ndarray]]) -> bytes:
    meta = {"name": name, "h": int(shape[0]), "w": int(shape[1]), "patches": []}
    blobs = []
    for y, x, vals in writes:
        bits = np.packbits(np.asarray(vals, np.uint8), axis=None).tobytes()
        meta["patches"].append([int(y), int(x), int(vals.shape[0]), int(vals.shape[1]), len(bits)])
        blobs.append(bits)
    mj = json.dumps(meta, separators=(",", ":")).encode()
    payload = zlib.compress(struct.pack("<I", len(mj)) + mj + b"".join(blobs), 1)
    return _HEAD.pack(_MAGIC, len(payload), zlib.crc32(payload)) + payload


def read_journal(path: Path) -> tuple[list[tuple[dict, list[tuple[int, int, np.ndarray]]]], bool]:
    """Complete records of a journal file, and whether a torn/corrupt tail was dropped."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return [], False
    out = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < _HEAD.size:
            return out, True
        magic, n, crc = _HEAD.unpack_from(data, pos)
        body = data[pos + _HEAD.size: pos + _HEAD.size + n]
        if magic != _MAGIC or len(body) != n or zlib.crc32(body) != crc:
            return out, True
        try:
            raw = zlib.decompress(body)
            (mlen,) = struct.unpack_from("<I", raw, 0)
            meta = json.loads(raw[4:4 + mlen])
            off = 4 + mlen
            writes = []
            for y, x, h, w, nb in meta["patches"]:
                bits = np.frombuffer(raw, np.uint8, count=nb, offset=off)
                off += nb
                writes.append((y, x, np.unpackbits(bits, count=h * w).reshape(h, w)))
        except (zlib.error, ValueError, KeyError, struct.error):
            return out, True
        out.append((meta, writes))
        pos += _HEAD.size + n
    return out, False


# --------------------------------------------------------------------------------------------------------------------
# the store

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
        self.state_dir = self.root / STATE_DIR
        self.backup_dir = self.state_dir / "backup"
        self.journal_dir = self.state_dir / "journal"
        self.labels_path = self.state_dir / LABELS_FILE
        self._lock = threading.RLock()
        self.guard = MaskGuard(self.root)      # stamps of loaded masks: a save never overwrites another's edit
        self.edit_lock = DatasetLock(self.root)
        self.read_only: LockHeld | None = None  # set by take_edit_lock when another process edits the dataset
        self._journal_len: dict[str, int] = {}
        self._overrides = self._read_overrides()
        self._records: dict[str, SampleRecord] = {}
        for r in index.samples:
            if r.name in self._overrides and self.layout in ("khanhha", "reference"):
                r = replace(r, label=int(self._overrides[r.name]))
            self._records[r.name] = r

    def take_edit_lock(self) -> LockHeld | None:
        """Take the dataset's edit lock (one editing process per dataset). None when taken; when another process
        holds it, the :class:`LockHeld` (its ``owner`` and a message "opened read-only: <user> (pid N on host) is
        editing this dataset since HH:MM") -- the store is then read-only: saves raise :class:`MaskSaveError`."""
        self.read_only = self.edit_lock.try_acquire()
        return self.read_only

    def release_edit_lock(self) -> None:
        self.edit_lock.release()

    def _check_writable(self) -> None:
        if self.read_only is not None:
            raise MaskSaveError(self.read_only.message)

    def remove_stale_temp_files(self) -> list[Path]:
        """Delete temp files that a killed crackviewer left next to masks or state files (hidden ``.<name>.<pid>.*
        .tmp`` of a process that no longer runs). Returns what was removed."""
        folders = {Path(r.mask_path).parent for r in self.index.samples} | {self.state_dir}
        removed = []
        for d in folders:
            try:
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                n = e.name
                if not (n.startswith(".") and n.endswith(".tmp")) or not e.is_file():
                    continue
                parts = n[:-4].split(".")
                pid = parts[-2] if len(parts) >= 3 else ""
                if not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)):
                    continue
                try:
                    os.remove(e.path)
                    removed.append(Path(e.path))
                except OSError:
                    pass
        return removed

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
        :meth:`trainer.data.DatasetIndex.counts`)."""
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

    def _set_record(self, rec: SampleRecord) -> None:
        with self._lock:
            self._records[rec.name] = rec

    # ------------------------------------------------------------ loading
    def read_saved_mask(self, name: str, shape: tuple[int, int]) -> np.ndarray:
        """The mask as saved on disk ({0,1}, zeros when the sample has no mask file)."""
        rec = self.record(name)
        self.guard.loaded(rec.mask_path)        # stamp before reading: a change after it is a conflict at save
        if rec.has_mask and rec.mask_path.is_file():
            return read_mask(rec.mask_path, shape)
        return np.zeros(tuple(shape[:2]), np.uint8)

    def load_mask(self, name: str, shape: tuple[int, int]) -> tuple[np.ndarray, int]:
        """The sample's mask with any journal of unsaved strokes replayed on top.

        Returns ``(mask, n_replayed)``; ``n_replayed > 0`` means strokes were recovered after a crash and the
        caller should save (the journal stays until a save covers it).
        """
        mask = self.read_saved_mask(name, shape)
        records, _torn = read_journal(self.journal_path(name))
        n = 0
        for meta, writes in records:
            if (meta.get("h"), meta.get("w")) != tuple(mask.shape):
                continue      # written for another image size: the image changed on disk since; ignore
            for y, x, vals in writes:
                mask[y:y + vals.shape[0], x:x + vals.shape[1]] = vals
            n += 1
        with self._lock:
            self._journal_len[name] = self._journal_size(name)
        return mask, n

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

        Raises :class:`MaskSaveError` when the journal cannot be written (the caller should then save at once).
        """
        self._check_writable()
        rec = _encode_record(name, shape, writes)
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
                raise MaskSaveError(f"cannot write the edit journal ({_os_reason(e)})", file=path) from None
            self._journal_len[name] = size
            return size

    def journal_size(self, name: str) -> int:
        with self._lock:
            return self._journal_len.get(name, 0)

    def _journal_done(self, name: str, covered: int | None) -> None:
        """Remove the journal if a save covered all of it (``covered`` = its length when the mask was copied)."""
        with self._lock:
            path = self.journal_path(name)
            size = self._journal_size(name)
            if covered is None or size <= covered:
                try:
                    path.unlink()
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
            raise MaskSaveError(f"cannot read the original to back it up ({_os_reason(e)})", file=src) from None
        atomic_write_bytes(dst, data)
        try:
            shutil.copystat(src, dst)
        except OSError:
            pass
        return dst

    def save_mask(self, name: str, mask: np.ndarray, journal_covered: int | None = None) -> SaveResult:
        """Write the sample's mask into the dataset (atomically, backing up the original first) and settle its label.

        ``journal_covered``: the journal length when ``mask`` was copied from the editor (from
        :meth:`journal_size`); the journal is removed only if nothing was appended since. ``None`` removes it.
        Raises :class:`MaskSaveError` (nothing half-written; the sample stays unsaved).
        """
        self._check_writable()
        rec = self.record(name)
        mask = np.asarray(mask)
        crack = bool(mask.any())
        wrote = removed = backup = None
        label_changed = False
        path = Path(rec.mask_path)
        if self.layout == "ksdd2":
            # the label is "the mask has crack pixels" and every sample keeps its mask file
            data = encode_mask(mask, path)
            backup = self._backup_file(path, self.backup_path(rec))
            self._guarded_write(path, data)
            label_changed = rec.label != int(crack)
            rec = replace(rec, has_mask=True, label=int(crack))
            self._set_record(rec)
            self._journal_done(name, journal_covered)
            return SaveResult(rec, path, None, backup, label_changed)
        if crack or rec.has_mask or (rec.label == 0 and path.is_file()):
            if not crack and rec.label == 1:
                # an empty mask on a crack sample: the sample becomes weakly labelled (no mask file)
                if path.is_file():
                    backup = self._backup_file(path, self.backup_path(rec))
                    self._guarded_write(path, None)
                    _fsync_dir(path.parent)
                    removed = path
                rec = replace(rec, has_mask=False)
            else:
                data = encode_mask(mask, path)
                if rec.has_mask or path.is_file():
                    backup = self._backup_file(path, self.backup_path(rec))
                self._guarded_write(path, data)
                wrote = path
                rec = replace(rec, has_mask=True)
        self._set_record(rec)
        if crack and rec.label == 0:
            rec = self._write_label(rec, 1)
            label_changed = True
        self._journal_done(name, journal_covered)
        return SaveResult(rec, wrote, removed, backup, label_changed)

    def _guarded_write(self, path: Path, data: bytes | None) -> None:
        """Write (None: remove) a mask file unless it changed on disk since this store loaded it."""
        try:
            conflict = self.guard.save(path, data)
        except (WriteError, DataError) as e:
            raise _save_error(e) from None
        if conflict is not None:
            raise MaskConflictError(conflict)

    # ------------------------------------------------------------ labels
    def set_label(self, name: str, label: int) -> SampleRecord:
        """Change a sample's image label (1 crack, 0 crack-free), written the layout's way (module docstring).

        The caller clears the mask first when a sample becomes crack-free (a crack-free sample has no crack
        pixels). Raises :class:`LabelError` for a change the layout cannot hold, :class:`MaskSaveError` on I/O.
        """
        self._check_writable()
        rec = self.record(name)
        label = 1 if label else 0
        if rec.label == label:
            return rec
        if self.layout == "ksdd2":
            if label == 1:
                raise LabelError("in the KSDD2 layout a sample is a crack when its mask has crack pixels: "
                                 "paint the crack to make it one", file=rec.mask_path)
            return self._set_and_return(replace(rec, label=0))
        return self._write_label(rec, label)

    def _set_and_return(self, rec: SampleRecord) -> SampleRecord:
        self._set_record(rec)
        return rec

    def _write_label(self, rec: SampleRecord, label: int) -> SampleRecord:
        if self.layout == "manifest":
            self._rewrite_manifest(rec.name, label)
        elif self.layout in ("khanhha", "reference"):
            with self._lock:
                ov = dict(self._overrides)
                if label == self._layout_label(rec):
                    ov.pop(rec.name, None)
                else:
                    ov[rec.name] = label
                atomic_write_bytes(self.labels_path, (json.dumps(ov, indent=1, sort_keys=True) + "\n").encode())
                self._overrides = ov
        # ksdd2: the label follows the mask, nothing to write
        return self._set_and_return(replace(rec, label=label))

    def _layout_label(self, rec: SampleRecord) -> int:
        """The label the layout itself gives a sample (before any override)."""
        if self.layout == "khanhha":
            return 0 if Path(rec.image_path).stem.lower().startswith("noncrack") else 1
        if self.layout == "reference":
            return 1 if Path(rec.image_path).parent.name.endswith("_positive") else 0
        return rec.label

    def _read_overrides(self) -> dict[str, int]:
        try:
            data = json.loads(self.labels_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read the label overrides ({e})", file=self.labels_path) from None
        if not isinstance(data, dict):
            raise DataError("label overrides must be a JSON object {name: 0|1}", file=self.labels_path)
        return {str(k): 1 if v else 0 for k, v in data.items()}

    def _rewrite_manifest(self, name: str, label: int) -> None:
        """One locked, atomic read-modify-write of manifest.csv (trainer.datasets.lock): other processes'
        label changes are kept."""
        try:
            update_manifest_labels(self.root, {name: label}, backup=self.backup_dir / "manifest.csv")
        except (DataError, WriteError) as e:
            raise _save_error(e) from None
