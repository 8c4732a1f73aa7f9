"""THE atomic writer: a crash at any moment leaves the old file or the new one, never half of one.

A file is written to a hidden temp file in the same folder, ``.<name>.<pid>.<thread>.tmp``, flushed and fsync'ed,
``os.replace``'d over the target, and the folder is fsync'ed so that the rename itself survives a power cut. The pid
in the temp name lets :func:`remove_stale_temps` delete what a killed writer left behind. Errors are the plain
``OSError`` of the failing step (the temp file is removed first); callers wrap them in their own message.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from trainer.pids import pid_alive

TEMP_SUFFIX = ".tmp"


def temp_path(path: Path) -> Path:
    """The temp file that :func:`atomic_write_bytes` writes before renaming it to ``path``."""
    return path.parent / f".{path.name}.{os.getpid()}.{threading.get_ident() % 100000}{TEMP_SUFFIX}"


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


def atomic_write_bytes(path: str | os.PathLike, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, os.replace, folder fsync).
    ``durable=False`` skips both fsyncs (still all-or-nothing for readers; for many small re-creatable files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(21, "the target is a folder", str(path))
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` encoded as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


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
