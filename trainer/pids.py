"""Is a process alive: the one liveness test for training workers and for the owners of stale temp files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def pid_alive(pid: Any) -> bool:
    """True when a process with this pid exists on this machine and is not a zombie."""
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    except OSError:
        return False
    # A killed child that its parent has not reaped yet still answers kill(0): look at its state.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        state = stat[stat.rindex(")") + 2:].split()[0]
        if state in ("Z", "X"):
            return False
    except (OSError, ValueError, IndexError):
        pass
    return True
