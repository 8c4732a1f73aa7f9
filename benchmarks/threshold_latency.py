"""Latency of one threshold-slider step in the inspection window, at 1,695 samples (offscreen).

One step = the slider's new value -> every sample's Dice/IoU and crack metrics (tolerance precision/recall/F1, empty-aware
Dice/IoU, clDice's Tsens; issue 13) from the cumulative histograms, the dataset statistics,
the TP/FP/FN/TN counts, the gallery's filters and the colours of its visible tiles, the overlay of the open sample
(448x448 map) -> the event loop drained (every changed widget repainted). What a step defers until the slider rests
is measured separately: the curves' operating points (120 ms) and, when the gallery is sorted by a metric that moves
with the threshold, its re-sort (150 ms), so tiles do not jump under the user's eyes while the slider moves.

The evaluation is synthetic (histograms drawn like a decent model's: background pixels mostly near 0, crack pixels
mostly high), written to a temporary evaluation folder and opened through the normal code path. Thumbnails are put
in the gallery's cache up front (synthetic 112x112 tiles), so that tile painting, which recolours every visible tile
for the new threshold, is part of the measurement while disk reads are not.

    python benchmarks/threshold_latency.py [--n 1695] [--steps 60]

Last line: ``threshold step: N ms`` (median, segmentation slider, gallery sorted by Dice).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from trainer.metrics import image as MI
from trainer.metrics import pixels as MP


def synthetic_eval(out: Path, n: int, hw: int = 448, maps: int = 8, seed: int = 0) -> Path:
    """An evaluation folder with n samples: samples.npz with plausible histograms, metrics.json, a few maps."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    labels = (rng.random(n) < 0.55).astype(np.int8)
    px = hw * hw
    # probability of each bin for crack and background pixels at 8 model-quality levels (beta densities)
    centres = (np.arange(MP.B) + 0.5) / MP.B
    levels = np.linspace(0.2, 0.95, 8)

    def pmf(a, b):
        d = centres ** (a - 1) * (1 - centres) ** (b - 1)
        return d / d.sum()

    pos_pmf = [pmf(1 + 6 * q, 1.5) for q in levels]
    neg_pmf = [pmf(0.6, 12 + 20 * q) for q in levels]
    hist_pos = np.zeros((n, MP.B), np.uint32)
    hist_neg = np.zeros((n, MP.B), np.uint32)
    for i in range(n):
        q = int(rng.integers(0, len(levels)))
        g = int(px * rng.uniform(0.005, 0.05)) if labels[i] else 0
        if g:
            hist_pos[i] = rng.multinomial(g, pos_pmf[q])
        hist_neg[i] = rng.multinomial(px - g, neg_pmf[q])
    scores = np.where(labels > 0, rng.beta(5, 2, n), rng.beta(2, 5, n)).astype(np.float32)
    names = np.array([f"sample_{i:04d}" for i in range(n)])
    # crack metrics' histograms (crack_record.SAMPLES_KEYS): GT pixels' max within the tolerance a little higher
    # than their own probability; the tolerance band's pixels a mix of crack and near-background
    tol_gt = np.zeros_like(hist_pos)
    near = np.zeros_like(hist_pos)
    skel = np.zeros_like(hist_pos)
    up = pmf(1 + 8 * 0.9, 1.2)
    for i in range(n):
        g = int(hist_pos[i].sum())
        if g:
            tol_gt[i] = rng.multinomial(g, up)
            skel[i] = rng.multinomial(max(1, g // 4), up)
            near[i] = hist_pos[i] + rng.multinomial(2 * g, 0.5 * up + 0.5 * neg_pmf[0])
    cl = np.stack([skel.sum(1), skel.sum(1) // 2, skel.sum(1), skel.sum(1) // 2], 1).astype(np.int64)
    np.savez(out / "samples.npz", names=names, labels=labels, scores=scores, segmented=labels > 0,
             hist_pos=hist_pos, hist_neg=hist_neg, tol_hist_gt=tol_gt, tol_hist_near=near, skel_hist_gt=skel,
             cldice_counts=cl)
    im = MI.image_metrics(labels, scores)
    t, _ = MP.seg_threshold_pr(hist_pos.sum(0, dtype=np.int64), hist_neg.sum(0, dtype=np.int64))
    metrics = {"split": "test", "n": n, "auc": im["auc"], "ap": im["ap"], "best_threshold": im["best_threshold"],
               "seg_threshold": t, "honest": {"seg_threshold": t, "image_threshold": 0.5}, "input_hw": [hw, hw]}
    (out / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (out / "probs").mkdir(exist_ok=True)
    for i in range(maps):
        p = np.zeros((hw, hw), np.float32)
        cv2.line(p, (0, int(rng.integers(0, hw))), (hw - 1, int(rng.integers(0, hw))), 1.0, 5)
        p = cv2.GaussianBlur(p, (9, 9), 3) + rng.random((hw, hw)).astype(np.float32) * 0.15
        cv2.imwrite(str(out / "probs" / f"{names[i]}.png"), np.round(np.clip(p, 0, 1) * 255).astype(np.uint8))
    return out


def fill_thumbnails(panel, size: int = 112, seed: int = 1) -> None:
    from crackviewer.inspect.sample_store import Thumbnail

    rng = np.random.default_rng(seed)
    loader = panel.gallery.loader
    base = (rng.random((size, size, 3)) * 60 + 100).astype(np.uint8)
    for i in range(panel.model.n):
        prob = np.zeros((size, size), np.uint8)
        y = int(rng.integers(10, size - 10))
        cv2.line(prob, (0, y), (size - 1, int(rng.integers(10, size - 10))), int(rng.integers(80, 255)), 2)
        gt = np.zeros((size, size), np.uint8)
        cv2.line(gt, (0, y), (size - 1, y + 3), 1, 2)
        with loader._lock:
            loader._cache[i] = Thumbnail(i, base, prob, gt.astype(bool))


def measure(app, panel, setter, values, full_repaint: bool = False) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds per step. A step ends when the event loop has nothing left to do: the posted
    update requests have been processed, i.e. every changed widget has been repainted (what a user sees).
    ``full_repaint`` adds a synchronous repaint of the whole panel on top (a conservative upper bound)."""
    wall, cpu = [], []
    for v in values:
        t0, c0 = time.perf_counter(), time.thread_time()
        setter(v)
        for _ in range(3):          # drain: zero-timers (item views' delayed updates) and the repaints they post
            app.processEvents()
        if full_repaint:
            panel.repaint()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    return wall, cpu


def summary(name: str, ms: tuple[list[float], list[float]]) -> str:
    wall, cpu = ms
    s = sorted(wall)
    p90 = s[min(len(s) - 1, int(0.9 * len(s)))]
    return (f"{name:<50} median {statistics.median(wall):6.2f} ms  p90 {p90:6.2f} ms  max {max(wall):6.2f} ms"
            f"  (CPU {statistics.median(cpu):5.2f} ms)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1695, help="samples (1,695 = the published test split)")
    ap.add_argument("--steps", type=int, default=60, help="slider steps per measurement")
    args = ap.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    try:
        from crackviewer.qt.style import apply_style

        apply_style(app)
    except Exception:  # noqa: BLE001 - the look does not change the measurement much
        pass
    from crackviewer.inspect.panel import InspectPanel

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ev_dir = synthetic_eval(Path(tmp) / "eval", args.n)
        t_make = time.perf_counter() - t0
        panel = InspectPanel()
        panel.resize(1400, 900)
        panel.show()
        app.processEvents()
        t0 = time.perf_counter()
        assert panel.open_eval(ev_dir), panel.banner.text()
        t_open = time.perf_counter() - t0
        fill_thumbnails(panel)
        panel.model.set_current(0)
        for _ in range(3):
            app.processEvents()
            panel.repaint()
        m = panel.model
        print(f"samples: {m.n}, histogram bins: {MP.B}, open sample map: {panel.sample.prob8.shape}, "
              f"visible tiles: ~{_visible_tiles(panel)}")
        print(f"synthetic evaluation written in {t_make:.1f} s, opened in {t_open:.2f} s")

        rng = np.random.default_rng(0)
        seg_values = [int(v) for v in rng.integers(400, 3700, args.steps)]
        img_values = [int(v) for v in rng.integers(500, 9500, args.steps)]

        # the model alone (no widgets): what every step starts with
        from crackviewer.inspect.threshold_model import ThresholdModel

        bare = ThresholdModel(m.evaluation)
        bare.set_sort("dice")
        ms_model = ([], [])
        for v in seg_values:
            t, c = time.perf_counter(), time.thread_time()
            bare.set_seg_bin(v)
            ms_model[0].append((time.perf_counter() - t) * 1000)
            ms_model[1].append((time.thread_time() - c) * 1000)

        sl = panel.thresholds
        m.set_sort("name")
        ms_name = measure(app, panel, sl.seg_slider.setValue, seg_values)
        m.set_sort("dice", ascending=True)
        painted = panel.gallery.delegate.paint_count
        ms_seg = measure(app, panel, sl.seg_slider.setValue, seg_values)
        tiles_per_step = (panel.gallery.delegate.paint_count - painted) / len(seg_values)
        # the re-sort a threshold step defers until the slider rests (once per drag, not per step)
        lm = panel.gallery.list_model

        def rest_at(v):
            sl.seg_slider.setValue(v)
            for _ in range(3):
                app.processEvents()
            lm._apply_order()

        ms_rest = measure(app, panel, rest_at, seg_values[: max(10, args.steps // 3)])
        ms_img = measure(app, panel, sl.img_slider.setValue, img_values)
        m.set_gated(True)
        ms_gated = measure(app, panel, sl.img_slider.setValue, img_values)
        m.set_gated(False)
        ms_full = measure(app, panel, sl.seg_slider.setValue, seg_values, full_repaint=True)

        # scrolling the gallery (thumbnails cached): one wheel notch = 3 rows of 24 px
        bar = panel.gallery.view.verticalScrollBar()
        positions = list(range(0, bar.maximum(), 72))[: args.steps]
        ms_scroll = measure(app, panel, bar.setValue, positions)

        print(summary("model only (Dice/IoU of all samples, stats, order)", ms_model))
        print(summary("seg slider, gallery sorted by name", ms_name))
        print(summary("seg slider, gallery sorted by Dice (re-sort deferred)", ms_seg))
        print(summary("step + the re-sort when the slider rests (once a drag)", ms_rest))
        print(summary("classification slider, sorted by Dice", ms_img))
        print(summary("classification slider, gated masks", ms_gated))
        print(summary("seg slider + forced repaint of the whole panel", ms_full))
        print(summary("gallery scroll step (72 px, 1,695 tiles)", ms_scroll))
        print(f"a step = slider value -> model -> events -> gallery/stats/curves/overlay -> event loop drained "
              f"(repaints done; {tiles_per_step:.0f} gallery tiles repainted per step)")
        print(f"CPU: {cpu_model()}")
        print(f"CPU: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (shared machine: wall times "
              "include waiting for the CPU; the CPU column is this thread's own work)")
        panel.gallery.loader.shutdown()
        panel.close()
        print(f"threshold step: {statistics.median(ms_seg[0]):.1f} ms")
    return 0


def cpu_model() -> str:
    """``lscpu``'s model name (the figure depends on the machine)."""
    import subprocess

    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown (no lscpu)"
    for line in out.splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def _visible_tiles(panel) -> int:
    v = panel.gallery.view
    n = 0
    for r in range(panel.gallery.list_model.rowCount()):
        if v.visualRect(panel.gallery.list_model.index(r)).intersects(v.viewport().rect()):
            n += 1
        elif n:
            break
    return n


if __name__ == "__main__":
    sys.exit(main())
