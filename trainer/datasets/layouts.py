"""The four dataset layouts (manifest, khanhha, reference, ksdd2): detection, reading, val carve-out, label overrides, open_dataset."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import csv
import json
import os
from pathlib import Path
import re
from typing import Iterable

import cv2
import numpy as np

from trainer.datasets.images import _decode
from trainer.datasets.index import DatasetIndex
from trainer.datasets.records import (ALL_SPLIT, IMAGE_EXTS, MANIFEST, SPLIT_ORDER, _LOOKED_FOR, _REFERENCE_DIR,
                                      SampleRecord, _split_sort_key)
from trainer.datasets.validation import _raise_bad, _reason, _workers, validate_records
from trainer.errors import DataError


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
    if (root / MANIFEST).is_file():
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


def manifest_rows(mpath: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(lower-cased header, [(line number, cells)]) of a manifest.csv; blank lines skipped. DataError naming the
    file when it is unreadable, not UTF-8 or not CSV; ``([], [])`` when empty."""
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
        return [], []
    return [h.strip().lower() for h in rows[0][1]], [(n, r + [""] * (len(rows[0][1]) - len(r))) for n, r in rows[1:]]


def manifest_column(root: str | Path, column: str) -> dict[str, tuple[int, str]]:
    """name -> (line number, stripped cell) of an extra ``column`` of a dataset's manifest.csv (e.g. ``mm_per_px``);
    {} when the dataset has no manifest or the manifest no such column."""
    mpath = Path(root) / MANIFEST
    if not mpath.is_file():
        return {}
    header, rows = manifest_rows(mpath)
    if column not in header:
        return {}
    if "name" not in header:
        raise DataError(f"has a {column} column but no name column", file=mpath)
    ni, ci = header.index("name"), header.index(column)
    return {r[ni].strip(): (n, r[ci].strip()) for n, r in rows}


def _read_manifest(root: Path, bad: list, warnings: list) -> tuple[list[SampleRecord], bool]:
    mpath = root / MANIFEST
    header, rows = manifest_rows(mpath)
    if not header:
        raise DataError("empty manifest; expected a header line name,label[,split] and one line per sample",
                        file=mpath)
    missing = [c for c in ("name", "label") if c not in header]
    if missing:
        raise DataError(f"missing column(s) {', '.join(missing)}; the header is {','.join(header)!r} but "
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
    for lineno, row in rows:
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
    if root.name == MANIFEST and root.is_file():
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
