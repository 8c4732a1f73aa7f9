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


def fmt_rate(images_per_s: float | None) -> str:
    """Training speed with sensible precision: '212 img/s', '3.4 img/s', '0.032 img/s'; below 0.01 img/s the time per
    image reads better ('310 s/img'). '–' when unknown."""
    if images_per_s is None or not math.isfinite(images_per_s) or images_per_s <= 0:
        return "–"
    r = float(images_per_s)
    if r < 0.01:
        return f"{1 / r:.0f} s/img"
    if r >= 100:
        return f"{r:.0f} img/s"
    return f"{r:.2g} img/s" if r < 1 else f"{r:.3g} img/s"
