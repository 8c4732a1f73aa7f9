"""Mask sanity: find masks that the trainer would read as (nearly) empty, and read masks by a chosen rule.

Masks are meant to hold 0 (background) and 255 (crack), 8-bit, one channel. Common other ways to store them:
0/1 or 0/100 (8-bit), 0/1 in 16 bits, a coloured crack on black (red-on-black RGB). The default ``threshold``
rule (any value > 127 after OpenCV's grey conversion -- what the trainer always did) reads all of these as
**empty**, so a run trains on empty targets and reports a perfect Dice. Two rules, the config key ``mask_rule``:

* ``threshold`` (default): the 8-bit grey value > 127 (16-bit values are shifted down to 8 bits, colour converted
  with OpenCV's BGR->grey weights, as ``cv2.IMREAD_GRAYSCALE`` does). Safe for JPEG masks (their noise stays 0).
* ``nonzero``: any value > 0, in any channel. For lossless masks stored as 0/1, 0/100, 16-bit or coloured.

:func:`check_mask` compares what a mask holds with what the rule reads from it. "Crack pixels the file means" are
pixels whose largest channel value is above half of the file's largest value (robust to JPEG noise, which is
small). A ``format`` finding: under the ``threshold`` rule the mask reads as less than half of those pixels (the
fix: ``mask_rule = "nonzero"``, or re-save the masks as 0/255). An ``empty`` finding: a crack sample whose mask
has no crack pixel at all under the rule in force.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from trainer.datasets.decode import decode_file
from trainer.errors import ConfigError, DataError
from trainer.schema import KEYS

MASK_RULES = KEYS["mask_rule"].choices
DEFAULT_MASK_RULE = KEYS["mask_rule"].default
# how mask files are decoded for checking and for the "nonzero" rule: keep 16 bits and colour, apply EXIF orientation
MASK_READ_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
FORMAT_FIX = 'set mask_rule = "nonzero" (any value above 0 is crack), or re-save the masks as 0/255'
EMPTY_FIX = ("paint its crack, or delete the empty mask file so the sample trains as a weakly labelled crack "
             "(classification only)")


def check_rule(rule: str) -> str:
    if rule not in MASK_RULES:
        raise ConfigError(f"mask_rule = {rule!r}: choose one of {', '.join(MASK_RULES)}")
    return rule


def to_gray8(mask: np.ndarray) -> np.ndarray:
    """The 8-bit grey image ``cv2.IMREAD_GRAYSCALE`` would give for a mask decoded with :data:`MASK_READ_FLAGS`."""
    m = np.asarray(mask)
    if m.dtype == bool:
        m = m.astype(np.uint8) * np.uint8(255)
    elif m.dtype == np.uint16:
        m = (m >> 8).astype(np.uint8)
    elif m.dtype != np.uint8:
        m = np.clip(m, 0, 255).astype(np.uint8)
    if m.ndim == 3:
        if m.shape[2] == 1:
            m = m[:, :, 0]
        else:
            m = cv2.cvtColor(np.ascontiguousarray(m), cv2.COLOR_BGRA2GRAY if m.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    return m


def _channel_max(mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask)
    return m.max(axis=2) if m.ndim == 3 else m


def binarise(mask: np.ndarray, rule: str = DEFAULT_MASK_RULE) -> np.ndarray:
    """HxW uint8 {0, 1} crack pixels of ``mask`` (HxW or HxWxC, uint8/uint16/bool) under ``rule``."""
    if check_rule(rule) == "nonzero":
        return (_channel_max(mask) > 0).astype(np.uint8)
    return (to_gray8(mask) > 127).astype(np.uint8)


def gray_for_rule(mask: np.ndarray, rule: str) -> np.ndarray:
    """An 8-bit grey mask that ``> 127`` reads as the rule says (for resizing before binarising)."""
    if check_rule(rule) == "nonzero":
        return binarise(mask, rule) * np.uint8(255)
    return to_gray8(mask)


@dataclass(frozen=True)
class MaskFinding:
    file: str
    kind: str            # "format" (values the rule reads as much less than they mean) or "empty"
    reason: str          # what is wrong and the fix, without the file name

    @property
    def message(self) -> str:
        return f"{self.file}: {self.reason}"


def describe_values(mask: np.ndarray) -> str:
    m = np.asarray(mask)
    bits = {np.dtype(np.uint16): "16-bit ", np.dtype(bool): "boolean "}.get(m.dtype, "")
    colour = "colour " if m.ndim == 3 and m.shape[2] > 1 else ""
    if colour:
        per = [int(m[:, :, c].max()) for c in range(m.shape[2])]
        names = ("blue", "green", "red", "alpha")[:len(per)]
        return f"{bits}{colour}mask, channel maxima " + ", ".join(f"{n} {v}" for n, v in zip(names, per))
    vals = np.unique(m)
    shown = ", ".join(str(int(v)) for v in vals[:4]) + (", ..." if len(vals) > 4 else "")
    return f"{bits}mask with values {shown}"


def check_mask(mask: np.ndarray, file: str | os.PathLike, *, positive: bool = True,
               rule: str = DEFAULT_MASK_RULE) -> MaskFinding | None:
    """A :class:`MaskFinding` when ``mask`` (decoded with :data:`MASK_READ_FLAGS`) is misread or empty, else None."""
    check_rule(rule)
    cmax = _channel_max(mask)
    top = int(cmax.max()) if cmax.size else 0
    meant = int(np.count_nonzero(cmax > top / 2)) if top > 0 else 0
    if rule == "threshold" and meant > 0:
        read = int(np.count_nonzero(binarise(mask, "threshold")))
        if read < meant / 2:
            return MaskFinding(str(file), "format",
                               f"{describe_values(mask)}: the threshold rule (> 127) reads {read} crack pixels "
                               f"where the file marks {meant}; {FORMAT_FIX}")
    if positive and not binarise(mask, rule).any():
        return MaskFinding(str(file), "empty", f"the sample is labelled crack but its mask is empty "
                                               f"({describe_values(mask)}); {EMPTY_FIX}")
    return None


def read_mask_raw(path: str | os.PathLike) -> np.ndarray:
    """Decode a mask file keeping its depth and colour (raises DataError naming the file)."""
    return decode_file(path, MASK_READ_FLAGS)


def check_mask_files(items: Iterable[tuple[str | os.PathLike, int]], rule: str = DEFAULT_MASK_RULE,
                     workers: int = 4) -> list[MaskFinding]:
    """Findings for ``(mask_file, label)`` pairs, in order (files that cannot be read are a DataError)."""
    items = list(items)

    def one(item):
        path, label = item
        return check_mask(read_mask_raw(path), path, positive=bool(label), rule=rule)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return [f for f in pool.map(one, items) if f is not None]


def findings_error(findings: list[MaskFinding]) -> DataError | None:
    """One DataError naming the files (the first five) and the fix, or None when there is nothing to say."""
    if not findings:
        return None
    first = findings[0]
    rest = ""
    if len(findings) > 1:
        names = ", ".join(Path(f.file).name for f in findings[1:5]) + (", ..." if len(findings) > 5 else "")
        rest = f" (and {len(findings) - 1} more masks: {names})"
    return DataError(f"{first.reason}{rest}", file=first.file)
