"""Plain-Python events for the Qt-free Inspect models (napari style): ``model.events.<name>.connect(callback)``."""
from __future__ import annotations

from typing import Any, Callable


class Event:
    """A list of callbacks: ``connect(cb)``, ``disconnect(cb)``, ``emit(**kwargs)``. Exceptions propagate."""

    def __init__(self, name: str):
        self.name = name
        self._callbacks: list[Callable[..., Any]] = []
        self.blocked = False

    def connect(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[..., Any] | None = None) -> None:
        if callback is None:
            self._callbacks.clear()
        elif callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, **kwargs: Any) -> None:
        if self.blocked:
            return
        for cb in list(self._callbacks):
            cb(**kwargs)


class ModelEvents:
    def __init__(self, *names: str):
        for n in names:
            setattr(self, n, Event(n))
