"""Crack tracer accuracy on real photos: trace each crack from end to end and compare with its ground truth.

For a seeded random choice of crack samples of the shared data with a mask, it takes the largest connected crack
of the ground-truth mask, skeletonises it (``skimage.morphology.skeletonize``) and finds the skeleton's two ends
farthest apart along it (two minimal-path sweeps). A simulated annotator clicks those two ends - no intermediate
click, no probability map, the image alone - and the tracer draws the line between them. Per sample it prints the
mean distance of the traced points to the ground-truth skeleton, the share of traced points inside the ground-truth
mask and the measured width against the mask's mean width (area / skeleton length).

    python benchmarks/tracer_accuracy.py [--samples 25] [--data ../shared/data/cracks] [--show DIR]

``--show DIR`` writes overlays (green: ground-truth outline, red: the trace) for the first three samples.
Last line: ``trace distance to ground truth: N px`` - the median over samples of the per-sample mean distance.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "cracks"


def crack_ends(comp: np.ndarray) -> tuple[np.ndarray, tuple[int, int], tuple[int, int], float]:
    """Skeleton of a crack component and its two ends farthest apart along it (row, col), with that length."""
    from skimage.graph import MCP_Geometric
    from skimage.morphology import skeletonize

    sk = skeletonize(comp)
    ys, xs = np.nonzero(sk)
    cost = np.where(sk, 1.0, -1.0)                     # negative = impassable
    c, _ = MCP_Geometric(cost).find_costs([(ys[0], xs[0])])
    far = np.where(np.isfinite(c) & sk, c, -1)
    a = np.unravel_index(int(np.argmax(far)), c.shape)
    c, _ = MCP_Geometric(cost).find_costs([a])
    far = np.where(np.isfinite(c) & sk, c, -1)
    b = np.unravel_index(int(np.argmax(far)), c.shape)
    return sk, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), float(far[b])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=25)
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--show", type=Path, default=None)
    args = ap.parse_args(argv)
    manifest = args.data / "manifest.csv"
    if not manifest.is_file():
        print(f"{manifest}: not found (pass --data DIR with the shared crack data)")
        return 1

    from crackviewer.annotate.tracer import Tracer

    with open(manifest, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("label") == "1"]
    rng = np.random.default_rng(1)
    dists, insides, shown = [], [], 0
    for k in rng.permutation(len(rows)):
        if len(dists) >= args.samples:
            break
        name = rows[k]["name"]
        mask_path = args.data / "masks" / f"{name}.png"
        images = sorted((args.data / "images").glob(f"{name}.*"))
        if not mask_path.is_file() or not images:
            continue
        img = cv2.imread(str(images[0]), cv2.IMREAD_COLOR)
        gt = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
        if img is None or gt is None or gt.shape != img.shape[:2] or (gt > 127).sum() < 200:
            continue
        n, lab, stats, _ = cv2.connectedComponentsWithStats((gt > 127).astype(np.uint8), connectivity=8)
        comp = lab == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        sk, a, b, length = crack_ends(comp)
        if length < 40:
            continue
        tracer = Tracer(img)
        tracer.start((a[1], a[0]))
        trace = tracer.finish((b[1], b[0]))
        skel = np.stack(np.nonzero(sk)[::-1], axis=1).astype(np.float64)
        d = np.array([np.hypot(*(skel - q).T).min() for q in trace.points])
        inside = float(comp[trace.points[:, 1].astype(int), trace.points[:, 0].astype(int)].mean())
        dists.append(float(d.mean()))
        insides.append(inside)
        print(f"{name}: {len(trace.points)} points, {d.mean():.2f} px mean distance to the ground-truth skeleton, "
              f"{inside * 100:.0f}% inside the mask; width {trace.width:.1f} px (mask: {comp.sum() / sk.sum():.1f})")
        if args.show is not None and shown < 3:
            args.show.mkdir(parents=True, exist_ok=True)
            vis = img.copy()
            contours, _ = cv2.findContours(comp.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(vis, contours, -1, (0, 255, 0), 1)
            cv2.polylines(vis, [np.round(trace.points).astype(np.int32).reshape(-1, 1, 2)], False, (0, 0, 255), 1)
            cv2.imwrite(str(args.show / f"trace_{name}.png"), cv2.resize(vis, None, fx=2, fy=2,
                                                                          interpolation=cv2.INTER_NEAREST))
            shown += 1
    if not dists:
        print("no crack sample with a usable mask found")
        return 1
    dd = np.asarray(dists)
    print(f"{len(dd)} samples: mean distance per sample: median {np.median(dd):.2f}, mean {dd.mean():.2f}, "
          f"max {dd.max():.2f} px; traced points inside the mask: median {np.median(insides) * 100:.0f}%")
    print(f"trace distance to ground truth: {np.median(dd):.2f} px")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
