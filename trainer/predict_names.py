"""The file names ``crack-train predict`` writes its masks under: one distinct name per input, never overwritten.

Inputs with distinct file stems keep today's flat names (``<stem>_mask.png``). When two inputs share a stem (the
same file name in two folders, ``x.png`` and ``x.jpg``, names differing only in case -- one file on Windows and
macOS disks), the input tree is mirrored below the output folder, relative to the inputs' deepest common folder
(``a/x_mask.png``, ``b/x_mask.png``); inputs that still collide keep their extension in the name
(``x_jpg_mask.png``), and anything left gets ``-2``, ``-3``... in input order. Names are relative POSIX paths
without ``..``; ``predictions.csv`` records each one next to its input.
"""
from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Sequence

MASK_SUFFIX = "_mask.png"
PROB_SUFFIX = "_prob.png"          # predict --probs: the 8-bit probability map beside each mask


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
    """The name of the probability map ``predict --probs`` writes beside the mask named ``mask_name``."""
    return mask_name[: -len(MASK_SUFFIX)] + PROB_SUFFIX
