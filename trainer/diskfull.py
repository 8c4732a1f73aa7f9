"""Writes that never leave half a file and never fail with a bare ``[Errno 28]``.

* :func:`write_error` turns an ``OSError`` raised while writing ``path`` into a :class:`WriteError` whose message
  names the file, the mount point and the fix: ``disk full while writing X: free space on /mnt (12 KB free)``, a
  read-only file system, a missing permission.
* :func:`atomic_write_checked` writes bytes to a hidden temp file in the target's folder (named
  ``.<name>.<pid>.<n>.tmp`` so a later start can tell a dead writer's leftovers), checks every ``os.write`` return
  value, fsyncs, checks the temp file's size on disk, then ``os.replace``s it over the target. On any failure the
  temp file is removed and the old target is left untouched.
* :func:`write_png_checked` encodes an image with ``cv2.imencode`` (checking its return value) and writes it with
  :func:`atomic_write_checked` -- unlike ``cv2.imwrite``, which returns true and leaves a 0-byte file on a full disk.

This module is the checked core that the one atomic writer (``trainer/atomic.py``) is meant to absorb.
"""
from __future__ import annotations

import errno
import itertools
import os
import shutil
from pathlib import Path

from trainer.errors import CrackError

_counter = itertools.count()
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class WriteError(CrackError):
    """A file could not be written; the message names the file, the reason and the fix."""

    kind = "io"


def mount_point(path: str | os.PathLike) -> Path:
    """The mount point holding ``path`` (the path itself need not exist yet)."""
    p = Path(os.path.abspath(path))
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def _human(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
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
    err = WriteError(describe_os_error(e, path))
    err.file = str(path)
    err.errno = e.errno
    return err


def temp_path(path: Path) -> Path:
    """The hidden temp file a write of ``path`` goes through: ``.<name>.<pid>.<n>.tmp`` in the same folder."""
    return path.parent / f".{path.name}.{os.getpid()}.{next(_counter)}.tmp"


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


def atomic_write_checked(path: str | os.PathLike, data: bytes) -> int:
    """Write ``data`` to ``path`` atomically and verified; returns the number of bytes written.

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
        os.fsync(fd)
        os.close(fd)
        fd = None
        size = os.stat(tmp).st_size
        if size != len(data):
            raise OSError(errno.EIO, f"wrote {size} bytes instead of {len(data)}")
        os.replace(tmp, path)
    except OSError as e:
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise write_error(e, path) from None
    _fsync_dir(path.parent)
    return len(data)


def encode_png(array, path: str | os.PathLike = "image.png") -> bytes:
    """PNG bytes of ``array`` (uint8/uint16, HxW or HxWx3/4 BGR); raises :class:`WriteError` naming ``path`` when
    OpenCV cannot encode it."""
    import cv2
    import numpy as np

    arr = np.ascontiguousarray(array)
    try:
        ok, buf = cv2.imencode(".png", arr)
    except cv2.error as e:
        ok, buf = False, str(e).strip().splitlines()[-1:] or [""]
    if not ok or buf is None or len(buf) == 0:
        err = WriteError(f"cannot write {path}: OpenCV could not encode a {arr.dtype} array of shape "
                         f"{tuple(arr.shape)} as PNG")
        err.file = str(path)
        raise err
    return buf.tobytes()


def write_png_checked(path: str | os.PathLike, array) -> int:
    """Encode ``array`` as PNG and write it to ``path`` with :func:`atomic_write_checked`; returns the size."""
    return atomic_write_checked(path, encode_png(array, path))
