"""Plumbing shared by the GUI's trainer subprocesses (Qt-light): the worker's environment, complete text lines out
of byte chunks, and the tail of a log file."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QProcessEnvironment

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def trainer_environment() -> QProcessEnvironment:
    """The GUI's environment, plus unbuffered output and the project root on PYTHONPATH (works uninstalled too)."""
    env = QProcessEnvironment.systemEnvironment()
    paths = [str(PROJECT_ROOT)]
    old = env.value("PYTHONPATH", "")
    if old:
        paths.append(old)
    env.insert("PYTHONPATH", os.pathsep.join(paths))
    env.insert("PYTHONUNBUFFERED", "1")
    env.insert("PYTHONIOENCODING", "utf-8")
    # The worker must never try to talk to a display (it imports no Qt, but be explicit).
    env.remove("QT_QPA_PLATFORM")
    return env


class LineSplitter:
    """Turns arbitrary byte chunks into complete text lines; keeps the unfinished tail for the next chunk.

    A carriage return (a terminal progress bar redrawing itself) also ends a line; empty lines are dropped.
    """

    def __init__(self):
        self._buf = b""

    def feed(self, chunk: bytes) -> list[str]:
        self._buf += chunk
        if b"\n" not in self._buf and b"\r" not in self._buf:
            return []
        data = self._buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._buf = data.split(b"\n")
        return [ln.decode("utf-8", "replace").rstrip() for ln in lines if ln.strip()]

    def flush(self) -> list[str]:
        rest, self._buf = self._buf, b""
        text = rest.decode("utf-8", "replace").strip()
        return [text] if text else []


def tail_lines(path: str | Path, n: int = 40, max_bytes: int = 64_000) -> list[str]:
    """The last n lines of a text file (reads at most max_bytes from its end); [] if it does not exist."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # the first one is probably cut
    return lines[-n:]
