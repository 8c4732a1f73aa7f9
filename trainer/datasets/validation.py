"""Decode every image and mask once (threaded) and list or raise the bad samples."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import os
from typing import Iterable, Sequence

import cv2

from trainer.datasets.images import _decode, _read_mask_gray
from trainer.datasets.records import SampleRecord
from trainer.errors import DataError


def _check_record(rec: SampleRecord):
    """None when fine, ``(file, reason)`` when bad, ``("warn", file, message)`` for a label/mask disagreement."""
    try:
        img = _decode(rec.image_path, cv2.IMREAD_COLOR)
        if rec.has_mask:
            m = _read_mask_gray(rec.mask_path, img.shape, image_path=rec.image_path)
            crack = bool((m > 127).any())
            if rec.label == 0 and crack:
                return ("warn", str(rec.mask_path),
                        f"sample {rec.name!r} is labelled crack-free but its mask has crack pixels; "
                        "it trains as crack-free with an all-zero mask")
            if rec.label == 1 and not crack:
                return ("warn", str(rec.mask_path),
                        f"sample {rec.name!r} is labelled crack but its mask is empty")
    except DataError as e:
        return (e.file or str(rec.image_path), _reason(e))
    return None


def _reason(e: DataError) -> str:
    msg = e.message
    if e.file and msg.startswith(f"{e.file}: "):
        msg = msg[len(e.file) + 2:]
    return msg


def _raise_bad(bad: Sequence[tuple[str, str]], what: str = "bad sample") -> None:
    if not bad:
        return
    file, reason = bad[0]
    more = ""
    if len(bad) > 1:
        shown = "; ".join(f"{f}: {r}" for f, r in bad[1:4])
        more = f" (and {len(bad) - 1} more {what}s: {shown}{'; ...' if len(bad) > 4 else ''})"
    raise DataError(f"{reason}{more}. Fix the file(s), or set skip_bad_samples = true to skip and list them",
                    file=file)


def _workers() -> int:
    return max(1, min(8, (os.cpu_count() or 2)))


def validate_records(records: Iterable[SampleRecord], skip_bad: bool = False, *, warnings: list | None = None,
                     workers: int | None = None) -> tuple[list[SampleRecord], list[tuple[str, str]]]:
    """Decode each image and mask once (threads) and check them.

    Bad: missing/unreadable/corrupt image or mask, a mask whose size (after EXIF orientation) differs from its
    image's. Returns ``(good_records, bad)`` with ``bad`` = ``[(file, reason)]``. Without ``skip_bad`` any bad
    sample raises one :class:`DataError` naming the first bad file (and counting the others). Label/mask
    disagreements (a crack-free sample whose mask has crack pixels, a crack with an empty mask) are not bad: they
    are appended to ``warnings`` when a list is given.
    """
    records = list(records)
    with ThreadPoolExecutor(max_workers=workers or _workers()) as pool:
        results = list(pool.map(_check_record, records))
    good, bad, warns = [], [], []
    for rec, res in zip(records, results):
        if res is None:
            good.append(rec)
        elif res[0] == "warn":
            good.append(rec)
            warns.append(f"{res[1]}: {res[2]}")
        else:
            bad.append(res)
    if bad and not skip_bad:
        _raise_bad(bad)
    if warnings is not None and warns:
        if len(warns) > 5:
            warnings.extend(warns[:5])
            warnings.append(f"... and {len(warns) - 5} more label/mask disagreements")
        else:
            warnings.extend(warns)
    return good, bad
