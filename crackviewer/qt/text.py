"""Numbers and durations as the app writes them for people."""
from __future__ import annotations

import math


def human_duration(s: float | None) -> str:
    """'1 h 05 min', '3 min 07 s', '42 s'; '–' when unknown."""
    if s is None or not math.isfinite(s) or s < 0:
        return "–"
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600} h {(s % 3600) // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def fmt_number(v, digits: int = 4) -> str:
    """A metric with `digits` decimals; '–' for None or NaN; anything not a number as it is."""
    if v is None:
        return "–"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "–" if math.isnan(f) else f"{f:.{digits}f}"
