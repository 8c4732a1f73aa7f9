"""Zoom, pan, open and brush latency of the app's image views on a 4000x3000 photo and a 20000x20000 mosaic.

The files are written once per size; then each view runs in its own subprocess (so its peak RSS, ``ru_maxrss``, is
its own) and builds, offscreen, the real widget at 1400x900:

* **Inspect**: the Inspect tab's viewer (``CrackOverlayView``) with the image, the GT contour, the probability
  heatmap and the TP/FP/FN error map at full resolution (the probability map is a blurred copy of the GT, 8-bit).
* **Annotate**: the Annotate tab (``AnnotatePanel``) on a one-sample dataset, brush tool selected.

Open = reading the files (image JPEG, mask PNG, map PNG) + building the pyramids + the first paint. Then, in each
view: fit, zoom in by x2 steps under a crack pixel to 100 % and on to 800 %, pan (middle-button drags of 150 px,
real mouse events), zoom out by x2 steps, fit. Each step is timed end to end: the call (or event), then Qt's
events processed until the viewport has painted (as ``brush_latency.py``): "painted" is that first repaint, the
stall the user feels; "sharp" is when the repaints that replace tiles first drawn from a coarser level (the tiled
layers' time budget per repaint) are done. In Annotate it also times brush segments
(6 px, 12 px brush) through the mouse-move path at 100 % and at fit, and the autosave that follows each stroke (its
part on the GUI thread, and the whole save on the save thread).

The images are ``trainer.datasets.mosaic`` scenes (2048x2048 blocks of synthetic cracks, mirrored and tiled), so
the script needs no data. Writing the 20000x20000 files takes about half a minute.

    .venv/bin/python benchmarks/viewer_large.py                 # both sizes
    .venv/bin/python benchmarks/viewer_large.py --sizes 4000x3000

Last line: ``zoom/pan stall 20000x20000 max: N ms`` (the slowest zoom or pan step of both views).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def make_files(folder: Path, w: int, h: int) -> tuple[Path, Path, Path, tuple[int, int]]:
    """image JPEG, mask PNG (0/255), probability PNG, and a crack pixel (x, y) near the centre."""
    from trainer.datasets.mosaic import mosaic_sample
    img, mask, _ = mosaic_sample(np.random.default_rng(0), grid=4, cell=512, crack_fraction=0.8)
    blocks = [(img, mask), (img[:, ::-1], mask[:, ::-1]), (img[::-1], mask[::-1]), (img[::-1, ::-1], mask[::-1, ::-1])]
    big = np.empty((h, w, 3), np.uint8)
    m = np.zeros((h, w), np.uint8)
    b = img.shape[0]
    for y in range(0, h, b):
        for x in range(0, w, b):
            bi, bm = blocks[((y // b) + 2 * (x // b)) % 4]
            big[y:y + b, x:x + b] = bi[:h - y, :w - x]
            m[y:y + b, x:x + b] = bm[:h - y, :w - x]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "images").mkdir(exist_ok=True)
    (folder / "masks").mkdir(exist_ok=True)
    image_path, mask_path, prob_path = folder / "images" / "big.jpg", folder / "masks" / "big.png", folder / "prob.png"
    cv2.imwrite(str(image_path), big[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    del big
    cv2.imwrite(str(mask_path), m, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    prob = cv2.GaussianBlur(m, (0, 0), 2.0)
    cv2.imwrite(str(prob_path), prob, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    (folder / "manifest.csv").write_text("name,label,split\nbig,1,train\n")
    ys, xs = np.nonzero(m[h // 2 - 300:h // 2 + 300, w // 2 - 300:w // 2 + 300])
    i = int(np.argmin((ys - 300) ** 2 + (xs - 300) ** 2))
    return image_path, mask_path, prob_path, (int(xs[i]) + w // 2 - 300, int(ys[i]) + h // 2 - 300)


def _rss_now_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


class Stepper:
    """Times one action until the viewport has painted."""

    def __init__(self, app, view):
        from PySide6.QtCore import QEvent, QObject

        class Counter(QObject):
            n = 0

            def eventFilter(self, obj, ev):  # noqa: N802
                if ev.type() == QEvent.Paint:
                    Counter.n += 1
                return False

        self.app, self.view = app, view
        self.counter = Counter()
        view.viewport().installEventFilter(self.counter)
        self.rows: list[tuple[str, float, float]] = []

    def step(self, what: str, fn) -> float:
        """(first paint, sharp): the first repaint after ``fn`` (the stall the user feels), then the repaints that
        replace tiles drawn from a coarser level until none is left."""
        before = self.counter.n
        t0 = time.perf_counter()
        fn()
        for _ in range(200):
            self.app.processEvents()
            if self.counter.n > before:
                break
        ms = (time.perf_counter() - t0) * 1e3
        for _ in range(2000):
            if not self.view.tiles_pending():
                break
            self.app.processEvents()
        self.rows.append((what, ms, (time.perf_counter() - t0) * 1e3))
        return ms


def zoom_pan(app, view, crack, st: Stepper) -> None:
    """fit, x2 zoom steps under the crack to 100 % and 800 %, pans, x2 out to fit."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    for _ in range(3):
        app.processEvents()
    st.step("fit", view.fit)
    view.centerOn(QPointF(*crack))
    app.processEvents()

    def anchor():
        return QPointF(view.mapFromScene(QPointF(crack[0] + 0.5, crack[1] + 0.5)))

    while view.scale_factor() < 0.999:
        f = min(2.0, 1.0 / view.scale_factor())
        st.step(f"zoom in to {min(1.0, view.scale_factor() * f) * 100:.0f} %", lambda f=f: view.zoom_by(f, anchor()))
    vport = view.viewport()
    c = vport.rect().center()

    def pans(label):
        QTest.mousePress(vport, Qt.MiddleButton, Qt.NoModifier, c)
        for dx, dy in ((150, 0), (150, 0), (0, 150), (-150, 0), (-150, 0), (0, -150)):
            target = c + type(c)(dx, dy)
            st.step(f"pan 150 px at {label}", lambda t=target: QTest.mouseMove(vport, t))
            QTest.mouseRelease(vport, Qt.MiddleButton, Qt.NoModifier, target)
            QTest.mousePress(vport, Qt.MiddleButton, Qt.NoModifier, c)
        QTest.mouseRelease(vport, Qt.MiddleButton, Qt.NoModifier, c)

    pans("100 %")
    view.centerOn(QPointF(*crack))
    app.processEvents()
    for _ in range(3):
        st.step(f"zoom in to {view.scale_factor() * 200:.0f} %", lambda: view.zoom_by(2.0, anchor()))
    pans("800 %")
    while view.scale_factor() > 1 / 64 + 1e-9 and view.mapToScene(vport.rect()).boundingRect().width() < \
            view.sceneRect().width():
        st.step(f"zoom out to {view.scale_factor() * 50:.1f} %", lambda: view.zoom_by(0.5, QPointF(c)))
    st.step("fit", view.fit)


def run_view(view: str, data: Path, crack: tuple[int, int], segments: int) -> dict:
    """One view (``inspect`` or ``annotate``) on the files in ``data``, in this (fresh) process."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from crackviewer.annotate.panel import AnnotatePanel
    from crackviewer.qt.style import apply_style
    from crackviewer.viewer.overlay import CrackOverlayView
    from trainer.datasets.images import read_image, read_mask
    from trainer.limits import VIEWER_MAX_MEGAPIXELS

    apply_style(app)
    out: dict = {"rss_start_mb": _rss_now_mb()}
    if view == "inspect":
        ov = CrackOverlayView()
        ov.resize(1400, 900)
        ov.show()
        app.processEvents()
        st = Stepper(app, ov.right)

        def open_inspect():
            image = read_image(data / "images" / "big.jpg", max_megapixels=VIEWER_MAX_MEGAPIXELS)
            gt = read_mask(data / "masks" / "big.png", image.shape)
            prob = cv2.imread(str(data / "prob.png"), cv2.IMREAD_GRAYSCALE)
            ov.set_overlay_visible("heatmap", True)
            ov.set_sample(image, gt, prob, threshold=2048)
        st.step("open (read image, mask, map; pyramids; first paint)", open_inspect)
        zoom_pan(app, ov.right, crack, st)
        st.step("threshold step (recolour the tiles on screen)", lambda: ov.set_threshold(1500))
        out["rows"] = st.rows
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return out
    panel = AnnotatePanel(autosave_ms=600_000)
    panel.resize(1400, 900)
    panel.show()
    app.processEvents()
    st = Stepper(app, panel.canvas)
    gaps = [0.0]

    def open_annotate():
        panel.open_dataset(data)
        last = time.perf_counter()
        while panel.opening is not None:         # a large image decodes on a worker: the GUI keeps running
            app.processEvents()
            now = time.perf_counter()
            gaps.append((now - last) * 1e3)
            last = now
            time.sleep(0.002)
    st.step("open dataset + sample (read image, mask; pyramids; first paint)", open_annotate)
    out["open_gui_stall_ms"] = max(gaps)
    zoom_pan(app, panel.canvas, crack, st)
    out["rows"] = st.rows
    # brush segments, mouse-move path, at 100 % and at fit
    brush = {}
    panel.brush_size = 12.0
    for zoom in ("100 %", "fit"):
        if zoom == "fit":
            panel.canvas.fit()
        else:
            panel.canvas.zoom_1to1()
            panel.canvas.centerOn(QPointF(*crack))
        for _ in range(5):
            app.processEvents()
        vis = panel.canvas.mapToScene(panel.canvas.viewport().rect()).boundingRect()
        cx, cy = vis.center().x(), vis.center().y()
        rad = 0.3 * min(vis.width(), vis.height())
        angles = np.arange(segments + 1) * 6.0 / rad
        vpts = [panel.canvas.mapFromScene(QPointF(cx + rad * np.cos(a), cy + rad * np.sin(a))) for a in angles]
        vport = panel.canvas.viewport()
        bst = Stepper(app, panel.canvas)
        QTest.mousePress(vport, Qt.LeftButton, Qt.NoModifier, vpts[0])
        for p in vpts[1:]:
            bst.step("brush", lambda p=p: QTest.mouseMove(vport, p))
        t0 = time.perf_counter()
        QTest.mouseRelease(vport, Qt.LeftButton, Qt.NoModifier, vpts[-1])
        brush[zoom] = {"segments_ms": [ms for _, ms, _ in bst.rows], "release_ms": (time.perf_counter() - t0) * 1e3}
        panel._autosave.stop()
        # the autosave after this stroke: its GUI-thread part (snapshot of the changed rectangles), then the write
        t0 = time.perf_counter()
        panel._start_save(panel.session)
        gui_ms = (time.perf_counter() - t0) * 1e3
        while panel.session.saving:
            app.processEvents()
            time.sleep(0.005)
        brush[zoom].update(save_gui_ms=gui_ms, save_s=time.perf_counter() - t0)
    out["brush"] = brush
    panel.shutdown()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def report(size: str, write_s: float, crack, res: dict) -> float:
    print(f"\n== {size} (files written in {write_s:.1f} s; crack pixel {tuple(crack)}) ==")
    worst = 0.0
    for view in ("inspect", "annotate"):
        r = res[view]
        print(f"{view} (own process: peak RSS {r['peak_rss_mb']:.0f} MB, {r['rss_start_mb']:.0f} MB before opening):")
        print(f"  {'step':<62} {'painted':>11} {'sharp':>11}")
        for what, ms, sharp in r["rows"]:
            flag = "" if what.startswith("open") or ms <= 50 else "   <-- over 50 ms"
            print(f"  {what:<62} {ms:8.1f} ms {sharp:8.1f} ms{flag}")
            if what.startswith(("zoom", "pan", "fit")):
                worst = max(worst, ms)
    print(f"longest GUI-thread stall while Annotate opened the image (decoded on a worker; levels and first paint "
          f"on the GUI thread): {res['annotate'].get('open_gui_stall_ms', 0.0):.0f} ms")
    for zoom, b in res["annotate"]["brush"].items():
        s = np.array(b["segments_ms"][5:])
        print(f"brush segment (mouse-move path) at {zoom:>5}: median {np.median(s):.2f} ms, p95 "
              f"{np.percentile(s, 95):.2f} ms, max {s.max():.2f} ms; end of stroke {b['release_ms']:.1f} ms; "
              f"autosave {b['save_gui_ms']:.1f} ms on the GUI thread, {b['save_s']:.1f} s in all")
    return worst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="4000x3000,20000x20000")
    ap.add_argument("--segments", type=int, default=60)
    ap.add_argument("--view", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--crack", help=argparse.SUPPRESS)
    ap.add_argument("--json", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.view:
        crack = tuple(int(v) for v in args.crack.split(","))
        res = run_view(args.view, Path(args.data), crack, args.segments)
        Path(args.json).write_text(json.dumps(res))
        return 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"viewport 1400x900 offscreen, {os.cpu_count()} CPUs, load average {load:.1f}")
    worst = {}
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        tmp = Path(tempfile.mkdtemp(prefix="viewer_large_"))
        try:
            t = time.perf_counter()
            *_, crack = make_files(tmp / "ds", w, h)
            write_s = time.perf_counter() - t
            gc.collect()
            res = {}
            for view in ("inspect", "annotate"):
                jpath = tmp / f"{view}.json"
                subprocess.run([sys.executable, __file__, "--view", view, "--data", str(tmp / "ds"), "--crack",
                                f"{crack[0]},{crack[1]}", "--json", str(jpath), "--segments", str(args.segments)],
                               check=True)
                res[view] = json.loads(jpath.read_text())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        worst[size] = report(size, write_s, crack, res)
    print()
    for size, ms in worst.items():
        print(f"zoom/pan stall {size} max: {ms:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
