"""Number and Markdown formatting for reports and console lines: fmt (the one number formatter), tables, links."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence


def num(v: Any) -> float | None:
    """``v`` as a float, or None for None, booleans, NaN and non-numbers."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def fmt(v: Any, spec: str = ".4f", undefined: str = "n/a") -> str:
    """A number with format ``spec`` (``"d"``: rounded integer); ``undefined`` when it is not a number."""
    f = num(v)
    if f is None:
        return undefined
    if spec == "d":
        return str(int(round(f)))
    return format(f, spec)


def fmt_param(v: Any) -> str:
    """A config value as the report's parameter table writes it (True/False, floats with %g)."""
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    sep = [(":---:" if align == "center" else "-----------") for _ in header]
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def link(path: Path, base: Path) -> str:
    rel = os.path.relpath(path, base).replace(os.sep, "/")
    if not rel.startswith("."):
        rel = "./" + rel
    return f"<{rel}>" if any(c in rel for c in " ()") else rel
