"""Decode every image and mask once (threaded) and list or raise the bad samples."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import os
from typing import Iterable, Sequence

import cv2

from trainer.datasets.images import _decode, check_mask_size
from trainer.datasets.maskcheck import DEFAULT_MASK_RULE, MASK_READ_FLAGS, binarise, check_mask
from trainer.datasets.records import SampleRecord
from trainer.errors import DataError
from trainer.limits import DEFAULT_MAX_MEGAPIXELS


def _check_record(rec: SampleRecord, rule: str = DEFAULT_MASK_RULE,
                  max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS):
    """None when fine, ``(file, reason)`` when bad, ``("warn", file, message)`` for a label/mask disagreement.
    A mask the rule misreads (0/1, 0/100, 16-bit, coloured) or a crack sample's empty mask is bad (maskcheck)."""
    try:
        img = _decode(rec.image_path, cv2.IMREAD_COLOR, max_megapixels)
        if rec.has_mask:
            raw = _decode(rec.mask_path, MASK_READ_FLAGS, max_megapixels)
            check_mask_size(raw, rec.mask_path, img.shape, image_path=rec.image_path)
            finding = check_mask(raw, rec.mask_path, positive=rec.label == 1, rule=rule)
            if finding is not None:
                return (finding.file, finding.reason)
            if rec.label == 0 and binarise(raw, rule).any():
                return ("warn", str(rec.mask_path),
                        f"sample {rec.name!r} is labelled crack-free but its mask has crack pixels; "
                        "it trains as crack-free with an all-zero mask")
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
                     workers: int | None = None, mask_rule: str = DEFAULT_MASK_RULE,
                     max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS
                     ) -> tuple[list[SampleRecord], list[tuple[str, str]]]:
    """Decode each image and mask once (threads) and check them.

    Bad: missing/unreadable/corrupt image or mask, a mask whose size (after EXIF orientation) differs from its
    image's, an image or mask over ``max_megapixels`` (from its header, before decoding), a mask that ``mask_rule``
    reads as (nearly) empty although it marks crack pixels (0/1, 0/100, 16-bit, coloured: the reason names the
    fix), a crack sample whose mask is empty. Returns ``(good_records, bad)`` with ``bad`` = ``[(file, reason)]``.
    Without ``skip_bad`` any bad sample raises one :class:`DataError` naming the first bad file (and counting the
    others). Label/mask disagreements (a crack-free sample whose mask has crack pixels) are not bad: they are
    appended to ``warnings`` when a list is given.
    """
    records = list(records)
    with ThreadPoolExecutor(max_workers=workers or _workers()) as pool:
        results = list(pool.map(lambda r: _check_record(r, mask_rule, max_megapixels), records))
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
