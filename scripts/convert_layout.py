#!/usr/bin/env python3
"""Convert a crack dataset into another on-disk layout (to check that every layout trains the same way).

    python scripts/convert_layout.py SRC OUT --layout khanhha|reference|ksdd2|manifest [--image-format keep|jpg|png]

SRC is any dataset :func:`trainer.datasets.layouts.open_dataset` reads (normally a manifest dataset such as
``../shared/data/cracks``); OUT must be a new or empty folder.

- ``khanhha``: ``{train,test}/{images,masks}/<stem>.jpg``; masks are written as JPEG (quality 95), so they carry
  compression noise like the real khanhha data; crack-free images get the ``noncrack_`` prefix; train and val (and
  any other split) go into train, test into test.
- ``reference``: ``{train,val,test}_{positive,negative}/<n>.jpg`` with ``<n>_GT.jpg`` (JPEG masks), numbered 1..N
  per folder in name order; splits other than train/val/test go into train.
- ``ksdd2``: ``{train,test}/<id>.png`` with ``<id>_GT.png`` (ids from 10000 up); val goes into train. The layout
  takes labels from masks, so a crack image without a mask cannot be written and is skipped (listed).
- ``manifest``: ``images/<name><ext>``, ``masks/<name>.png``, ``manifest.csv`` (name,label,split).

Crack-free images without a mask file get an all-zero mask in khanhha, reference and ksdd2 (those layouts have
one for every image); crack images without a mask (weakly labelled) get none. Images are copied byte for byte when
their format already fits, otherwise re-encoded (JPEG quality 95 / PNG). ``conversion.csv`` in OUT maps each new
sample name (as ``open_dataset`` will name it) to its source name.
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from trainer.datasets.layouts import open_dataset  # noqa: E402
from trainer.datasets.images import read_image, read_mask  # noqa: E402
from trainer.errors import DataError  # noqa: E402

LAYOUT_CHOICES = ("khanhha", "reference", "ksdd2", "manifest")
_DEFAULT_FORMAT = {"khanhha": "jpg", "reference": "jpg", "ksdd2": "png", "manifest": "keep"}


def _write(path: Path, arr: np.ndarray, quality: int = 95) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ext = path.suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext in (".jpg", ".jpeg") else []
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), arr, params):
        raise DataError("cannot write file", file=path)


def _put_image(src: Path, dst_no_ext: Path, fmt: str, quality: int) -> Path:
    """Copy (when the format fits) or re-encode the image; returns the written path."""
    src_ext = src.suffix.lower()
    if fmt == "keep":
        ext = src_ext
    else:
        ext = "." + fmt
    dst = dst_no_ext.with_name(dst_no_ext.name + ext)
    dst.parent.mkdir(parents=True, exist_ok=True)
    same = src_ext == ext or (ext == ".jpg" and src_ext == ".jpeg")
    if same:
        shutil.copyfile(src, dst)
    else:
        _write(dst, read_image(src), quality)
    return dst


def _mask_for(rec, need_zero: bool):
    """(mask 0/255 uint8 or None). Negatives always get an all-zero mask when ``need_zero``."""
    if rec.label == 0:
        if not need_zero:
            return None
        h, w = read_image(rec.image_path).shape[:2]
        return np.zeros((h, w), np.uint8)
    if not rec.has_mask:
        return None
    shape = read_image(rec.image_path).shape
    return read_mask(rec.mask_path, shape) * np.uint8(255)


def _prepare(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise DataError("exists and is not a folder", file=out)
        if any(out.iterdir()):
            raise DataError("output folder is not empty; give a new or empty folder", file=out)
    out.mkdir(parents=True, exist_ok=True)


def convert_dataset(src, out, layout: str, *, image_format: str | None = None, quality: int = 95) -> dict:
    """Convert the dataset at ``src`` into ``layout`` under ``out``.

    Returns ``{"layout", "out", "written": n, "skipped": [(source name, reason)], "mapping": [(new, source)]}``.
    """
    if layout not in LAYOUT_CHOICES:
        raise DataError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUT_CHOICES)}")
    fmt = image_format or _DEFAULT_FORMAT[layout]
    if fmt not in ("keep", "jpg", "png"):
        raise DataError(f"unknown image format {fmt!r}; choose keep, jpg or png")
    index = open_dataset(src)
    out = Path(out)
    _prepare(out)
    samples = sorted(index.samples, key=lambda r: r.name)
    mapping: list[tuple[str, str, str, int]] = []  # new name, source name, new split, label
    skipped: list[tuple[str, str]] = []

    if layout == "manifest":
        rows = []
        for r in samples:
            _put_image(r.image_path, out / "images" / r.name, fmt, quality)
            m = read_mask(r.mask_path) * np.uint8(255) if r.has_mask else None
            if m is not None:
                _write(out / "masks" / f"{r.name}.png", m)
            (out / "masks").mkdir(exist_ok=True)
            rows.append((r.name, r.label, r.split))
            mapping.append((r.name, r.name, r.split, r.label))
        with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["name", "label", "split"])
            w.writerows(rows)

    elif layout == "khanhha":
        for r in samples:
            split = "test" if r.split == "test" else "train"
            stem = r.name
            if r.label == 0 and not stem.lower().startswith("noncrack"):
                stem = f"noncrack_{stem}"
            if r.label == 1 and stem.lower().startswith("noncrack"):
                raise DataError(f"crack sample {r.name!r} starts with 'noncrack', which the khanhha layout reads "
                                "as crack-free; rename it first", file=r.image_path)
            _put_image(r.image_path, out / split / "images" / stem, fmt, quality)
            m = _mask_for(r, need_zero=True)
            if m is not None:
                _write(out / split / "masks" / f"{stem}.jpg", m, quality)
            (out / split / "masks").mkdir(parents=True, exist_ok=True)
            mapping.append((stem, r.name, split, r.label))
        if len({m[0] for m in mapping}) != len(mapping):
            raise DataError("two samples map to the same khanhha file name", file=out)

    elif layout == "reference":
        counters: dict[str, int] = {}
        for r in samples:
            split = r.split if r.split in ("train", "val", "test") else "train"
            folder = f"{split}_{'positive' if r.label == 1 else 'negative'}"
            n = counters[folder] = counters.get(folder, 0) + 1
            _put_image(r.image_path, out / folder / str(n), fmt, quality)
            m = _mask_for(r, need_zero=True)
            if m is not None:
                _write(out / folder / f"{n}_GT.jpg", m, quality)
            mapping.append((f"{folder}_{n}", r.name, split, r.label))

    else:  # ksdd2
        next_id = 10000
        for r in samples:
            split = "test" if r.split == "test" else "train"
            m = _mask_for(r, need_zero=True)
            if m is None:
                skipped.append((r.name, "crack image without a mask: KSDD2 takes labels from masks"))
                continue
            if r.label == 1 and not m.any():
                skipped.append((r.name, "crack image with an empty mask: KSDD2 would read it as crack-free"))
                continue
            sid = str(next_id)
            next_id += 1
            _put_image(r.image_path, out / split / sid, fmt, quality)
            _write(out / split / f"{sid}_GT.png", m)
            mapping.append((sid, r.name, split, r.label))

    with open(out / "conversion.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["name", "source_name", "split", "label"])
        w.writerows(mapping)
    return {"layout": layout, "out": out, "written": len(mapping), "skipped": skipped,
            "mapping": [(a, b) for a, b, _, _ in mapping]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="source dataset folder (any layout open_dataset reads; normally a manifest dataset)")
    ap.add_argument("out", help="output folder (new or empty)")
    ap.add_argument("--layout", required=True, choices=LAYOUT_CHOICES)
    ap.add_argument("--image-format", choices=("keep", "jpg", "png"), default=None,
                    help="image file format (default: jpg for khanhha/reference, png for ksdd2, keep for manifest)")
    ap.add_argument("--quality", type=int, default=95, help="JPEG quality for re-encoded images and JPEG masks")
    a = ap.parse_args(argv)
    try:
        res = convert_dataset(a.src, a.out, a.layout, image_format=a.image_format, quality=a.quality)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {res['written']} samples in the {res['layout']} layout to {res['out']}")
    for name, why in res["skipped"]:
        print(f"skipped {name}: {why}")
    idx = open_dataset(res["out"])
    for sp, c in idx.counts().items():
        print(f"  {sp}: {c['positives']} crack ({c['segmented']} with masks), {c['negatives']} crack-free")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
