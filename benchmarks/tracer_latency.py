"""Crack tracer latency: what a mouse move costs while the live preview follows the crack (Qt-free core).

The image is 4000x3000: a mosaic of the real crack photos of the shared data (their texture, stains and their own
cracks are the distractors; a seeded synthetic texture when the shared data is missing) with one long wiggly dark
crack, 3 px wide, drawn across it. The user clicks at one end of that crack (``Tracer.start``: the *setup*, which
computes the ridge filter around the click and runs the minimal-path search over the window), then the cursor moves
along the crack, ``--step`` px per mouse move (a steady hand at 60 Hz), with a few far jumps off the crack and back,
for ``--moves`` moves; every move asks ``Tracer.preview`` for the path to the cursor. Some moves leave the search
window: those regrow it and rerun the search (the max column shows them). Then a click commits the segment
(``Tracer.commit``, which starts the next search from there). The same moves are replayed with the search deferred
to when the mouse rests (``preview(q, search=False)`` while moving, ``preview(q)`` at rest), as a canvas can do.

    python benchmarks/tracer_latency.py [--moves 200] [--step 4]

Last line: ``trace preview 4000x3000: N ms`` - the 95th percentile of the per-move time (the median is printed above).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "data" / "cracks" / "images"
W, H = 4000, 3000


def mosaic(rng: np.random.Generator, images_dir: Path) -> tuple[np.ndarray, str]:
    files = sorted(images_dir.glob("*.jpg")) + sorted(images_dir.glob("*.png")) if images_dir.is_dir() else []
    if not files:
        base = cv2.resize(rng.integers(90, 170, (H // 16 + 1, W // 16 + 1), dtype=np.uint8), (W, H),
                          interpolation=cv2.INTER_CUBIC)
        noise = rng.normal(0, 8, (H, W))
        return np.clip(base + noise, 0, 255).astype(np.uint8), "synthetic texture (shared data not found)"
    out = np.zeros((H, W, 3), np.uint8)
    tile = 448
    for y in range(0, H, tile):
        for x in range(0, W, tile):
            img = cv2.imread(str(files[int(rng.integers(len(files)))]), cv2.IMREAD_COLOR)
            img = cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA)
            hh, ww = min(tile, H - y), min(tile, W - x)
            out[y:y + hh, x:x + ww] = img[:hh, :ww]
    return out, f"mosaic of {len(files)} real photos from {images_dir}"


def long_crack(rng: np.random.Generator) -> np.ndarray:
    """A wiggly crack across the image, (N, 2) x, y points about 1 px apart."""
    xs = np.linspace(300, W - 300, 6000)
    wiggle = np.cumsum(rng.normal(0, 1, xs.size))
    wiggle = cv2.GaussianBlur(wiggle.reshape(1, -1), (0, 0), 60).ravel()
    ys = H / 2 + 300 * np.sin(xs / 700) + 3 * wiggle
    pts = np.stack([xs, ys], axis=1)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    s = np.concatenate([[0], np.cumsum(seg)])
    t = np.arange(0, s[-1], 1.0)
    return np.stack([np.interp(t, s, pts[:, 0]), np.interp(t, s, pts[:, 1])], axis=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--moves", type=int, default=200)
    ap.add_argument("--step", type=float, default=4.0, help="cursor travel per mouse move along the crack (px)")
    ap.add_argument("--jumps", type=int, default=4, help="far jumps off the crack (and back) among the moves")
    ap.add_argument("--images", type=Path, default=SHARED_IMAGES)
    args = ap.parse_args(argv)

    from crackviewer.annotate.tracer import Tracer, apply_trace
    from crackviewer.annotate.mask_model import MaskModel

    rng = np.random.default_rng(0)
    image, source = mosaic(rng, args.images)
    crack = long_crack(rng)
    cv2.polylines(image, [np.round(crack * 8).astype(np.int32).reshape(-1, 1, 2)], False, (35, 35, 35), 3,
                  cv2.LINE_AA, 3)
    print(f"image {W}x{H}: {source}; crack {len(crack)} px long, 3 px wide")

    # warm the libraries once (imports, first filter call), as a running app has
    warm = Tracer(image[:256, :256])
    warm.start((128, 128))
    warm.preview((200, 200))

    i0 = 200
    # the click after the mouse hovered there: the canvas fills the ridge tiles in idle time (Tracer.warm), one
    # per timer tick; the click then only searches
    hovered = Tracer(image)
    ticks = []
    while True:
        t = time.perf_counter()
        ready = hovered.warm(crack[i0])
        ticks.append((time.perf_counter() - t) * 1e3)
        if ready:
            break
    t = time.perf_counter()
    hovered.start(crack[i0])
    warm_click = (time.perf_counter() - t) * 1e3

    tracer = Tracer(image)
    t0, c0 = time.perf_counter(), time.process_time()
    tracer.start(crack[i0])
    setup = (time.perf_counter() - t0) * 1e3
    setup_cpu = (time.process_time() - c0) * 1e3
    searches0 = tracer.searches

    jump_at = set(np.linspace(args.moves / (args.jumps + 1), args.moves, args.jumps, endpoint=False).astype(int))
    times, cpu, kinds, qs, idx = [], [], [], [], i0
    for k in range(args.moves):
        if k in jump_at:
            ang = rng.uniform(0, 2 * np.pi)
            dist = rng.uniform(250, 450)
            q = crack[idx] + dist * np.array([np.cos(ang), np.sin(ang)])
            q = np.clip(q, 0, [W - 1, H - 1])
            kind = "jump"
        else:
            idx = min(idx + int(round(args.step)), len(crack) - 1)
            q = crack[idx]
            kind = "move"
        qs.append(q)
        n = tracer.searches
        t, c = time.perf_counter(), time.process_time()
        path = tracer.preview(q)
        times.append((time.perf_counter() - t) * 1e3)
        cpu.append((time.process_time() - c) * 1e3)
        kinds.append(kind + ("+search" if tracer.searches > n else ""))
    t = time.perf_counter()
    tracer.commit(crack[idx])
    commit = (time.perf_counter() - t) * 1e3
    tracer_segments = tracer.segment_count
    trace = tracer.finish()
    model = MaskModel(np.zeros((H, W), np.uint8))
    t = time.perf_counter()
    apply_trace(model, trace)
    apply_ms = (time.perf_counter() - t) * 1e3

    pts = trace.points
    d = np.array([np.hypot(*(crack[::2] - q).T).min() for q in pts[::3]])
    times_a = np.asarray(times)
    research = np.array([k.endswith("+search") for k in kinds])
    p50, p95, pmax = np.percentile(times_a, 50), np.percentile(times_a, 95), times_a.max()
    print(f"setup (click: ridge filter + search over the first window): {setup:.0f} ms (CPU {setup_cpu:.0f} ms)")
    print(f"the same click after the mouse hovered there: {warm_click:.0f} ms (search only; the hover filled "
          f"{len(ticks)} ridge tiles in idle time, {np.median(ticks):.0f} ms per timer tick, max {max(ticks):.0f} ms)")
    print(f"mouse moves: {len(times)} ({sum(k.startswith('jump') for k in kinds)} far jumps of 250-450 px), "
          f"{int(research.sum())} regrew the window and searched again")
    print(f"per mouse move: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {pmax:.0f} ms")
    print(f"  CPU time per move (less sensitive to other processes): p50 {np.median(cpu):.1f} ms, "
          f"p95 {np.percentile(cpu, 95):.1f} ms, max {max(cpu):.0f} ms")
    if (~research).any():
        print(f"  traceback only (no new search): p50 {np.median(times_a[~research]):.2f} ms, "
              f"max {times_a[~research].max():.1f} ms")
    if research.any():
        print(f"  moves that searched again: p50 {np.median(times_a[research]):.0f} ms, max {times_a[research].max():.0f} ms")
    # the same moves with the search deferred to when the mouse rests (preview(search=False) while it moves)
    deferred = Tracer(image)
    deferred.start(crack[i0])
    moving, resting = [], []
    for q in qs:
        if deferred.needs_search(q):
            t = time.perf_counter()
            deferred.preview(q, search=False)
            moving.append((time.perf_counter() - t) * 1e3)
            t = time.perf_counter()
            deferred.preview(q)
            resting.append((time.perf_counter() - t) * 1e3)
        else:
            t = time.perf_counter()
            deferred.preview(q)
            moving.append((time.perf_counter() - t) * 1e3)
    print(f"search deferred to mouse rest: per move p50 {np.median(moving):.1f} ms, p95 "
          f"{np.percentile(moving, 95):.1f} ms, max {max(moving):.0f} ms; {len(resting)} searches at rest, "
          f"p50 {np.median(resting) if resting else 0:.0f} ms, max {max(resting, default=0):.0f} ms")
    print(f"commit (click: keep segment, search from its end): {commit:.0f} ms; searches run: "
          f"{tracer.searches - searches0 + 1}")
    print(f"trace: {len(pts)} points in {tracer_segments} segments ({tracer_segments - 1} auto-anchored), "
          f"{np.mean(d):.2f} px mean distance to the drawn crack (median {np.median(d):.2f}); "
          f"width {trace.width:.1f} px (drawn 3 px thick, anti-aliased)")
    print(f"into the mask (MaskModel.polyline, one undo step): {apply_ms:.0f} ms, {model.crack_pixels()} pixels")
    print(f"last preview path: {len(path)} points")
    print(f"trace preview {W}x{H}: {p95:.1f} ms  (p95 per mouse move; median {p50:.1f} ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
