"""THE atomic writer: a crash at any moment leaves the old file or the new one, never half of one, and a failed write
says which file, why and what to do -- never a bare ``OSError: [Errno 28]``.

* :func:`atomic_write_bytes` writes to a hidden temp file in the same folder, ``.<name>.<pid>.<n>.tmp``, checks every
  ``os.write`` return value, fsyncs, checks the temp file's size on disk, ``os.replace``s it over the target and
  fsyncs the folder so that the rename survives a power cut. On any failure the temp file is removed, the old target
  is left untouched and :class:`WriteError` (a :class:`CrackError` and an ``OSError``) names the file, the reason
  (disk full with the mount point and its free space, read-only file system, permission) and the fix.
* :func:`write_png_checked` encodes an image with ``cv2.imencode`` (checking its result) and writes it atomically --
  unlike ``cv2.imwrite``, which returns true and leaves a 0-byte file on a full disk.
* :func:`remove_stale_temps` deletes the temp files whose writer process no longer runs (the pid in the name), at
  the next start of a training or an evaluation.
"""
from __future__ import annotations

import errno
import itertools
import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from trainer.errors import CrackError
from trainer.pids import pid_alive

TEMP_SUFFIX = ".tmp"
_counter = itertools.count()
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class WriteError(CrackError, OSError):
    """A file could not be written; the message names the file, the reason and the fix."""

    kind = "io"


def temp_path(path: Path) -> Path:
    """The hidden temp file a write of ``path`` goes through: ``.<name>.<pid>.<n>.tmp`` in the same folder."""
    path = Path(path)
    return path.parent / f".{path.name}.{os.getpid()}.{next(_counter)}{TEMP_SUFFIX}"


def mount_point(path: str | os.PathLike) -> Path:
    """The mount point holding ``path`` (the path itself need not exist yet)."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def _human(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{int(n)} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def describe_os_error(e: OSError, path: str | os.PathLike) -> str:
    """A one-line message for ``e`` raised while writing ``path``: what happened, to which file, and the fix."""
    path = Path(path)
    if e.errno in _DISK_FULL:
        mount = mount_point(path)
        try:
            free = f" ({_human(shutil.disk_usage(mount).free)} free)"
        except OSError:
            free = ""
        return f"disk full while writing {path}: free space on {mount}{free}, then try again"
    if e.errno == errno.EROFS:
        return f"cannot write {path}: {mount_point(path)} is mounted read-only; choose a writable folder"
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"cannot write {path}: permission denied; choose a folder you can write to or fix its permissions"
    return f"cannot write {path} ({e.strerror or e})"


def write_error(e: OSError, path: str | os.PathLike) -> WriteError:
    """:class:`WriteError` for ``e`` raised while writing ``path`` (the message already holds the file name)."""
    if isinstance(e, WriteError):
        return e
    err = WriteError(describe_os_error(e, path))
    err.file = str(path)
    err.errno = e.errno
    return err


def fsync_dir(folder: Path) -> None:
    """fsync a folder (its entries, i.e. a rename into it); silently skipped where folders cannot be opened."""
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


def atomic_write_bytes(path: str | os.PathLike, data: bytes, durable: bool = True) -> int:
    """Write ``data`` to ``path`` atomically and verified; returns the number of bytes written. ``durable=False``
    skips both fsyncs (still all-or-nothing for readers; for many small re-creatable files).

    Raises :class:`WriteError` naming the file and the fix; then nothing of this write is left on disk and the old
    ``path`` (if any) is unchanged.
    """
    path = Path(path)
    data = bytes(data)
    tmp = temp_path(path)
    fd = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "the target is a folder", str(path))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            if n <= 0:
                raise OSError(errno.EIO, "the write made no progress")
            view = view[n:]
        if durable:
            os.fsync(fd)
        os.close(fd)
        fd = None
        size = os.stat(tmp).st_size
        if size != len(data):
            raise OSError(errno.EIO, f"wrote {size} bytes instead of {len(data)}")
        os.replace(tmp, path)
    except BaseException as e:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise write_error(e, path) from None
        raise
    if durable:
        fsync_dir(path.parent)
    return len(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> int:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def encode_png(array, path: str | os.PathLike = "image.png") -> bytes:
    """PNG bytes of ``array`` (uint8/uint16, HxW or HxWx3/4 BGR); raises :class:`WriteError` naming ``path`` when
    OpenCV cannot encode it."""
    arr = np.ascontiguousarray(array)
    try:
        ok, buf = cv2.imencode(".png", arr)
    except cv2.error:
        ok, buf = False, None
    if not ok or buf is None or len(buf) == 0:
        err = WriteError(f"cannot write {path}: OpenCV could not encode a {arr.dtype} array of shape "
                         f"{tuple(arr.shape)} as PNG")
        err.file = str(path)
        raise err
    return buf.tobytes()


def write_png_checked(path: str | os.PathLike, array) -> int:
    """Encode ``array`` as PNG and write it to ``path`` with :func:`atomic_write_bytes`; returns the size."""
    return atomic_write_bytes(path, encode_png(array, path))


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Delete the temp files in ``folder`` whose writer process no longer runs; return what was removed."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    removed = []
    for e in entries:
        n = e.name
        if not (n.startswith(".") and n.endswith(TEMP_SUFFIX)) or not e.is_file():
            continue
        parts = n[:-len(TEMP_SUFFIX)].split(".")
        pid = parts[-2] if len(parts) >= 3 else ""
        if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        try:
            os.remove(e.path)
            removed.append(Path(e.path))
        except OSError:
            pass
    return removed
