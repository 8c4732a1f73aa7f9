"""Tolerant readers of the small files of run and evaluation folders: numeric CSV tables and JSON objects.

A missing file reads as empty (None / []); a file that exists but cannot be read raises DataError naming it.
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from trainer.errors import DataError


def to_float(value: str) -> float:
    """A CSV cell as a float: empty / none / null / nan / undefined -> NaN, true/yes -> 1, false/no -> 0."""
    v = value.strip()
    if v == "" or v.lower() in ("none", "null", "nan", "undefined"):
        return math.nan
    low = v.lower()
    if low in ("true", "yes"):
        return 1.0
    if low in ("false", "no"):
        return 0.0
    return float(v)



def read_text(path: Path) -> str | None:
    """The file's text, or None when it does not exist; unreadable -> DataError naming the file."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read: {exc}", path) from None


def read_numeric_csv(path: Path) -> list[dict[str, float]]:
    """Rows of a CSV whose cells are all numbers, as floats (empty / None / nan cells -> NaN, True/False -> 1/0).

    A missing file gives []. A truncated last line (a writer in the middle of a row) is dropped.
    """
    path = Path(path)
    text = read_text(path)
    if text is None:
        return []
    complete = text.endswith("\n")
    lines = text.splitlines()
    if not lines:
        return []
    reader = csv.DictReader(lines)
    if not reader.fieldnames:
        return []
    rows: list[dict[str, float]] = []
    data_lines = len(lines) - 1
    for i, raw in enumerate(reader, start=2):
        last = i - 1 == data_lines
        if None in raw or any(v is None for v in raw.values()):
            if last and not complete:
                break  # partial last row
            raise DataError(f"line {i}: expected {len(reader.fieldnames)} columns", path)
        try:
            rows.append({k: to_float(v) for k, v in raw.items()})
        except ValueError as exc:
            if last and not complete:
                break
            raise DataError(f"line {i}: not a number ({exc})", path) from None
    return rows




def read_json_object(path: Path) -> dict | None:
    """A JSON object file as a dict; None when missing; DataError when unreadable, not JSON, or not an object."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read: {exc}", path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc}", path) from None
    if not isinstance(data, dict):
        raise DataError("expected a JSON object", path)
    return data

