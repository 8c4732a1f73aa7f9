"""Measurement files: ``cracks.csv`` (one row per crack), ``images.csv`` (one row per image), ``cracks.geojson``.

Lengths and widths are in the image's unit: ``mm`` when the image has a scale (``mm_per_px`` column filled), else
``px``; ``length_px``/``width_max_px`` always hold pixels, and ``area`` is in unit squared. ``wide`` is 1 when the
crack's maximum width exceeds the width alarm of its unit (``WidthAlarm.mm`` for an image with a scale,
``WidthAlarm.px`` for one without), 0 when not, and empty when that alarm is not set.

``cracks.geojson`` is a FeatureCollection with one Feature per crack: its skeleton as a LineString (one branch) or
MultiLineString, in pixel coordinates (x right, y down) of the full-size mask, with ``widths_px`` holding the width
at each vertex (one list per line), and the crack's CSV values as the other properties.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from trainer.atomic import atomic_write_text
from trainer.errors import DataError
from trainer.runs import paths
from trainer.measure.geometry import Crack, ImageGeometry
from trainer.measure.scale import UNIT_MM, UNIT_PX

__all__ = ["WidthAlarm", "CRACKS_CSV", "IMAGES_CSV", "CRACKS_GEOJSON", "CRACK_COLUMNS", "IMAGE_COLUMNS", "crack_rows",
           "image_row", "write_measurements", "read_csv_rows", "read_geojson"]

CRACKS_CSV = paths.CRACKS_CSV
IMAGES_CSV = paths.IMAGES_CSV
CRACKS_GEOJSON = paths.CRACKS_GEOJSON

CRACK_COLUMNS = ["image", "crack", "unit", "length", "width_mean", "width_median", "width_max", "width_p95",
                 "orientation_deg", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "branches", "endpoints", "area",
                 "area_px", "length_px", "width_max_px", "mm_per_px", "wide"]
IMAGE_COLUMNS = ["image", "unit", "n_cracks", "total_length", "max_width", "widest_crack", "cracked_area",
                 "cracked_area_px", "cracked_fraction", "n_wide", "height", "width", "mm_per_px", "mask"]
_INT = {"crack", "bbox_x", "bbox_y", "bbox_w", "bbox_h", "branches", "endpoints", "area_px", "n_cracks",
        "widest_crack", "cracked_area_px", "n_wide", "height", "width", "wide"}
_TEXT = {"image", "unit", "mask"}


def _f(v: float, nd: int = 4) -> str:
    return f"{v:.{nd}f}"


@dataclass(frozen=True)
class WidthAlarm:
    """Flag cracks wider than ``mm`` (images with a scale) or ``px`` (images without); None = no flag."""
    mm: float | None = None
    px: float | None = None

    def limit(self, mm_per_px: float | None) -> float | None:
        return self.mm if mm_per_px is not None else self.px


def _limit(alarm: WidthAlarm | None, mm_per_px: float | None) -> float | None:
    return alarm.limit(mm_per_px) if alarm is not None else None


def _is_wide(width_max_unit: float, limit: float | None) -> str:
    return "" if limit is None else str(int(width_max_unit > limit))


def crack_rows(name: str, geom: ImageGeometry, mm_per_px: float | None, alarm: WidthAlarm | None) -> list[dict]:
    """One dict per crack (CSV strings), lengths/widths in mm when ``mm_per_px`` is given, else px."""
    k = mm_per_px if mm_per_px is not None else 1.0
    limit = _limit(alarm, mm_per_px)
    unit = UNIT_MM if mm_per_px is not None else UNIT_PX
    rows = []
    for c in geom.cracks:
        x, y, w, h = c.bbox
        rows.append(dict(image=name, crack=c.id, unit=unit, length=_f(c.length * k),
                         width_mean=_f(c.width_mean * k), width_median=_f(c.width_median * k),
                         width_max=_f(c.width_max * k), width_p95=_f(c.width_p95 * k),
                         orientation_deg=_f(c.orientation, 2), bbox_x=x, bbox_y=y, bbox_w=w, bbox_h=h,
                         branches=c.n_branches, endpoints=c.n_endpoints, area=_f(c.area * k * k, 6),
                         area_px=c.area, length_px=_f(c.length, 3), width_max_px=_f(c.width_max, 3),
                         mm_per_px="" if mm_per_px is None else repr(float(mm_per_px)),
                         wide=_is_wide(c.width_max * k, limit)))
    return rows


def image_row(name: str, geom: ImageGeometry, mm_per_px: float | None, alarm: WidthAlarm | None,
              mask: str = "") -> dict:
    k = mm_per_px if mm_per_px is not None else 1.0
    limit = _limit(alarm, mm_per_px)
    widest = geom.widest
    return dict(image=name, unit=UNIT_MM if mm_per_px is not None else UNIT_PX, n_cracks=geom.n_cracks,
                total_length=_f(geom.total_length * k), max_width=_f(geom.max_width * k),
                widest_crack=widest.id if widest is not None else "",
                cracked_area=_f(geom.cracked_area * k * k, 6), cracked_area_px=geom.cracked_area,
                cracked_fraction=_f(geom.cracked_fraction, 6),
                n_wide="" if limit is None else sum(c.width_max * k > limit for c in geom.cracks),
                height=geom.height, width=geom.width, mm_per_px="" if mm_per_px is None else repr(float(mm_per_px)),
                mask=mask)


def _feature(name: str, crack: Crack, row: dict) -> dict:
    lines = [[[round(float(x), 2), round(float(y), 2)] for x, y in p] for p in crack.paths]
    widths = [[round(float(v), 3) for v in w] for w in crack.path_widths]
    geom = ({"type": "LineString", "coordinates": lines[0]} if len(lines) == 1
            else {"type": "MultiLineString", "coordinates": lines})
    props = {k: _typed(k, v) for k, v in row.items()}
    props["widths_px"] = widths[0] if len(widths) == 1 else widths
    return {"type": "Feature", "geometry": geom, "properties": props}


def _csv_text(columns: list[str], rows: Iterable[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_measurements(out_dir: str | Path, items: Iterable[tuple[str, ImageGeometry, float | None, str]],
                       alarm: WidthAlarm | None = None) -> dict[str, Path]:
    """Write the three files for ``(image name, geometry, mm_per_px or None, mask file)`` items; returns the paths."""
    out = Path(out_dir)
    crows, irows, feats = [], [], []
    for name, geom, mmpp, mask in items:
        rows = crack_rows(name, geom, mmpp, alarm)
        crows.extend(rows)
        irows.append(image_row(name, geom, mmpp, alarm, mask))
        feats.extend(_feature(name, c, r) for c, r in zip(geom.cracks, rows))
    paths = {"cracks": out / CRACKS_CSV, "images": out / IMAGES_CSV, "geojson": out / CRACKS_GEOJSON}
    atomic_write_text(paths["cracks"], _csv_text(CRACK_COLUMNS, crows))
    atomic_write_text(paths["images"], _csv_text(IMAGE_COLUMNS, irows))
    atomic_write_text(paths["geojson"], json.dumps({"type": "FeatureCollection", "features": feats},
                                                    separators=(",", ":")))
    return paths


def _typed(col: str, v):
    if col in _TEXT or v == "" or v is None:
        return v
    return int(v) if col in _INT else float(v)


def read_csv_rows(path: str | Path) -> list[dict]:
    """Rows of ``cracks.csv`` or ``images.csv`` with numbers as int/float and empty cells as ''."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read ({exc.strerror or exc})", file=p) from None
    try:
        return [{k: _typed(k, v) for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]
    except (ValueError, csv.Error) as exc:
        raise DataError(f"not a measurement CSV ({exc})", file=p) from None


def read_geojson(path: str | Path) -> list[dict]:
    """Features of ``cracks.geojson``, each with ``lines`` (list of (N, 2) lists) and ``widths`` (lists) added."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        feats = data["features"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"not a crack GeoJSON file ({exc})", file=p) from None
    for f in feats:
        g, w = f["geometry"], f["properties"]["widths_px"]
        single = g["type"] == "LineString"
        f["lines"] = [g["coordinates"]] if single else g["coordinates"]
        f["widths"] = [w] if single else w
    return feats
