"""Crack measurement time on a 4000x3000 mask: ``trainer.measure.geometry.measure_mask`` (components, skeletons,
lengths, widths along every skeleton, orientation, branches), after the mask is in memory.

Two masks, each timed ``--repeat`` times (the median is printed):

* ``synthetic``: ``--cracks`` meandering cracks (random walks of 40-110 steps of ~25 px, widths 1-15 px, a few
  with a side branch), plus ``--specks`` specks of 2-30 px as a thresholded prediction leaves them. This is a
  typical inspection photo and gives the headline.
* ``real tiles`` (when ../shared/data/cracks exists): the dataset's real crack masks tiled at their own resolution
  over the 4000x3000 canvas, a dense worst case (well over a hundred cracks).

The last line is ``measure 4000x3000: N ms`` (synthetic mask, median).

    .venv/bin/python benchmarks/measure_speed.py
    .venv/bin/python benchmarks/measure_speed.py --repeat 5 --cracks 20
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.measure.geometry import measure_mask  # noqa: E402

H, W = 3000, 4000
SHARED = ROOT.parent / "shared" / "data" / "cracks"


def synthetic_mask(n_cracks: int, n_specks: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = np.zeros((H, W), np.uint8)
    for _ in range(n_cracks):
        n = int(rng.integers(40, 110))
        heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.25, n))
        steps = np.stack([np.cos(heading), np.sin(heading)], 1) * 25
        pts = (rng.uniform([0, 0], [W, H]) + np.cumsum(steps, 0)).astype(np.int32)
        width = int(rng.integers(1, 16))
        cv2.polylines(m, [pts], False, 255, width, cv2.LINE_AA)
        if rng.random() < 0.4:                                   # a side branch from the middle
            k = n // 2
            side = pts[k] + np.cumsum(np.stack([np.cos(heading[k:] + 1.0), np.sin(heading[k:] + 1.0)], 1) * 20,
                                      0).astype(np.int32)[: n // 3]
            cv2.polylines(m, [np.vstack([pts[k:k + 1], side])], False, 255, max(width // 2, 1), cv2.LINE_AA)
    for _ in range(n_specks):
        c = (int(rng.integers(0, W)), int(rng.integers(0, H)))
        cv2.circle(m, c, int(rng.integers(1, 4)), 255, -1)
    return m >= 128


def tiled_real_mask() -> np.ndarray | None:
    if not (SHARED / "manifest.csv").is_file():
        return None
    names = [r["name"] for r in csv.DictReader(open(SHARED / "manifest.csv", encoding="utf-8")) if r["label"] == "1"]
    m = np.zeros((H, W), bool)
    y = x = row_h = 0
    for name in names:
        t = cv2.imread(str(SHARED / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        if t is None:
            continue
        t = t > 127
        h, w = t.shape
        if x + w > W:
            x, y, row_h = 0, y + row_h, 0
        if y + h > H:
            break
        m[y:y + h, x:x + w] = t
        x, row_h = x + w, max(row_h, h)
    return m


def time_it(mask: np.ndarray, repeat: int) -> tuple[float, float, object]:
    """Median wall-clock and CPU (process) milliseconds; CPU time tells a loaded shared machine apart."""
    times, cpu, g = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        g = measure_mask(mask)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times) * 1000, statistics.median(cpu) * 1000, g


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cracks", type=int, default=12)
    ap.add_argument("--specks", type=int, default=200)
    args = ap.parse_args()
    measure_mask(synthetic_mask(1, 0)[:500, :500])                 # warm-up (imports, first calls)
    real = tiled_real_mask()
    if real is not None:
        ms, cpu, g = time_it(real, args.repeat)
        print(f"real tiles: {g.n_cracks} cracks, {real.mean() * 100:.2f} % crack pixels, total length "
              f"{g.total_length:.0f} px: {ms:.0f} ms (CPU {cpu:.0f} ms)")
    else:
        print(f"real tiles: skipped ({SHARED} not found)")
    syn = synthetic_mask(args.cracks, args.specks)
    ms, cpu, g = time_it(syn, args.repeat)
    print(f"synthetic: {g.n_cracks} cracks ({args.cracks} long, the rest specks), {syn.mean() * 100:.2f} % crack "
          f"pixels, total length {g.total_length:.0f} px, widest {g.max_width:.1f} px: {ms:.0f} ms (CPU {cpu:.0f} ms)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPU(s), load average {load:.1f} (wall time grows with the load; CPU time less)")
    print(f"measure 4000x3000: {ms:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
