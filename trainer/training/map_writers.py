"""Writers of probability maps and masks, strip by strip: ``begin(height, width)``, ``write(rows)`` (float32
probabilities [n, W]), ``close()``, and ``abort()`` where something is on disk to drop.

:func:`to_uint8` is THE quantisation of written probability maps (p x 255, rounded). :class:`PngStripWriter` streams
an 8-bit PNG (probabilities, or a binary mask at a threshold) through the checked, atomic write path of
:mod:`trainer.atomic`; :class:`ArrayWriter` collects a small map in memory; :class:`TeeWriter` feeds several.
"""
from __future__ import annotations

import errno
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from trainer import atomic
from trainer.errors import DataError

__all__ = ["to_uint8", "ArrayWriter", "PngStripWriter", "TeeWriter"]


def to_uint8(prob: np.ndarray) -> np.ndarray:
    """Probabilities in [0, 1] -> uint8 (x 255, rounded): THE quantisation of written probability maps."""
    return np.clip(np.rint(prob * 255.0), 0, 255).astype(np.uint8)


class ArrayWriter:
    """Collects the map in memory (small images and tests): uint8 (x 255) by default, or float32 probabilities."""

    def __init__(self, dtype=np.uint8):
        self.dtype = np.dtype(dtype)

    def begin(self, height: int, width: int) -> None:
        self.array = np.zeros((height, width), self.dtype)
        self._y = 0

    def write(self, rows: np.ndarray) -> None:
        self.array[self._y:self._y + len(rows)] = to_uint8(rows) if self.dtype == np.uint8 else rows
        self._y += len(rows)

    def close(self) -> None:
        pass


class PngStripWriter:
    """Streams an 8-bit grayscale PNG to ``path`` strip by strip (one zlib stream; no full-size buffer).

    Checked and atomic (issue 15): the bytes go to a hidden temp file beside ``path`` (:func:`trainer.atomic.
    temp_path`), every ``os.write`` is checked, the size is verified after fsync, and only then is the temp file
    renamed to ``path``. Any failure (a full disk) raises :class:`trainer.atomic.WriteError` naming ``path`` and
    leaves nothing behind. ``binary_threshold`` writes ``255 * (p >= t)`` instead of the probabilities (a mask) and
    counts the pixels set in ``positives``. :meth:`abort` removes the temp file (the caller's error path).
    """

    def __init__(self, path, binary_threshold: float | None = None):
        self.path = Path(path)
        self.binary_threshold = binary_threshold
        self.positives = 0
        self._fd = None

    def _put(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            if n <= 0:
                raise OSError(errno.EIO, "the write made no progress")
            view = view[n:]
        self._size += len(data)

    def _chunk(self, kind: bytes, data: bytes) -> None:
        self._put(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    def _guard(self, fn, *a):
        try:
            return fn(*a)
        except OSError as e:
            self.abort()
            raise atomic.write_error(e, self.path) from None

    def begin(self, height: int, width: int) -> None:
        self._tmp = atomic.temp_path(self.path)
        self._size = 0
        self._rows_left = height

        def start():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            self._put(b"\x89PNG\r\n\x1a\n")
            self._chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        self._z = zlib.compressobj(6)
        self._guard(start)

    def write(self, rows: np.ndarray) -> None:
        raw = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
        raw[:, 0] = 0  # filter type None
        if self.binary_threshold is None:
            raw[:, 1:] = to_uint8(rows)
        else:
            on = rows >= self.binary_threshold
            self.positives += int(on.sum())
            raw[:, 1:] = on.view(np.uint8) * np.uint8(255)
        data = self._z.compress(raw.tobytes())
        if data:
            self._guard(self._chunk, b"IDAT", data)
        self._rows_left -= rows.shape[0]

    def close(self) -> None:
        if self._rows_left != 0:
            self.abort()
            raise DataError(f"probability map incomplete ({self._rows_left} rows missing)", file=self.path)

        def finish():
            self._chunk(b"IDAT", self._z.flush())
            self._chunk(b"IEND", b"")
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            size = os.stat(self._tmp).st_size
            if size != self._size:
                raise OSError(errno.EIO, f"wrote {size} bytes instead of {self._size}")
            os.replace(self._tmp, self.path)
        self._guard(finish)

    def abort(self) -> None:
        """Drop what was written (close and delete the temp file); the target is untouched."""
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


class TeeWriter:
    """Hands the same rows to several writers (a probability map and a mask); aborts all of them on failure."""

    def __init__(self, *writers):
        self.writers = [w for w in writers if w is not None]

    def begin(self, height: int, width: int) -> None:
        for w in self.writers:
            w.begin(height, width)

    def write(self, rows: np.ndarray) -> None:
        for w in self.writers:
            w.write(rows)

    def close(self) -> None:
        for w in self.writers:
            w.close()

    def abort(self) -> None:
        for w in self.writers:
            if hasattr(w, "abort"):
                w.abort()
