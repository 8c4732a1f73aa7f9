"""Structured events: one JSON object per line in RUN/events.jsonl (and stdout on request), plus log.txt."""
from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any, TextIO


def _clean(v: Any) -> Any:
    if isinstance(v, float):
        return None if (math.isnan(v) or math.isinf(v)) else v
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy / torch scalars
        try:
            return _clean(v.item())
        except (ValueError, TypeError):
            pass
    if isinstance(v, Path):
        return str(v)
    return v


class EventLog:
    """Writes events; every line is flushed at once so a reader (the GUI) sees it immediately."""

    def __init__(self, run_dir: str | Path | None, to_stdout: bool = False, enabled: bool = True,
                 log_stream: TextIO | None = None):
        self.enabled = enabled
        self.to_stdout = to_stdout and enabled
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._events = self._log = None
        if enabled and self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._events = open(self.run_dir / "events.jsonl", "a", encoding="utf-8")
            self._log = open(self.run_dir / "log.txt", "a", encoding="utf-8")
        self.log_stream = log_stream
        self.listeners: list = []  # callables(record) — e.g. the CLI progress bar

    def emit(self, event: str, **fields: Any) -> dict:
        rec = {"event": event, "time": round(time.time(), 3), **_clean(fields)}
        if not self.enabled:
            return rec
        line = json.dumps(rec, ensure_ascii=False)
        if self._events:
            self._events.write(line + "\n")
            self._events.flush()
        if self.to_stdout:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        for listener in self.listeners:
            listener(rec)
        return rec

    def log(self, message: str, level: str = "info", event: bool = True, echo: bool = True) -> None:
        """A human-readable line in log.txt (and stderr); also a `log` event unless event=False."""
        if not self.enabled:
            return
        stamp = time.strftime("%d-%m-%y %H:%M")
        line = f"{stamp} {message}"
        if self._log:
            self._log.write(line + "\n")
            self._log.flush()
        if echo and self.log_stream is not None:
            self.log_stream.write(line + "\n")
            self.log_stream.flush()
        if event:
            self.emit("log", level=level, message=message)

    def close(self) -> None:
        for fh in (self._events, self._log):
            if fh:
                fh.close()
        self._events = self._log = None
