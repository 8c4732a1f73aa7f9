"""Crack measurements of the current sample at the slider's threshold (Qt-free; issue 12).

The prediction (the 8-bit probability map at the model's resolution) is thresholded with the evaluation's rule
(:func:`trainer.measure.run.prob_mask`) and measured by :func:`trainer.measure.geometry.measure_mask`. Lengths and
widths are converted to the image's pixels (the map is stretched over the image) and, when the dataset has a scale
(:func:`trainer.measure.scale.load_scale`), to millimetres. Cracks whose maximum width exceeds the width alarm are
flagged.

    m = measure_sample(prob8, 0.42, image_hw=(480, 640), mm_per_px=0.1, alarm=WIDTH_ALARM_MM)
    m.rows      # one dict per crack: id, length, width_max, width_mean, orientation, wide, bbox (image px)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from trainer.measure.geometry import Crack, measure_mask
from trainer.measure.run import prob_mask
from trainer.measure.scale import UNIT_MM, UNIT_PX

WIDTH_ALARM_MM = 0.3
"""Default width alarm with a scale (mm): over 0.3 mm a crack usually needs repair. Key ``width_alarm_mm``."""
WIDTH_ALARM_PX = 5.0
"""Default width alarm without a scale (image pixels)."""
COLUMNS = (("id", "#"), ("length", "length"), ("width_max", "max w."), ("width_mean", "mean w."),
           ("orientation", "angle °"))


@dataclass
class SampleMeasurement:
    """The cracks of one sample at one threshold."""

    threshold: float
    unit: str                      # "mm" or "px" (image pixels)
    mm_per_px: float | None
    alarm: float | None            # in ``unit``
    to_image: tuple[float, float]  # map px -> image px (x, y)
    cracks: list[Crack] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def n_wide(self) -> int:
        return sum(1 for r in self.rows if r["wide"])

    def width_range(self) -> tuple[float, float]:
        """Smallest and largest vertex width (in ``unit``) over every skeleton, for the colour scale."""
        ws = [w for c in self.cracks for w in c.path_widths if len(w)]
        if not ws:
            return 0.0, 1.0
        a = np.concatenate(ws) * self._k()
        return float(a.min()), float(max(a.max(), a.min() + 1e-6))

    def _k(self) -> float:
        """map px -> ``unit`` for lengths and widths (mean of the x and y stretch)."""
        s = 0.5 * (self.to_image[0] + self.to_image[1])
        return s * (self.mm_per_px if self.mm_per_px is not None else 1.0)


def measure_sample(prob8: np.ndarray, threshold: float, image_hw: tuple[int, int] | None = None,
                   mm_per_px: float | None = None, alarm: float | None = None, gated: bool = False
                   ) -> SampleMeasurement:
    """Measure the predicted cracks of one 8-bit probability map at ``threshold`` (``gated``: none)."""
    t0 = time.perf_counter()
    ph, pw = prob8.shape[:2]
    ih, iw = image_hw if image_hw is not None else (ph, pw)
    m = SampleMeasurement(threshold=float(threshold), unit=UNIT_MM if mm_per_px is not None else UNIT_PX,
                          mm_per_px=mm_per_px, alarm=alarm, to_image=(iw / pw, ih / ph))
    if not gated:
        geom = measure_mask(prob_mask(prob8, threshold))
        m.cracks = sorted(geom.cracks, key=lambda c: -c.width_max)
    k = m._k()
    for c in m.cracks:
        wmax = c.width_max * k
        x, y, w, h = c.bbox
        sx, sy = m.to_image
        m.rows.append(dict(id=c.id, length=c.length * k, width_max=wmax, width_mean=c.width_mean * k,
                           orientation=c.orientation, wide=bool(alarm is not None and wmax > alarm),
                           bbox=(x * sx, y * sy, max(w * sx, 1.0), max(h * sy, 1.0))))
    m.seconds = time.perf_counter() - t0
    return m


def format_row(row: dict, unit: str) -> list[str]:
    """The table cells of one crack."""
    nd = 3 if unit == UNIT_MM else 1
    return [str(row["id"]), f"{row['length']:.{nd}f}", f"{row['width_max']:.{nd}f}", f"{row['width_mean']:.{nd}f}",
            f"{row['orientation']:.0f}"]
