"""Cost of the crack metrics per image during evaluation (issue 13): tolerance histograms (one max-filter of the bin
image + one dilation of the GT + two bincounts), the GT skeleton histogram (clDice's Tsens at every threshold), clDice
counts at the operating threshold, and the whole :class:`trainer.metrics.crack_record.CrackCollector` step; plus one
threshold-slider step of :class:`trainer.metrics.crack_record.CrackView` at ``--slider-n`` samples.

Synthetic 448x448 probability maps: a background of low noise (a few percent of pixels above 0.5) and 2-4 crack
polylines 3-7 px wide with high probabilities, the GT drawn along the same cracks, shifted by a pixel.

    .venv/bin/python benchmarks/crack_metrics_speed.py                    # 40 images, 448x448
    .venv/bin/python benchmarks/crack_metrics_speed.py --n 20 --inference-ms 1650

With ``--inference-ms`` (the forward-pass time per image, e.g. from ``eval_speed.py``) it also prints the collector's
share of inference. The last line is ``crack metrics 448x448: N ms`` (the collector's step per image).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.metrics import pixels as metrics_pixels
from trainer.metrics import centreline as C, crack_record as R, tolerance as T


def synthetic(n: int, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    probs, gts = [], []
    for _ in range(n):
        p = (rng.random((size, size), dtype=np.float32) ** 6 * 0.7).astype(np.float32)
        g = np.zeros((size, size), np.uint8)
        c = np.zeros((size, size), np.float32)
        for _ in range(int(rng.integers(2, 5))):
            pts = np.cumsum(rng.normal(0, size / 12, (8, 2)), axis=0) + rng.integers(0, size, 2)
            pts = pts.astype(np.int32).reshape(-1, 1, 2)
            w = int(rng.integers(3, 8))
            cv2.polylines(g, [pts], False, 1, w)
            cv2.polylines(c, [pts + 1], False, float(rng.uniform(0.6, 0.99)), w + 1)
        probs.append(np.maximum(p, cv2.GaussianBlur(c, (5, 5), 1.0)))
        gts.append(g.astype(bool))
    return np.stack(probs), np.stack(gts)


def per_image_ms(fn, probs, gts, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for p, g in zip(probs, gts):
            fn(p, g)
        best = min(best, (time.perf_counter() - t0) / len(probs) * 1e3)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=40, help="images (default 40)")
    ap.add_argument("--size", type=int, default=448)
    ap.add_argument("--repeat", type=int, default=3, help="repetitions, the fastest is kept (default 3)")
    ap.add_argument("--tolerance", type=float, default=T.TOLERANCE_PX)
    ap.add_argument("--slider-n", type=int, default=1695, help="samples of the slider step (default 1695)")
    ap.add_argument("--inference-ms", type=float, default=None, help="forward pass per image, to print the share")
    args = ap.parse_args(argv)

    probs, gts = synthetic(args.n, args.size)
    print(f"crack_metrics_speed: {args.n} images {args.size}x{args.size}, tolerance {args.tolerance:g} px, "
          f"{gts.mean() * 100:.1f} % GT pixels, {(probs >= 0.5).mean() * 100:.1f} % predicted at 0.5, "
          f"OpenCV threads {cv2.getNumThreads()}")
    ref = per_image_ms(lambda p, g: metrics_pixels.sample_histograms(p, g), probs, gts, args.repeat)
    tol = per_image_ms(lambda p, g: T.sample_tolerance_histograms(p, g, args.tolerance), probs, gts, args.repeat)
    skg = per_image_ms(lambda p, g: C.skeleton(g), probs, gts, args.repeat)
    skh = per_image_ms(lambda p, g: C.skeleton_histogram(p, g), probs, gts, args.repeat)
    cld = per_image_ms(lambda p, g: C.cldice_counts(p, g, 0.5), probs, gts, args.repeat)
    def collector_ms(cldice: bool) -> tuple[float, float, R.CrackCollector]:
        col = R.CrackCollector(len(probs), args.tolerance, cldice_threshold=0.5, cldice=cldice)
        best, best_cpu = float("inf"), float("inf")
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(len(probs)):
                col.add([i], probs[i:i + 1], gts[i:i + 1])
            best = min(best, (time.perf_counter() - t0) / len(probs) * 1e3)
            best_cpu = min(best_cpu, (time.process_time() - c0) / len(probs) * 1e3)
        return best, best_cpu, col

    notol, notol_cpu, _ = collector_ms(False)
    allc, best_cpu, col = collector_ms(True)
    print(f"  existing hist_pos/hist_neg (for scale):        {ref:6.2f} ms/image")
    print(f"  tolerance histograms (tol_hist_gt/near):       {tol:6.2f} ms/image")
    print(f"  GT skeleton:                                   {skg:6.2f} ms/image")
    print(f"  GT skeleton histogram (incl. skeleton):        {skh:6.2f} ms/image")
    print(f"  clDice counts at 0.5 (both skeletons):         {cld:6.2f} ms/image")
    print(f"  CrackCollector.add, everything, per image:     {allc:6.2f} ms/image "
          f"(process CPU time {best_cpu:.2f} ms/image)")
    print(f"  CrackCollector.add without clDice (cldice=False): {notol:6.2f} ms/image "
          f"(process CPU time {notol_cpu:.2f} ms/image)")

    # one slider step over slider-n samples (histograms tiled from the synthetic ones)
    reps = -(-args.slider_n // len(probs))
    s = dict(col.arrays())
    s["hist_pos"] = np.stack([metrics_pixels.sample_histograms(p, g)[0] for p, g in zip(probs, gts)]).astype(np.uint32)
    s["hist_neg"] = np.stack([metrics_pixels.sample_histograms(p, g)[1] for p, g in zip(probs, gts)]).astype(np.uint32)
    s = {k: np.concatenate([v] * reps)[:args.slider_n] for k, v in s.items()}
    t0 = time.perf_counter()
    view = R.CrackView(s)
    build = time.perf_counter() - t0
    step = float("inf")
    for k in range(1000, 3000, 97):
        t0 = time.perf_counter()
        view.at(k)
        step = min(step, time.perf_counter() - t0)
    print(f"  CrackView at {args.slider_n} samples: build {build * 1e3:.0f} ms once, one threshold step "
          f"{step * 1e3:.2f} ms")
    if hasattr(os, "getloadavg"):
        print(f"  load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if args.inference_ms:
        print(f"  share of inference ({args.inference_ms:g} ms/image): {100 * allc / args.inference_ms:.2f} % "
              f"(without clDice {100 * notol / args.inference_ms:.2f} %)")
    print(f"crack metrics {args.size}x{args.size}: {allc:.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
