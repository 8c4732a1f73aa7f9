"""Structured events: one JSON object per line in RUN/events.jsonl (and stdout on request), plus log.txt.

The event names, the writer (:class:`EventLog`), the one tolerant line parser (:func:`parse_event_line`, for
events.jsonl lines and for a worker's stdout lines alike) and the incremental reader (:class:`EventReader`).
"""
from __future__ import annotations

import json
import math
import re
import sys
import time
from pathlib import Path
from typing import Any, Iterable, TextIO

from trainer.errors import DataError
from trainer.runs import paths

# event names
RUN_STARTED = "run_started"
STEP = "step"
EPOCH = "epoch"
VALIDATION = "validation"
CHECKPOINT = "checkpoint"
EVALUATION = "evaluation"
LOG = "log"
FINISHED = "finished"
ERROR = "error"
EVENT_NAMES = (RUN_STARTED, STEP, EPOCH, VALIDATION, CHECKPOINT, EVALUATION, LOG, FINISHED, ERROR)
TERMINAL = (FINISHED, ERROR)
"""Events that end a training session (a resume starts a new one with ``run_started``)."""

_EVENT_NAME = re.compile(rb'"event"\s*:\s*"([A-Za-z_]+)"')


def parse_event_line(line: bytes | str) -> dict | None:
    """The event of one line (bytes or str), or None when the line is not an event: blank, cut by a crash, not
    JSON, or JSON without a string ``"event"``. Never raises."""
    s = line.strip()
    if not s or s[:1] not in (b"{", "{"):
        return None
    try:
        rec = json.loads(s)
    except (ValueError, UnicodeDecodeError):
        return None
    return rec if isinstance(rec, dict) and isinstance(rec.get("event"), str) else None


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
            self._events = open(self.run_dir / paths.EVENTS, "a", encoding="utf-8")
            self._log = open(self.run_dir / paths.LOG, "a", encoding="utf-8")
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
            self.emit(LOG, level=level, message=message)

    def close(self) -> None:
        for fh in (self._events, self._log):
            if fh:
                fh.close()
        self._events = self._log = None


class EventReader:
    """Reads an events.jsonl tolerantly: a truncated last line (the writer is mid-line, or crashed) and any
    unparseable line are skipped (``skipped_lines`` counts the latter). The non-step events are kept and read
    incrementally (only the bytes appended since the previous call), so polling a live run is cheap."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.skipped_lines = 0
        self._meta: list[dict] = []
        self._meta_offset = 0
        self._meta_ident: tuple | None = None

    def _lines(self, offset: int) -> tuple[list[bytes], int, bytes]:
        """(complete lines from offset, offset after the last complete line, trailing partial line)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(offset)
                data = fh.read()
        except FileNotFoundError:
            return [], offset, b""
        except OSError as exc:
            raise DataError(f"cannot read: {exc}", self.path) from None
        cut = data.rfind(b"\n") + 1
        lines = [ln for ln in data[:cut].split(b"\n") if ln.strip()]
        return lines, offset + cut, data[cut:]

    def events(self, kinds: Iterable[str] | None = None) -> list[dict]:
        """Every event in order (or only those named in ``kinds``); a missing file gives []. A complete but
        unterminated last line counts."""
        want = {k.encode() for k in kinds} if kinds is not None else None
        out: list[dict] = []
        skipped = 0
        lines, _, tail = self._lines(0)
        for line in lines:
            if want is not None:
                m = _EVENT_NAME.search(line)
                if m is None or m.group(1) not in want:
                    continue
            rec = parse_event_line(line)
            if rec is None:
                skipped += 1
                continue
            out.append(rec)
        if tail:
            rec = parse_event_line(tail)
            if rec is not None and (want is None or rec["event"].encode() in want):
                out.append(rec)
        if kinds is None:
            self.skipped_lines = skipped
        return out

    def meta_events(self) -> list[dict]:
        """All events except ``step`` (which can be hundreds of thousands), read incrementally."""
        try:
            st = self.path.stat()
            ident = (st.st_ino, st.st_dev)
        except FileNotFoundError:
            self._meta, self._meta_offset, self._meta_ident = [], 0, None
            return []
        if ident != self._meta_ident or st.st_size < self._meta_offset:
            self._meta, self._meta_offset, self._meta_ident = [], 0, ident
        lines, self._meta_offset, tail = self._lines(self._meta_offset)
        for line in lines:
            m = _EVENT_NAME.search(line)
            if m is not None and m.group(1) == STEP.encode():
                continue
            rec = parse_event_line(line)
            if rec is not None:
                self._meta.append(rec)
        out = list(self._meta)
        if tail:
            rec = parse_event_line(tail)
            if rec is not None and rec["event"] != STEP:
                out.append(rec)
        return out

    def read_since(self, offset: int) -> tuple[list[dict], int]:
        """Events in complete lines appended after byte ``offset``, and the new offset (for tailing a live run)."""
        lines, new_offset, _ = self._lines(offset)
        return [r for r in map(parse_event_line, lines) if r is not None], new_offset
