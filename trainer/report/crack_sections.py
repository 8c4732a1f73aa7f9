"""The report's crack sections: crack metrics (tolerance F1 at ODS/OIS, pixel AP, clDice, Dice/IoU with empty
ground truth handled beside the reference's formula), calibration (ECE and the reliability figure) and the
measurements (accuracy against the ground truth and the width alarm), from the folder's metrics.json and its
``measure/`` folder (``crack-train measure``)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

from trainer.errors import CrackError
from trainer.measure.export import read_csv_rows
from trainer.metrics import calibration as K
from trainer.report.format import fmt, table
from trainer.runs import paths


def crack_metrics_md(m: dict) -> list[str]:
    """Lines of the "Crack metrics" section ([] for an evaluation made before the crack metrics existed)."""
    if m.get("ods_f1") is None and m.get("tolerance_px") is None:
        return []
    tol = fmt(m.get("tolerance_px"), "g")
    thr = fmt(m.get("seg_threshold"), ".4f")
    rows = [
        (f"ODS F1 (best threshold for the whole split, {tol} px tolerance)",
         f"{fmt(m.get('ods_f1'), '.4f')} at threshold {fmt(m.get('ods_threshold'), '.4f')}"),
        (f"OIS F1 (best threshold per image, {tol} px tolerance)", fmt(m.get("ois_f1"), ".4f")),
        ("Pixel AP", fmt(m.get("pixel_ap"), ".4f")),
        (f"Precision / recall / F1 at threshold {thr} ({tol} px tolerance)",
         f"{fmt(m.get('precision_tol'), '.4f')} / {fmt(m.get('recall_tol'), '.4f')} / {fmt(m.get('f1_tol'), '.4f')}"),
        (f"clDice at threshold {fmt(m.get('cldice_threshold'), '.4f')} (mean over samples)",
         fmt(m.get("cldice_mean"), ".4f")),
        ("Dice / IoU, empty ground truth and empty prediction = 1",
         f"{fmt(m.get('dice_empty_ok_mean'), '.4f')} / {fmt(m.get('iou_empty_ok_mean'), '.4f')}"),
        ("Dice / IoU, reference formula (crack-free samples score 0)",
         f"{fmt(m.get('dice_mean'), '.4f')} / {fmt(m.get('iou_mean'), '.4f')}"),
    ]
    if m.get("tta"):
        rows.append(("Flip test-time augmentation", "on (probabilities = mean of 4 flips; uncertainty/ maps)"))
    return ["", "### Crack metrics", "", table(("Metric", "Value"), rows)]


def at_search_bound(temperature: float) -> bool:
    """A fitted temperature at an end of :data:`trainer.metrics.calibration.LOG_T_RANGE`."""
    lo, hi = K.LOG_T_RANGE
    lt = math.log(float(temperature))
    return lt <= lo + 1e-3 or lt >= hi - 1e-3


def calibration_md(m: dict, image: Callable[[str, str], str]) -> list[str]:
    """Lines of the "Calibration" section: ECE of image scores and pixels, the temperature, the figure."""
    t = m.get("temperature") or {}
    lines = ["", "## Calibration", ""]
    if m.get("ece_image") is not None or m.get("ece_pixel") is not None:
        ece = (f"Expected calibration error (15 bins): image scores {fmt(m.get('ece_image'), '.4f')}, "
               f"pixels {fmt(m.get('ece_pixel'), '.4f')}")
        if t.get("image") is not None or t.get("pixel") is not None:
            ece += (f", after temperature scaling fitted on {t.get('fitted_on', 'validation')} (image T = "
                    f"{fmt(t.get('image'), '.3f')}, pixel T = {fmt(t.get('pixel'), '.3f')}); before: image "
                    f"{fmt(m.get('ece_image_raw'), '.4f')}, pixels {fmt(m.get('ece_pixel_raw'), '.4f')}")
        bound = [k for k in ("image", "pixel") if t.get(k) is not None and at_search_bound(t[k])]
        if bound:
            ece += (f" (the {' and '.join(bound)} temperature is at the end of the search range: those "
                    "probabilities carry little information on validation, so scaling flattens them towards 0.5)")
        lines += [ece + ".", ""]
    lines.append(image(paths.RELIABILITY_PNG, "reliability diagram"))
    return lines


def _widest(cracks: list[dict], n: int = 5) -> list[tuple]:
    wide = [c for c in cracks if c.get("wide") == 1]
    wide.sort(key=lambda c: -float(c.get("width_max") or 0))
    return [(c["image"], c["crack"], f"{fmt(c.get('width_max'), '.3f')} {c.get('unit', '')}",
             f"{fmt(c.get('length'), '.1f')} {c.get('unit', '')}") for c in wide[:n]]


def measurement_md(folder: Path, image: Callable[[str, str], str], alarm_mm: float | None) -> list[str]:
    """Lines of the "Measurements" section from ``<folder>/measure`` (a hint when it is missing)."""
    d = folder / paths.MEASURE
    lines = ["", "## Measurements", ""]
    if not (d / paths.CRACKS_CSV).is_file():
        return lines + [f"_No measurements: `crack-train measure {folder} --out {d}` writes them._"]
    try:
        cracks = read_csv_rows(d / paths.CRACKS_CSV)
    except CrackError as exc:
        return lines + [f"_cracks.csv unreadable: {exc}_"]
    units = sorted({str(c.get("unit")) for c in cracks}) or ["px"]
    lines.append(f"{len(cracks)} predicted cracks measured (unit {', '.join(units)}).")
    n_wide = sum(1 for c in cracks if c.get("wide") == 1)
    if alarm_mm is not None and "mm" in units:
        lines += ["", f"**Width alarm**: {n_wide} crack(s) wider than {fmt(alarm_mm, 'g')} mm."]
        if n_wide:
            lines += ["", table(("Image", "Crack", "Max width", "Length"), _widest(cracks))]
    elif n_wide:
        lines += ["", f"**Width alarm**: {n_wide} crack(s) flagged."]
    else:
        lines += ["", "Width alarm: no scale (mm per pixel) for these images, so no crack is flagged in mm."]
    acc_path = d / paths.ACCURACY_JSON
    if acc_path.is_file():
        try:
            a = json.loads(acc_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            a = {}
        mm = ""
        if a.get("length_mae_mm") is not None:
            mm = (f" ({fmt(a.get('length_mae_mm'), '.3f')} mm and {fmt(a.get('width_max_mae_mm'), '.3f')} mm over "
                  f"{a.get('n_groups_mm')} groups with a scale)")
        lines += ["", "### Measurement accuracy", "",
                  f"Against the ground truth's cracks (matched by overlap; {a.get('n_groups', 0)} matched groups, "
                  f"{a.get('n_pred_unmatched', 0)} predicted and {a.get('n_gt_unmatched', 0)} true cracks "
                  f"unmatched): length MAE {fmt(a.get('length_mae_px'), '.2f')} px, maximum width MAE "
                  f"{fmt(a.get('width_max_mae_px'), '.2f')} px{mm}.", "",
                  image(paths.MEASURE_ACCURACY_PNG, "measurement accuracy")]
    return lines
