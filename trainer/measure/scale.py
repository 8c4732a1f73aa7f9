"""Millimetres per pixel, per dataset or per image.

Where a sample's scale comes from, first match wins:

1. its entry in ``images`` of ``scale.json`` beside the dataset (in its root folder)::

       {"mm_per_px": 0.1, "images": {"cfd_001": 0.08}}

   (keys: a sample name, or an image file name or stem; both keys of the file are optional);
2. its cell in a ``mm_per_px`` column of the dataset's ``manifest.csv`` (found by its header name; an empty cell
   means "no scale for this sample");
3. a scale given on the command line (``--scale``): it overrides the dataset default below;
4. ``mm_per_px`` of ``scale.json`` (the dataset default).

Every value must be a finite number > 0; otherwise a ``DataError`` names the file (and line or key). Without any
scale, measurements stay in pixels and every output says unit ``px``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from trainer.atomic import atomic_write_text
from trainer.datasets.layouts import manifest_column
from trainer.datasets.records import MANIFEST
from trainer.errors import DataError

__all__ = ["Scale", "load_scale", "save_scale", "scale_from_line", "SCALE_FILE", "MANIFEST_COLUMN", "UNIT_MM", "UNIT_PX"]

SCALE_FILE = "scale.json"
MANIFEST_COLUMN = "mm_per_px"
UNIT_MM = "mm"
UNIT_PX = "px"


def _valid(value, where: str, file) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: mm_per_px {value!r} is not a number", file=file) from None
    if isinstance(value, bool) or not math.isfinite(v) or v <= 0:
        raise DataError(f"{where}: mm_per_px {value!r} must be a finite number greater than 0", file=file)
    return v


@dataclass
class Scale:
    """Scale lookup: ``mm_per_px(name)`` gives a sample's millimetres per pixel, or None (measure in pixels)."""
    default: float | None = None
    images: dict[str, float] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    _stems: dict[str, float] = field(default_factory=dict, repr=False, compare=False)

    def mm_per_px(self, name: str) -> float | None:
        """The sample's own scale (matched by name, file name or stem, either side), else the default."""
        name = str(name)
        for key in (name, Path(name).name, Path(name).stem):
            if key in self.images:
                return self.images[key]
        if len(self._stems) != len(self.images):
            self._stems.clear()
            self._stems.update((Path(k).stem, v) for k, v in self.images.items())
        return self._stems.get(Path(name).stem, self.default)

    def unit(self, name: str) -> str:
        return UNIT_MM if self.mm_per_px(name) is not None else UNIT_PX

    @property
    def empty(self) -> bool:
        return self.default is None and not self.images


def _read_scale_json(path: Path) -> tuple[float | None, dict[str, float]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise DataError("not a UTF-8 text file", file=path) from None
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON ({exc})", file=path) from None
    except OSError as exc:
        raise DataError(f"cannot read ({exc.strerror or exc})", file=path) from None
    if not isinstance(data, dict):
        raise DataError('must be a JSON object such as {"mm_per_px": 0.1, "images": {"name": 0.08}}', file=path)
    unknown = sorted(set(data) - {"mm_per_px", "images"})
    if unknown:
        raise DataError(f"unknown key(s) {', '.join(unknown)}; expected mm_per_px and/or images", file=path)
    default = _valid(data["mm_per_px"], "key mm_per_px", path) if data.get("mm_per_px") is not None else None
    images = data.get("images") or {}
    if not isinstance(images, dict):
        raise DataError("images must be an object mapping sample names to mm_per_px", file=path)
    return default, {str(k): _valid(v, f"images[{k!r}]", path) for k, v in images.items()}


def load_scale(dataset: str | Path | None = None, mm_per_px: float | None = None) -> Scale:
    """The scale of a dataset folder (``scale.json``, then the manifest column), with ``mm_per_px`` as the default
    for samples that have none. ``dataset=None``: only ``mm_per_px`` (or pixels)."""
    default = _valid(mm_per_px, "--scale", None) if mm_per_px is not None else None
    scale = Scale(default=default, sources=["--scale"] if default is not None else [])
    if dataset is None:
        return scale
    root = Path(dataset)
    manifest = root / MANIFEST
    col = {name: _valid(v, f"line {line}", manifest)
           for name, (line, v) in manifest_column(root, MANIFEST_COLUMN).items() if v}
    if col:
        scale.images.update(col)
        scale.sources.append(str(manifest))
    sfile = root / SCALE_FILE
    if sfile.is_file():
        d, imgs = _read_scale_json(sfile)
        scale.images.update(imgs)                 # scale.json's images override the manifest column
        if d is not None and scale.default is None:
            scale.default = d
        scale.sources.append(str(sfile))
    return scale


def scale_from_line(length_px: float, length_mm: float) -> float:
    """Millimetres per pixel from a line drawn over a feature of known length (the app's "calibrate" tool)."""
    if not (math.isfinite(length_px) and length_px > 0):
        raise DataError(f"the drawn line must be longer than 0 px (got {length_px!r})")
    mm = _valid(length_mm, "known length", None)
    return mm / float(length_px)


def save_scale(dataset: str | Path, mm_per_px: float, image: str | None = None) -> Path:
    """Write ``scale.json`` beside the dataset (in its root folder), atomically, keeping its other entries: the
    dataset default ``mm_per_px``, or with ``image`` that sample's own entry in ``images``. Returns its path."""
    v = _valid(mm_per_px, "mm_per_px", None)
    path = Path(dataset) / SCALE_FILE
    default, images = _read_scale_json(path) if path.is_file() else (None, {})
    if image is None:
        default = v
    else:
        images[str(image)] = v
    data: dict = {}
    if default is not None:
        data["mm_per_px"] = default
    if images:
        data["images"] = images
    try:
        atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise DataError(f"cannot write ({exc.strerror or exc})", file=path) from None
    return path
