"""The output folder of ``crack-train predict``: file names, ``predictions.csv``, and sharding under torchrun.

Names: one distinct mask name per input, never overwritten.

Inputs with distinct file stems keep today's flat names (``<stem>_mask.png``). When two inputs share a stem (the
same file name in two folders, ``x.png`` and ``x.jpg``, names differing only in case -- one file on Windows and
macOS disks), the input tree is mirrored below the output folder, relative to the inputs' deepest common folder
(``a/x_mask.png``, ``b/x_mask.png``); inputs that still collide keep their extension in the name
(``x_jpg_mask.png``), and anything left gets ``-2``, ``-3``... in input order. Names are relative POSIX paths
without ``..``; ``predictions.csv`` records each one next to its input. The probability map of an input is its mask
name with ``_prob.png`` for ``_mask.png`` (:func:`prob_name`).

Shards (``torchrun``): rank ``r`` of ``world`` takes inputs ``r, r + world, ...`` (:func:`shard`) after the names of
ALL inputs were made (every rank computes the same names), writes its rows to ``predictions.part<r>.csv``; after a
barrier rank 0 merges the parts in input order into ``predictions.csv`` and deletes them (:func:`merge_parts`).
Writes go through :func:`trainer.atomic.atomic_write_bytes` (checked, atomic; a full disk names the file).
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path, PurePosixPath
from typing import Sequence

from trainer.atomic import atomic_write_bytes
from trainer.errors import DataError

PREDICTIONS = "predictions.csv"
MASK_SUFFIX = "_mask.png"
PROB_SUFFIX = "_prob.png"
COLUMNS = ("image", "mask", "prob", "score", "decision", "crack_pixels", "height", "width", "mode", "windows",
           "score_rule")
_ORDER = "_order"  # the input's position, in part files only


def _key(name: str) -> str:
    return name.casefold()


def _collides(names: list[str]) -> set[str]:
    seen: dict[str, int] = {}
    for n in names:
        seen[_key(n)] = seen.get(_key(n), 0) + 1
    return {k for k, c in seen.items() if c > 1}


def mask_names(inputs: Sequence[str | os.PathLike]) -> list[str]:
    """Relative output names (POSIX) for the masks of ``inputs``, one per input, distinct case-insensitively."""
    paths = [Path(os.path.abspath(p)) for p in inputs]
    names = [f"{p.stem}{MASK_SUFFIX}" for p in paths]
    if not _collides(names):
        return names
    base = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path("/")
    rel = [PurePosixPath(*p.parent.relative_to(base).parts) for p in paths]
    names = [str(r / f"{p.stem}{MASK_SUFFIX}") for r, p in zip(rel, paths)]
    clash = _collides(names)
    names = [str(r / f"{p.stem}_{p.suffix[1:].lower()}{MASK_SUFFIX}") if _key(n) in clash and p.suffix else n
             for n, r, p in zip(names, rel, paths)]
    out, seen = [], set()
    for n in names:
        cand, i = n, 1
        while _key(cand) in seen:
            i += 1
            cand = n[: -len(MASK_SUFFIX)] + f"-{i}{MASK_SUFFIX}"
        seen.add(_key(cand))
        out.append(cand)
    return out


def prob_name(mask_name: str) -> str:
    """The probability map's name beside a mask name from :func:`mask_names`."""
    return mask_name[: -len(MASK_SUFFIX)] + PROB_SUFFIX


def shard(n: int, rank: int = 0, world: int = 1) -> list[int]:
    """The input positions rank ``rank`` of ``world`` predicts: ``rank, rank + world, ...``."""
    return list(range(int(rank), int(n), max(1, int(world))))


def part_path(out: Path, rank: int) -> Path:
    return Path(out) / f"predictions.part{int(rank)}.csv"


def _csv(rows: list[dict], columns) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def write_predictions(out: Path, rows: list[dict]) -> Path:
    """``predictions.csv`` of ``rows`` (dicts with :data:`COLUMNS`), checked and atomic."""
    path = Path(out) / PREDICTIONS
    atomic_write_bytes(path, _csv(rows, COLUMNS))
    return path


def write_part(out: Path, rank: int, rows: list[tuple[int, dict]]) -> Path:
    """Rank ``rank``'s rows as ``(input position, row)`` pairs, for :func:`merge_parts`."""
    path = part_path(out, rank)
    atomic_write_bytes(path, _csv([dict(r, **{_ORDER: i}) for i, r in rows], (_ORDER,) + COLUMNS))
    return path


def merge_parts(out: Path, world: int) -> list[dict]:
    """Read the parts of ranks ``0..world-1``, write ``predictions.csv`` in input order, delete the parts; returns
    the rows. A missing part raises :class:`DataError` naming it (a rank that died)."""
    pairs = []
    for r in range(int(world)):
        p = part_path(out, r)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise DataError(f"the predictions of rank {r} are missing ({e.strerror or e}); did that process fail?",
                            file=p) from None
        pairs += [(int(row.pop(_ORDER)), row) for row in csv.DictReader(io.StringIO(text))]
    rows = [row for _, row in sorted(pairs, key=lambda t: t[0])]
    if rows:
        write_predictions(out, rows)
    for r in range(int(world)):
        try:
            part_path(out, r).unlink()
        except OSError:
            pass
    return rows
