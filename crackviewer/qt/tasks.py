"""THE background-task helper of the app: run a function on a pool thread, get its result on the GUI thread.

Every panel that reads files, builds an index or imports something slow does it through a `TaskRunner`; the
callbacks are dropped once the runner's owner widget is deleted, so a late result never touches a dead widget.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _TaskSignals(QObject):
    done = Signal(object)
    failed = Signal(str)


class _Task(QRunnable):
    """Runs fn() on a pool thread; done(result) or failed(message) are delivered on the GUI thread."""

    def __init__(self, fn: Callable[[], Any]):
        super().__init__()
        self.fn = fn
        self.signals = _TaskSignals()
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # noqa: BLE001 - reported to the user, not raised into Qt
            message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            self.signals.failed.emit(message)
            return
        self.signals.done.emit(result)


class TaskRunner(QObject):
    """A thread pool owned by a widget. `run(fn, on_done, on_failed)`; with `newest_first`, the most recently
    submitted task starts first (thumbnails of the tiles the user looks at now before those scrolled past)."""

    def __init__(self, owner: QObject, threads: int | None = None, newest_first: bool = False):
        super().__init__(owner)
        self.pool = QThreadPool(self)
        if threads:
            self.pool.setMaxThreadCount(threads)
        self._owner = owner
        self._keep: set[_TaskSignals] = set()
        self._priority = itertools.count() if newest_first else None

    def run(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
            on_failed: Callable[[str], None] | None = None) -> None:
        task = _Task(fn)
        signals = task.signals
        self._keep.add(signals)

        def finish(callback, value):
            self._keep.discard(signals)
            if callback is not None and shiboken6.isValid(self._owner):
                callback(value)

        signals.done.connect(lambda r: finish(on_done, r))
        signals.failed.connect(lambda m: finish(on_failed, m))
        self.pool.start(task, next(self._priority) if self._priority is not None else 0)

    def wait(self, timeout_s: float = 10.0) -> bool:
        """Block until every submitted task has run (tests, screenshots); True when idle in time."""
        return self.pool.waitForDone(int(timeout_s * 1000))


class LatestTask(QObject):
    """One background job whose result counts only while it is the newest: ``start(key, fn, on_done, on_failed)``;
    a later ``start`` or ``cancel`` drops the result of an earlier one (a sample opened while another still loads).
    ``key`` is what the newest job is for, None when none is pending."""

    def __init__(self, owner: QObject):
        super().__init__(owner)
        self._runner = TaskRunner(owner, threads=1)
        self._token = 0
        self.key: Any = None

    def start(self, key: Any, fn: Callable[[], Any], on_done: Callable[[Any], None],
              on_failed: Callable[[str], None]) -> None:
        self._token += 1
        self.key = key
        token = self._token
        self._runner.run(fn, lambda r: self._finish(token, on_done, r), lambda m: self._finish(token, on_failed, m))

    def cancel(self) -> None:
        self._token += 1
        self.key = None

    def _finish(self, token: int, callback: Callable[[Any], None], value: Any) -> None:
        if token != self._token:
            return
        self.key = None
        callback(value)
