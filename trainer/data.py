"""Crack datasets on disk: layout detection, bad-input checks, mixed supervision and lazy loading.

Four layouts are read as they are (no conversion step); :func:`open_dataset` detects which one a folder holds.

``manifest`` (the layout of ``../shared/data/cracks`` and of :mod:`trainer.synthetic`)
    ``manifest.csv`` with the columns ``name,label`` and optionally ``split`` (other columns such as ``width``,
    ``height``, ``source`` are ignored), ``images/<name>.<ext>`` (any image extension: jpg, jpeg, png, bmp, tif,
    tiff, webp) and ``masks/<name>.png`` (other image extensions are accepted too). A name is a bare file stem: a
    name with a path in it (``../x``, ``a/b``, an absolute path) is refused. Without a ``split`` column every sample
    is in one split called ``"all"``, and :meth:`DatasetIndex.split` then returns all samples whatever split name
    is asked (so ``eval --split test`` evaluates the whole dataset).
    Missing mask path: ``masks/<name>.png``.

``khanhha`` (khanhha/crack_segmentation)
    ``{train,test}/images/<stem>.jpg`` and ``{train,test}/masks/<stem>.jpg`` (JPEG masks with compression noise;
    any image extension is accepted). Crack-free images are named ``noncrack_*`` (label 0); every other image is a
    crack (label 1). The layout has no val split: val is carved out of train (``val_fraction`` of each class,
    seeded, stratified by label). Missing mask path: ``<split>/masks/<stem>.png``.

``reference`` (the SegDecNet crack fork)
    ``{train,val,test}_{positive,negative}/<n>.jpg`` with ``<n>_GT.jpg``; the label comes from the folder.
    Sample names are ``<folder>_<n>`` (e.g. ``train_positive_12``) because the numeric stems repeat across
    folders. Missing mask path: ``<folder>/<n>_GT.png``.

``ksdd2`` (KolektorSDD2)
    ``{train,test}/<id>.png`` with ``<id>_GT.png``; label 1 when the mask has any pixel > 127 (so masks are
    decoded once at open time). Val is carved out of train like for khanhha. A KSDD2 image without a mask is a
    bad sample (its label cannot be known).

Label edits. khanhha and reference encode labels in file or folder names, so crackviewer's annotation tool records
a label change for them in ``<root>/.crackviewer/labels.json`` (``{"<name>": 0|1}``); :func:`open_dataset` applies it
(after carving val, so an edit does not move samples between train and val). Manifest labels are edited in
``manifest.csv``; KSDD2 labels are the masks.

In khanhha and ksdd2 layouts names are the file stems; if a stem occurs in both train and test, every name of the
dataset is prefixed with its split folder (``train_<stem>``). Names never contain a path separator, because they
name output files (``probs/<name>.png``).

Checks. :func:`open_dataset` checks structure only (folders, manifest columns and names, duplicates, that each
image file exists) and decodes nothing, except KSDD2 masks for their labels. :func:`validate_records` decodes every
image and mask once (threaded) and finds corrupt or unreadable files and masks whose size differs from their image
(sizes compared after EXIF orientation). The trainer calls it on the records it uses before training starts;
``open_dataset(..., validate=True)`` does the same for the whole index. With ``skip_bad`` a bad sample is dropped and
listed in ``bad`` as ``(file, reason)``; without it the first problem raises :class:`~trainer.errors.DataError`
(the message names the file, the problem, and how many more there are).

Mixed supervision. A positive without a mask file is weakly labelled (classification loss only). Of the positives
that have masks, :class:`CrackDataset` picks ``num_segmented`` (seeded; -1 = all) as segmented; the others are weak
too. Negatives are always segmented with an all-zero mask (their mask file, if any, is not read for training).

Loading. :class:`CrackDataset` keeps only the records; ``__getitem__`` decodes one image (EXIF orientation applied,
BGR converted to RGB: ``CHANNEL_ORDER = "RGB"``), resizes it to the input size with ``INTER_AREA``, reads its mask as
grayscale, dilates it (k x k ones kernel, before resizing, as the reference does), resizes it with ``INTER_AREA`` and
binarises it once (> 127) to {0, 1}, so JPEG noise never reaches the targets. Peak memory does not depend on the
number of images.
"""
from __future__ import annotations

import csv
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from trainer.datasets.maskcheck import DEFAULT_MASK_RULE, MASK_READ_FLAGS, binarise, check_mask, gray_for_rule
from trainer.errors import DataError
from trainer.limits import DEFAULT_MAX_MEGAPIXELS, check_image_megapixels

__all__ = [
    "IMAGE_EXTS", "CHANNEL_ORDER", "LAYOUTS", "SampleRecord", "DatasetIndex", "CrackDataset",
    "open_dataset", "read_image", "read_mask", "validate_records", "distance_weight", "detect_layout",
]

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
CHANNEL_ORDER = "RGB"
LAYOUTS = ("manifest", "khanhha", "reference", "ksdd2")
SPLIT_ORDER = ("train", "val", "test")
ALL_SPLIT = "all"

_REFERENCE_DIR = re.compile(r"^(train|val|test)_(positive|negative)$")
_LOOKED_FOR = (
    "looked for: manifest.csv with images/ and masks/ (manifest layout); train/images/ and test/images/ "
    "(khanhha layout); {train,val,test}_{positive,negative}/ (reference layout); train/ and test/ holding "
    "<id>.png with <id>_GT.png (KSDD2 layout)"
)


# --------------------------------------------------------------------------------------------------------------------
# records and the index

@dataclass(frozen=True)
class SampleRecord:
    name: str            # unique within the dataset (file stem, or split-prefixed if needed); never contains "/"
    image_path: Path
    mask_path: Path      # where the mask is, or where it WOULD be written in this layout (annotation writes here)
    has_mask: bool       # mask file exists
    label: int           # 1 crack, 0 crack-free
    split: str           # "train" | "val" | "test" | other name ("all" for a manifest without a split column)


def _split_sort_key(name: str):
    return (SPLIT_ORDER.index(name), "") if name in SPLIT_ORDER else (len(SPLIT_ORDER), name)


class DatasetIndex:
    """The whole dataset on disk; no pixels loaded.

    Attributes: ``root`` (Path), ``layout`` (one of :data:`LAYOUTS`), ``samples`` (list of :class:`SampleRecord`),
    ``bad`` (list of ``(file, reason)`` of skipped bad samples), ``warnings`` (list of str, e.g. one-class splits),
    ``single_split`` (True for a manifest without a split column: every sample is in split ``"all"``).
    """

    def __init__(self, root: Path, layout: str, samples: list[SampleRecord], bad=None, warnings=None,
                 single_split: bool = False):
        self.root = Path(root)
        self.layout = layout
        self.samples = list(samples)
        self.bad: list[tuple[str, str]] = list(bad or [])
        self.warnings: list[str] = list(warnings or [])
        self.single_split = single_split
        self._by_name = {s.name: s for s in self.samples}

    def __repr__(self) -> str:
        return f"DatasetIndex({str(self.root)!r}, layout={self.layout!r}, samples={len(self.samples)}, bad={len(self.bad)})"

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def splits(self) -> list[str]:
        """Split names present, in the order train, val, test, then others alphabetically."""
        return sorted({s.split for s in self.samples}, key=_split_sort_key)

    def split(self, name: str) -> list[SampleRecord]:
        """Records of split ``name``. A manifest without a split column has one split, ``"all"``, and returns it
        for any name. An unknown or empty split raises :class:`DataError` listing the available splits."""
        if self.single_split:
            recs = list(self.samples)
        else:
            recs = [s for s in self.samples if s.split == name]
        if not recs:
            avail = ", ".join(f"{k} ({v['positives'] + v['negatives']})" for k, v in self.counts().items()) or "none"
            raise DataError(f"split {name!r} is empty or does not exist in this {self.layout} dataset; "
                            f"available splits: {avail}", file=self.root)
        return recs

    def counts(self) -> dict:
        """``{split: {"positives", "negatives", "segmented", "weak"}}``; segmented = positives with a mask file,
        weak = positives without one."""
        out: dict[str, dict[str, int]] = {}
        for sp in self.splits:
            c = {"positives": 0, "negatives": 0, "segmented": 0, "weak": 0}
            for s in self.samples:
                if s.split != sp:
                    continue
                if s.label == 1:
                    c["positives"] += 1
                    c["segmented" if s.has_mask else "weak"] += 1
                else:
                    c["negatives"] += 1
            out[sp] = c
        return out

    def sample_by_name(self, name: str) -> SampleRecord:
        try:
            return self._by_name[name]
        except KeyError:
            raise DataError(f"no sample named {name!r} in this {self.layout} dataset", file=self.root) from None

    def validate(self, skip_bad: bool = False) -> list[tuple[str, str]]:
        """Decode every file once (see :func:`validate_records`); with ``skip_bad`` drop bad samples and add them to
        ``bad``. Returns the bad samples found by this call."""
        good, bad = validate_records(self.samples, skip_bad=skip_bad, warnings=self.warnings)
        self.samples = good
        self._by_name = {s.name: s for s in good}
        self.bad.extend(bad)
        return bad


# --------------------------------------------------------------------------------------------------------------------
# pixel reading

def _decode(path, flags: int, max_megapixels: float | None = None) -> np.ndarray:
    """Decode an image file; with ``max_megapixels`` its header size is checked first (nothing allocated)."""
    path = Path(path)
    if max_megapixels is not None:
        check_image_megapixels(path, max_megapixels)
    try:
        buf = np.fromfile(str(path), dtype=np.uint8)
    except FileNotFoundError:
        raise DataError("file not found", file=path) from None
    except IsADirectoryError:
        raise DataError("is a folder, not an image file", file=path) from None
    except OSError as e:
        raise DataError(f"cannot read file ({e.strerror or e})", file=path) from None
    if buf.size == 0:
        raise DataError("empty file (0 bytes), not an image", file=path)
    try:
        img = cv2.imdecode(buf, flags)
    except cv2.error:
        img = None
    if img is None or img.size == 0:
        raise DataError("corrupt or unsupported image: OpenCV cannot decode it", file=path)
    return img


def read_image(path, size=None, max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS) -> np.ndarray:
    """HxWx3 uint8 RGB with the EXIF orientation applied. ``size`` = (height, width) resizes with INTER_AREA.
    Raises :class:`DataError` naming the file when it is missing, unreadable, corrupt or over ``max_megapixels``
    (checked from the header, before decoding)."""
    img = _decode(path, cv2.IMREAD_COLOR, max_megapixels)  # IMREAD_COLOR applies the EXIF orientation (unlike IMREAD_UNCHANGED)
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if size is not None:
        h, w = int(size[0]), int(size[1])
        if img.shape[:2] != (h, w):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    return img


def _read_mask_gray(path, shape=None, image_path=None, rule: str = DEFAULT_MASK_RULE) -> np.ndarray:
    """8-bit grey mask that ``> 127`` binarises by ``rule`` (trainer.datasets.maskcheck), EXIF-oriented."""
    if rule == DEFAULT_MASK_RULE:
        m = _decode(path, cv2.IMREAD_GRAYSCALE)  # also EXIF-oriented, like its image
    else:
        m = gray_for_rule(_decode(path, MASK_READ_FLAGS), rule)
    _check_mask_size(m, path, shape, image_path)
    return m


def _check_mask_size(m: np.ndarray, path, shape=None, image_path=None) -> None:
    if shape is not None and m.shape[:2] != tuple(shape[:2]):
        what = f"its image {image_path}" if image_path is not None else "its image"
        raise DataError(f"mask size {m.shape[1]}x{m.shape[0]} (WxH) differs from {what} "
                        f"({shape[1]}x{shape[0]})", file=path)


def read_mask(path, shape=None, rule: str = DEFAULT_MASK_RULE) -> np.ndarray:
    """HxW uint8 in {0, 1}, binarised once (> 127, or by ``rule``), EXIF-oriented. ``shape`` = the image's
    (height, width[, c]): a mask of another size raises :class:`DataError` naming the mask file. ``shape=None``
    skips the check."""
    m = _read_mask_gray(path, shape, rule=rule)
    return (m > 127).astype(np.uint8)


def distance_weight(mask01: np.ndarray, p: float, max_value: float) -> np.ndarray:
    """Seg-loss weight of reference-model section 2.1 (first upstream release): on crack pixels the Euclidean
    distance to the background, normalised to max 1 over the whole image, raised to ``p`` and times
    ``max_value``; background pixels weight 1. An all-zero mask gives all ones."""
    w = np.ones(mask01.shape, np.float32)
    if not mask01.any():
        return w
    d = cv2.distanceTransform(mask01.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    d /= max(float(d.max()), 1e-12)
    fg = mask01 > 0
    w[fg] = (d[fg] ** float(p)) * float(max_value)
    return w


# --------------------------------------------------------------------------------------------------------------------
# validation (decode every file once)

def _check_record(rec: SampleRecord, rule: str = DEFAULT_MASK_RULE,
                  max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS):
    """None when fine, ``(file, reason)`` when bad, ``("warn", file, message)`` for a label/mask disagreement.
    A mask the rule misreads (0/1, 0/100, 16-bit, coloured) or a crack sample's empty mask is bad (maskcheck)."""
    try:
        img = _decode(rec.image_path, cv2.IMREAD_COLOR, max_megapixels)
        if rec.has_mask:
            raw = _decode(rec.mask_path, MASK_READ_FLAGS, max_megapixels)
            _check_mask_size(raw, rec.mask_path, img.shape, image_path=rec.image_path)
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
                     max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS) -> tuple[list[SampleRecord], list[tuple[str, str]]]:
    """Decode each image and mask once (threads) and check them.

    Bad: missing/unreadable/corrupt image or mask, a mask whose size (after EXIF orientation) differs from its
    image's, an image or mask over ``max_megapixels`` (from its header, before decoding), a mask that ``mask_rule`` reads as (nearly) empty although it marks crack pixels (0/1, 0/100,
    16-bit, coloured: the reason names the fix), a crack sample whose mask is empty. Returns ``(good_records, bad)`` with ``bad`` = ``[(file, reason)]``. Without ``skip_bad`` any bad
    sample raises one :class:`DataError` naming the first bad file (and counting the others). Label/mask
    disagreements (a crack-free sample whose mask has crack pixels) are not bad: they are appended to
    ``warnings`` when a list is given.
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


# --------------------------------------------------------------------------------------------------------------------
# layout readers

def _is_image(p: str) -> bool:
    return not p.startswith(".") and os.path.splitext(p)[1].lower() in IMAGE_EXTS


def _list_images(folder: Path) -> list[str]:
    try:
        with os.scandir(folder) as it:
            return sorted(e.name for e in it if e.is_file() and _is_image(e.name))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise DataError(f"cannot list folder ({e.strerror or e})", file=folder) from None


def _stem_map(names: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n in names:
        out.setdefault(os.path.splitext(n)[0], []).append(n)
    return out


def _pick_mask(cands: list[str] | None, prefer_ext: str = ".png") -> str | None:
    if not cands:
        return None
    for c in cands:
        if os.path.splitext(c)[1].lower() == prefer_ext:
            return c
    return sorted(cands)[0]


def detect_layout(root: Path) -> str:
    """Which layout the folder holds; :class:`DataError` when the folder is missing or holds none of them."""
    root = Path(root)
    if not root.exists():
        raise DataError("dataset folder does not exist", file=root)
    if not root.is_dir():
        raise DataError("not a folder (give the dataset folder, or its manifest.csv)", file=root)
    if (root / "manifest.csv").is_file():
        return "manifest"
    if (root / "train" / "images").is_dir() or (root / "test" / "images").is_dir():
        return "khanhha"
    try:
        entries = [e.name for e in os.scandir(root) if e.is_dir()]
    except OSError as e:
        raise DataError(f"cannot list folder ({e.strerror or e})", file=root) from None
    if any(_REFERENCE_DIR.match(n) for n in entries):
        return "reference"
    for sp in ("train", "test"):
        d = root / sp
        if d.is_dir() and any(os.path.splitext(n)[0].endswith("_GT") for n in _list_images(d)):
            return "ksdd2"
    hint = ""
    if (root / "images").is_dir():
        hint = " (it has images/ but no manifest.csv: add one with the columns name,label[,split])"
    raise DataError(f"not a crack dataset{hint}; {_LOOKED_FOR}", file=root)


_BAD_NAME_CHARS = re.compile(r"[/\\\x00]")


def _name_problem(name: str) -> str | None:
    if not name:
        return "empty name"
    if _BAD_NAME_CHARS.search(name) or os.path.isabs(name) or name in (".", "..") or re.match(r"^[A-Za-z]:", name):
        return f"name {name!r} has a path in it; names must be bare file stems found in images/"
    return None


def _parse_label(v: str) -> int | None:
    v = (v or "").strip().lower()
    if v in ("1", "1.0", "true", "yes", "crack", "positive"):
        return 1
    if v in ("0", "0.0", "false", "no", "noncrack", "negative"):
        return 0
    return None


def _read_manifest(root: Path, bad: list, warnings: list) -> tuple[list[SampleRecord], bool]:
    mpath = root / "manifest.csv"
    try:
        text = mpath.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError("not a UTF-8 text file; manifest.csv must be CSV with the columns name,label[,split]",
                        file=mpath) from None
    except OSError as e:
        raise DataError(f"cannot read ({e.strerror or e})", file=mpath) from None
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as e:
        raise DataError(f"not valid CSV ({e})", file=mpath) from None
    rows = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not rows:
        raise DataError("empty manifest; expected a header line name,label[,split] and one line per sample",
                        file=mpath)
    header = [h.strip().lower() for h in rows[0][1]]
    missing = [c for c in ("name", "label") if c not in header]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}; the header is {','.join(rows[0][1])!r} but "
                        "must hold name,label[,split]", file=mpath)
    ci = {c: header.index(c) for c in ("name", "label", "split") if c in header}
    has_split = "split" in ci
    images_dir, masks_dir = root / "images", root / "masks"
    if not images_dir.is_dir():
        raise DataError("images/ folder is missing (the manifest layout keeps images in images/<name>.<ext>)",
                        file=images_dir)
    if not masks_dir.is_dir():
        warnings.append(f"{masks_dir}: masks/ folder is missing; every positive is weakly labelled")
    img_map = _stem_map(_list_images(images_dir))
    img_files = set(n for v in img_map.values() for n in v)
    mask_map = _stem_map(_list_images(masks_dir))
    samples: list[SampleRecord] = []
    seen: dict[str, int] = {}
    for lineno, row in rows[1:]:
        row = row + [""] * (len(header) - len(row))
        name = row[ci["name"]].strip()
        where = f"line {lineno}"
        prob = _name_problem(name)
        if prob:
            bad.append((str(mpath), f"{where}: {prob}"))
            continue
        label = _parse_label(row[ci["label"]])
        if label is None:
            bad.append((str(mpath), f"{where}: label {row[ci['label']]!r} of {name!r} is not 0 or 1"))
            continue
        split = row[ci["split"]].strip() if has_split else ALL_SPLIT
        if not split:
            bad.append((str(mpath), f"{where}: sample {name!r} has an empty split"))
            continue
        if name in seen:
            bad.append((str(mpath), f"{where}: duplicate name {name!r} (first on line {seen[name]})"))
            continue
        seen[name] = lineno
        # the image: images/<name>.<ext>, or images/<name> when the name carries its extension
        cands = img_map.get(name, [])
        if not cands and name in img_files:
            cands = [name]
        if not cands:
            bad.append((str(images_dir / f"{name}.*"),
                        f"image file missing: no images/{name}.<{'|'.join(e[1:] for e in IMAGE_EXTS[:4])}|...> "
                        f"for manifest.csv {where}"))
            continue
        if len(cands) > 1:
            bad.append((str(images_dir / cands[0]),
                        f"ambiguous: several image files for {name!r} ({', '.join(cands)})"))
            continue
        stem = name if name in img_map else os.path.splitext(name)[0]
        mfile = _pick_mask(mask_map.get(stem))
        mask_path = masks_dir / (mfile or f"{stem}.png")
        samples.append(SampleRecord(name, images_dir / cands[0], mask_path, mfile is not None, label, split))
    return samples, not has_split


def _prefix_if_colliding(groups: list[tuple[str, list[tuple[str, ...]]]]) -> bool:
    stems: dict[str, int] = {}
    for _, items in groups:
        for it in items:
            stems[it[0]] = stems.get(it[0], 0) + 1
    return any(v > 1 for v in stems.values())


def _read_khanhha(root: Path, bad: list, warnings: list) -> list[SampleRecord]:
    groups = []
    for sp in ("train", "test"):
        idir, mdir = root / sp / "images", root / sp / "masks"
        if not idir.is_dir():
            if (root / sp).is_dir():
                warnings.append(f"{idir}: folder missing, split {sp!r} is empty")
            continue
        if not mdir.is_dir():
            warnings.append(f"{mdir}: masks folder missing; every crack image of {sp!r} is weakly labelled")
        mask_map = _stem_map(_list_images(mdir))
        items = []
        for fname in _list_images(idir):
            stem = os.path.splitext(fname)[0]
            ext = os.path.splitext(fname)[1].lower()
            items.append((stem, fname, _pick_mask(mask_map.get(stem), prefer_ext=ext)))
        groups.append((sp, items))
    prefix = _prefix_if_colliding(groups)
    samples = []
    for sp, items in groups:
        idir, mdir = root / sp / "images", root / sp / "masks"
        for stem, fname, mfile in items:
            label = 0 if stem.lower().startswith("noncrack") else 1
            name = f"{sp}_{stem}" if prefix else stem
            samples.append(SampleRecord(name, idir / fname, mdir / (mfile or f"{stem}.png"), mfile is not None,
                                        label, sp))
    return samples


def _read_reference(root: Path, bad: list, warnings: list) -> list[SampleRecord]:
    samples = []
    folders = sorted((n for n in os.listdir(root) if _REFERENCE_DIR.match(n) and (root / n).is_dir()),
                     key=lambda n: (_split_sort_key(n.split("_")[0]), n))
    for folder in folders:
        sp, kind = _REFERENCE_DIR.match(folder).groups()
        label = 1 if kind == "positive" else 0
        files = _list_images(root / folder)
        masks = _stem_map(f for f in files if os.path.splitext(f)[0].endswith("_GT"))
        for fname in files:
            stem, ext = os.path.splitext(fname)
            if stem.endswith("_GT"):
                continue
            mfile = _pick_mask(masks.get(f"{stem}_GT"), prefer_ext=ext.lower())
            samples.append(SampleRecord(f"{folder}_{stem}", root / folder / fname,
                                        root / folder / (mfile or f"{stem}_GT.png"), mfile is not None, label, sp))
        orphans = set(masks) - {f"{os.path.splitext(f)[0]}_GT" for f in files}
        for o in sorted(orphans):
            warnings.append(f"{root / folder / masks[o][0]}: mask without an image (ignored)")
    return samples


def _ksdd2_label(path: Path):
    try:
        return int(bool((_decode(path, cv2.IMREAD_GRAYSCALE) > 127).any())), None
    except DataError as e:
        return None, _reason(e)


def _read_ksdd2(root: Path, bad: list, warnings: list) -> list[SampleRecord]:
    groups = []
    for sp in ("train", "test"):
        d = root / sp
        if not d.is_dir():
            continue
        files = _list_images(d)
        masks = _stem_map(f for f in files if os.path.splitext(f)[0].endswith("_GT"))
        items = []
        for fname in files:
            stem, ext = os.path.splitext(fname)
            if stem.endswith("_GT"):
                continue
            items.append((stem, fname, _pick_mask(masks.get(f"{stem}_GT"), prefer_ext=ext.lower())))
        groups.append((sp, items))
    prefix = _prefix_if_colliding(groups)
    todo = []
    for sp, items in groups:
        for stem, fname, mfile in items:
            if mfile is None:
                bad.append((str(root / sp / fname), f"no mask {stem}_GT.png: in the KSDD2 layout the label comes "
                                                    "from the mask"))
                continue
            todo.append((sp, stem, fname, mfile))
    with ThreadPoolExecutor(max_workers=_workers()) as pool:
        labels = list(pool.map(lambda t: _ksdd2_label(root / t[0] / t[3]), todo))
    samples = []
    for (sp, stem, fname, mfile), (label, err) in zip(todo, labels):
        if label is None:
            bad.append((str(root / sp / mfile), err))
            continue
        samples.append(SampleRecord(f"{sp}_{stem}" if prefix else stem, root / sp / fname, root / sp / mfile,
                                    True, label, sp))
    return samples


def _carve_val(samples: list[SampleRecord], val_fraction: float, seed: int) -> list[SampleRecord]:
    """Move ``val_fraction`` of each class of train to val (seeded, independent of listing order)."""
    if val_fraction <= 0 or any(s.split == "val" for s in samples):
        return samples
    if val_fraction >= 1:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    train = sorted((s for s in samples if s.split == "train"), key=lambda s: s.name)
    to_val: set[str] = set()
    rng = np.random.default_rng(seed)
    for label in (0, 1):
        names = [s.name for s in train if s.label == label]
        if len(names) < 2:
            continue
        k = int(round(len(names) * val_fraction))
        k = min(max(k, 1), len(names) - 1)
        perm = rng.permutation(len(names))
        to_val.update(names[i] for i in perm[:k])
    out = []
    for s in samples:
        if s.name in to_val:
            s = SampleRecord(s.name, s.image_path, s.mask_path, s.has_mask, s.label, "val")
        out.append(s)
    return out


LABEL_OVERRIDES = Path(".crackviewer") / "labels.json"


def _apply_label_overrides(root: Path, samples: list[SampleRecord], warnings: list) -> list[SampleRecord]:
    """khanhha and reference encode labels in file/folder names; crackviewer's annotation tool records label
    changes for them in ``<root>/.crackviewer/labels.json`` (``{"<name>": 0|1}``) instead of renaming files."""
    path = root / LABEL_OVERRIDES
    if not path.is_file():
        return samples
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DataError(f"cannot read the label overrides ({e})", file=path) from None
    if not isinstance(data, dict) or any(v not in (0, 1) or isinstance(v, bool) for v in data.values()):
        raise DataError("label overrides must be a JSON object {\"<sample name>\": 0 or 1}", file=path)
    names = {s.name for s in samples}
    unknown = sorted(set(data) - names)
    if unknown:
        warnings.append(f"{path}: {len(unknown)} label override(s) name no sample of this dataset "
                        f"(ignored): {', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}")
    return [SampleRecord(s.name, s.image_path, s.mask_path, s.has_mask, int(data[s.name]), s.split)
            if s.name in data else s for s in samples]


def open_dataset(path, *, val_fraction: float = 0.15, seed: int = 1337, skip_bad: bool = False,
                 validate: bool = False) -> DatasetIndex:
    """Open a dataset folder (or its ``manifest.csv``) and detect its layout (see the module docstring).

    Structural problems raise :class:`DataError` (missing folder, not a dataset, manifest without the name/label
    columns). Per-sample problems (a name with a path in it, a duplicate name, a missing image file, an invalid
    label) raise too, unless ``skip_bad``: then the sample is dropped and listed in ``bad``. Nothing is decoded
    (except KSDD2 masks, which give the labels) unless ``validate=True``, which also decodes every image and mask
    (:func:`validate_records`). Khanhha and KSDD2 get a val split carved from train (``val_fraction`` of each
    class, seeded); a split holding one class only adds a message to ``warnings``.
    """
    root = Path(path)
    if root.name == "manifest.csv" and root.is_file():
        root = root.parent
    layout = detect_layout(root)
    bad: list[tuple[str, str]] = []
    warnings: list[str] = []
    single = False
    if layout == "manifest":
        samples, single = _read_manifest(root, bad, warnings)
    elif layout == "khanhha":
        samples = _read_khanhha(root, bad, warnings)
    elif layout == "reference":
        samples = _read_reference(root, bad, warnings)
    else:
        samples = _read_ksdd2(root, bad, warnings)
    if bad and not skip_bad:
        _raise_bad(bad)
    if validate:
        samples, vbad = validate_records(samples, skip_bad=skip_bad, warnings=warnings)
        bad.extend(vbad)
    if layout in ("khanhha", "ksdd2"):
        samples = _carve_val(samples, val_fraction, seed)
        order = {sp: i for i, sp in enumerate(SPLIT_ORDER)}
        samples.sort(key=lambda s: (order.get(s.split, 9), s.name))
    if layout in ("khanhha", "reference"):
        samples = _apply_label_overrides(root, samples, warnings)  # after the val carve: edits do not move samples
    if not samples:
        raise DataError(f"no usable samples in this {layout} dataset"
                        + (f" ({len(bad)} bad samples skipped)" if bad else ""), file=root)
    index = DatasetIndex(root, layout, samples, bad, warnings, single_split=single)
    for sp, c in index.counts().items():
        if c["positives"] == 0 or c["negatives"] == 0:
            only = "crack (positive)" if c["negatives"] == 0 else "crack-free (negative)"
            index.warnings.append(f"split {sp!r} holds {only} images only ({c['positives'] + c['negatives']}); "
                                  "AUC and AP are undefined on it")
    return index


# --------------------------------------------------------------------------------------------------------------------
# the torch dataset

class CrackDataset(Dataset):
    """Lazy torch dataset over records: nothing is read in ``__init__``.

    ``input_hw`` = (height, width). ``dilate`` > 1 dilates masks with a k x k ones kernel before resizing.
    ``num_segmented``: how many positives with masks get the segmentation loss (-1 = all; picked with ``seed``
    independently of record order; applies only when ``train=True`` -- for evaluation every positive with a mask is
    segmented). ``weighted`` = ``(p, max)`` gives distance-transform seg-loss weights (:func:`distance_weight`),
    ``None`` all ones.

    Items: ``dict(image=float32 [3,H,W] RGB in [0,1], mask=float32 [1,H,W] in {0,1}, seg_weight=float32 [1,H,W],
    is_segmented=bool tensor, label=float32 tensor, index=int)``. Weak positives get an all-zero mask (the trainer
    masks their seg loss out); negatives an all-zero mask.
    """

    channel_order = CHANNEL_ORDER

    def __init__(self, records, input_hw, dilate: int = 1, num_segmented: int = -1, seed: int = 1337,
                 weighted=None, train: bool = True, mask_rule: str = DEFAULT_MASK_RULE):
        self.mask_rule = mask_rule
        self.records: list[SampleRecord] = list(records)
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        if self.input_hw[0] < 1 or self.input_hw[1] < 1:
            raise DataError(f"input size must be positive, got {input_hw}")
        self.dilate = int(dilate)
        self.weighted = None if weighted in (None, False) else (float(weighted[0]), float(weighted[1]))
        self.train = bool(train)
        self.warnings: list[str] = []
        self.labels = np.array([r.label for r in self.records], dtype=np.int64)
        seg = np.array([r.label == 0 or r.has_mask for r in self.records], dtype=bool)
        cand = [i for i, r in enumerate(self.records) if r.label == 1 and r.has_mask]
        n = len(cand) if (num_segmented is None or num_segmented < 0 or not self.train) else int(num_segmented)
        if n < len(cand):
            cand_sorted = sorted(cand, key=lambda i: self.records[i].name)
            perm = np.random.default_rng(seed).permutation(len(cand_sorted))
            keep = {cand_sorted[j] for j in perm[:n]}
            for i in cand:
                seg[i] = i in keep
        elif self.train and num_segmented is not None and num_segmented > len(cand):
            self.warnings.append(f"num_segmented = {num_segmented} but only {len(cand)} positives have masks; "
                                 "all of them are segmented")
        self.is_segmented = seg

    def __len__(self) -> int:
        return len(self.records)

    def load_mask(self, i: int, image_shape) -> np.ndarray:
        """The binarised {0,1} uint8 mask of sample i at input size (zeros for negatives and weak positives)."""
        h, w = self.input_hw
        rec = self.records[i]
        if rec.label == 0 or not self.is_segmented[i]:
            return np.zeros((h, w), np.uint8)
        m = _read_mask_gray(rec.mask_path, image_shape, image_path=rec.image_path, rule=self.mask_rule)
        if self.dilate > 1:
            m = cv2.dilate(m, np.ones((self.dilate, self.dilate), np.uint8))
        if m.shape[:2] != (h, w):
            m = cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA)
        return (m > 127).astype(np.uint8)

    def __getitem__(self, i: int) -> dict:
        i = int(i)
        rec = self.records[i]
        h, w = self.input_hw
        raw = _decode(rec.image_path, cv2.IMREAD_COLOR)
        shape = raw.shape
        img = cv2.cvtColor(raw, cv2.COLOR_BGR2RGB)
        if img.shape[:2] != (h, w):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        mask = self.load_mask(i, shape)
        if self.weighted is not None and rec.label == 1 and self.is_segmented[i]:
            weight = distance_weight(mask, *self.weighted)
        else:
            weight = np.ones((h, w), np.float32)
        image = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div_(255.0)
        return {
            "image": image,
            "mask": torch.from_numpy(mask.astype(np.float32))[None],
            "seg_weight": torch.from_numpy(weight)[None],
            "is_segmented": torch.tensor(bool(self.is_segmented[i])),
            "label": torch.tensor(float(rec.label), dtype=torch.float32),
            "index": i,
        }
