"""Thumbnails of the gallery read in background threads (most recently requested first, so the tiles on screen load
before the ones scrolled past) into an LRU cache; each reported with ``loaded(index)``."""
from __future__ import annotations

import threading
from collections import OrderedDict

from PySide6.QtCore import QObject, Signal

from crackviewer.inspect.sample_store import SampleStore, Thumbnail
from crackviewer.qt.tasks import TaskRunner

THUMB = 112          # thumbnail size (longest side, px)


class ThumbnailLoader(QObject):
    """Loads :class:`Thumbnail` s on a TaskRunner (newest request first); LRU cache."""

    loaded = Signal(int)

    def __init__(self, store: SampleStore | None = None, size: int = THUMB, workers: int = 2, cache: int = 1200,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.size = size
        self._store = store
        self._cache: OrderedDict[int, Thumbnail] = OrderedDict()
        self._cache_max = cache
        self._queued: set[int] = set()
        self._gen = 0
        self._lock = threading.Lock()
        self._stopped = False
        self.tasks = TaskRunner(self, threads=workers, newest_first=True)

    def set_store(self, store: SampleStore | None) -> None:
        with self._lock:
            self._store = store
            self._gen += 1
            self._cache.clear()
            self._queued.clear()

    def get(self, i: int) -> Thumbnail | None:
        """The cached thumbnail, or None (then call :meth:`request`)."""
        with self._lock:
            t = self._cache.get(i)
            if t is not None:
                self._cache.move_to_end(i)
            return t

    def has(self, i: int) -> bool:
        with self._lock:
            return i in self._cache

    def request(self, i: int) -> None:
        with self._lock:
            if self._store is None or self._stopped or i in self._cache or i in self._queued:
                return
            self._queued.add(i)
            store, gen = self._store, self._gen
        self.tasks.run(lambda: self._load(store, gen, i), self._emit_loaded)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or loading (tests, screenshots)."""
        return self.tasks.wait(timeout)

    def shutdown(self) -> None:
        self._stopped = True

    def _load(self, store: SampleStore, gen: int, i: int) -> int | None:
        if gen != self._gen or self._stopped:       # a tile of an older evaluation: not worth reading any more
            return None
        try:
            thumb = store.thumbnail(i, self.size)
        except Exception:  # noqa: BLE001 - a broken file gives an empty tile, not a dead thread
            thumb = None
        with self._lock:
            if gen != self._gen:
                return None
            self._queued.discard(i)
            self._cache[i] = thumb if thumb is not None else Thumbnail(i, np.zeros((8, 8, 3), np.uint8), None, None)
            while len(self._cache) > self._cache_max:
                self._cache.popitem(last=False)
        return i

    def _emit_loaded(self, i: int | None) -> None:
        if i is not None and not self._stopped:
            self.loaded.emit(i)


# ---------------------------------------------------------------------------------------------------------------
