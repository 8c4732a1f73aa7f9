"""How long a run has trained, across all its sessions (Qt-free): a resumed run starts a new session with a
`run_started` event; each session lasts until its last event. "Started", "Training time" and "elapsed" count the
whole run, not only the part since the last resume."""
from __future__ import annotations

from trainer.runs.events import RUN_STARTED


def sessions(events: list[dict]) -> list[tuple[float, float]]:
    """(start, end) unix times of every session: from its run_started to the last event before the next one."""
    out: list[list[float]] = []
    for ev in events:
        t = ev.get("time")
        if not isinstance(t, (int, float)):
            continue
        if ev.get("event") == RUN_STARTED:
            out.append([float(t), float(t)])
        elif out:
            out[-1][1] = max(out[-1][1], float(t))
    return [(a, b) for a, b in out]


def first_started(events: list[dict]) -> float | None:
    """When the run was first started (the first session's run_started), or None."""
    s = sessions(events)
    return s[0][0] if s else None


def training_seconds(events: list[dict]) -> float | None:
    """The run's training time: the sum of its sessions' durations; None when it never started."""
    s = sessions(events)
    return sum(b - a for a, b in s) if s else None
