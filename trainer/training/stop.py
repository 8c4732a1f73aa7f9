"""Stopping a running train() between steps: SIGTERM/SIGINT handlers and request_stop()."""
from __future__ import annotations

import signal
import threading


class StopRequested(Exception):
    pass


_STOP = {"flag": False}


def request_stop() -> None:
    """Ask a running train() in this process to stop between steps (used by tests and signal handlers)."""
    _STOP["flag"] = True


def stop_requested() -> bool:
    return _STOP["flag"]


def install_stop_handlers() -> dict:
    """Clear the stop flag; in the main thread, route SIGTERM/SIGINT to request_stop. Returns the old handlers."""
    _STOP["flag"] = False
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                saved[sig] = signal.signal(sig, lambda *_: request_stop())
            except (ValueError, OSError):
                pass
    return saved


def restore_stop_handlers(saved: dict) -> None:
    for sig, handler in saved.items():
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):
            pass
