"""Brush latency of the annotation panel: one brush segment, end to end, offscreen.

One "segment" is what a mouse-move event during a brush drag costs:

1. the mask model stamps the brush along the segment (cv2, dirty rectangle only) and backs up the touched tiles;
2. the overlay's pixels of that rectangle are recoloured from the mask (numpy LUT into the QImage memory);
3. the widget repaints: the scene update is processed and the view repaints the damaged viewport region
   (the loop runs Qt's event processing until the viewport has painted).

Two figures per case: the *segment core* (1-3 called directly) and the *mouse-move path*: a real QMouseEvent sent
to the viewer, through the brush tool (cursor ring, segment, overlay), the status line and the repaint. The headline
is the mouse-move path.

Measured on a 448x448 and a 4000x3000 image (and with ``--mosaic`` a 20000x20000 one: 1.2 GB of pixels, about a
minute more), at "fit" zoom and at 100 %, with a 12 px brush and 6 px segments (a fast hand at 60 Hz), inside one
stroke. Also prints the end-of-stroke cost (diff + journal append with fsync),
which happens once per stroke on mouse release, not per segment.

    python benchmarks/brush_latency.py [--segments 200] [--mosaic]

Last line: ``brush segment 4000x3000: N ms`` (median of the mouse-move path at the worse of the two zoom levels).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402


CASES = (("small", (448, 448), "448x448"), ("large", (3000, 4000), "4000x3000"))
MOSAIC = ("mosaic", (20000, 20000), "20000x20000")


def make_dataset(root: Path, cases=CASES) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for name, (h, w), _ in cases:
        base = cv2.resize(rng.integers(90, 170, (h // 16 + 1, w // 16 + 1), dtype=np.uint8), (w, h),
                          interpolation=cv2.INTER_CUBIC)
        img = cv2.merge([base, base, base])
        cv2.line(img, (0, h // 3), (w - 1, h // 2), (40, 40, 40), max(2, w // 400))
        cv2.imwrite(str(root / "images" / f"{name}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        m = np.zeros((h, w), np.uint8)
        cv2.line(m, (0, h // 3), (w - 1, h // 2), 255, max(2, w // 400))
        cv2.imwrite(str(root / "masks" / f"{name}.png"), m)
    (root / "manifest.csv").write_text("name,label,split\n" + "".join(f"{c[0]},1,train\n" for c in cases))
    return root


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--segments", type=int, default=200)
    ap.add_argument("--brush", type=float, default=12.0)
    ap.add_argument("--mosaic", action="store_true", help="also a 20000x20000 image")
    args = ap.parse_args(argv)

    from PySide6.QtCore import QEvent, QObject, QPointF, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from crackviewer.annotate.panel import AnnotatePanel
    from crackviewer.qt.style import apply_style

    apply_style(app)

    class PaintCounter(QObject):
        def __init__(self):
            super().__init__()
            self.n = 0

        def eventFilter(self, obj, ev):  # noqa: N802
            if ev.type() == QEvent.Paint:
                self.n += 1
            return False

    tmp = Path(tempfile.mkdtemp(prefix="brush_latency_"))
    try:
        cases = CASES + ((MOSAIC,) if args.mosaic else ())
        ds = make_dataset(tmp / "ds", cases)
        panel = AnnotatePanel(autosave_ms=10_000)          # keep autosave out of the timed loop
        panel.resize(1400, 900)
        panel.show()
        app.processEvents()
        panel.open_dataset(ds)
        counter = PaintCounter()
        panel.canvas.viewport().installEventFilter(counter)
        panel.brush_size = args.brush
        headline = {}
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"brush {args.brush:.0f} px, segments of 6 px, {args.segments} segments per case, "
              f"viewport {panel.canvas.viewport().width()}x{panel.canvas.viewport().height()}, "
              f"{os.cpu_count()} CPUs, load average {load:.1f}")
        for name, _, label in cases:
            panel.open_sample(name)
            h, w = panel.session.model.shape
            for zoom in ("fit", "100%"):
                if zoom == "fit":
                    panel.canvas.fit()
                else:
                    panel.canvas.zoom_1to1()
                    panel.canvas.centerOn(QPointF(w / 2, h / 2))
                for _ in range(5):
                    app.processEvents()
                # a path around the view centre that stays inside the viewport at both zoom levels
                vis = panel.canvas.mapToScene(panel.canvas.viewport().rect()).boundingRect()
                cx, cy = vis.center().x(), vis.center().y()
                rad = 0.3 * min(vis.width(), vis.height(), w, h)
                step = 6.0
                n = args.segments
                angles = np.arange(n + 1) * step / max(rad, 1.0)
                pts = [(cx + rad * np.cos(a), cy + rad * np.sin(a)) for a in angles]
                model = panel.session.model
                # (a) the segment core: model + overlay recolour + repaint of the damaged region
                model.begin_stroke("brush")
                core = []
                for i in range(n):
                    before = counter.n
                    t0 = time.perf_counter()
                    panel.paint_segment(pts[i], pts[i + 1], 1)
                    for _ in range(50):               # until the viewport has repainted the damaged region
                        app.processEvents()
                        if counter.n > before:
                            break
                    core.append((time.perf_counter() - t0) * 1e3)
                panel.end_stroke()
                panel._autosave.stop()
                model.undo()
                panel.repaint_mask(None, full=True)
                # (b) the whole mouse-move path: a real QMouseEvent through the viewer, the brush tool (cursor ring,
                # segment, overlay), the status line, and the repaint
                vpts = [panel.canvas.mapFromScene(QPointF(x, y)) for x, y in pts]
                vport = panel.canvas.viewport()
                QTest.mousePress(vport, Qt.LeftButton, Qt.NoModifier, vpts[0])
                full, cpu = [], []
                for i in range(1, n + 1):
                    before = counter.n
                    t0, c0 = time.perf_counter(), time.process_time()
                    QTest.mouseMove(vport, vpts[i])
                    for _ in range(50):
                        app.processEvents()
                        if counter.n > before:
                            break
                    full.append((time.perf_counter() - t0) * 1e3)
                    cpu.append((time.process_time() - c0) * 1e3)
                t0 = time.perf_counter()
                QTest.mouseRelease(vport, Qt.LeftButton, Qt.NoModifier, vpts[-1])
                t_end = (time.perf_counter() - t0) * 1e3
                panel._autosave.stop()
                for name_, t in (("segment core", np.array(core[5:])), ("mouse-move path", np.array(full[5:]))):
                    med, p95, mx = np.median(t), np.percentile(t, 95), t.max()
                    if name_ == "mouse-move path":
                        headline.setdefault(label, []).append(med)
                    print(f"{label:>9} zoom {zoom:>4} (scale {panel.canvas.scale_factor():.3f}) {name_:>15}: "
                          f"median {med:.2f} ms, p95 {p95:.2f} ms, max {mx:.2f} ms")
                c = np.array(cpu[5:])
                print(f"{label:>9} zoom {zoom:>4} (scale {panel.canvas.scale_factor():.3f}) {'CPU time':>15}: "
                      f"median {np.median(c):.2f} ms, p95 {np.percentile(c, 95):.2f} ms (this process only: "
                      "wall-clock spikes above are other processes taking the CPU)")
                print(f"{label:>9} zoom {zoom:>4} end of stroke (diff + journal append + fsync, once per stroke): "
                      f"{t_end:.1f} ms")
                panel.session.model.undo()
                panel.repaint_mask(None, full=True)
        for label in [c[2] for c in cases if c[2] != "4000x3000"]:
            print(f"brush segment {label}: {max(headline[label]):.2f} ms")
        panel.session.saved_revision = panel.session.model.revision   # nothing to save: the benchmark undid it
        panel.shutdown()
        print(f"brush segment 4000x3000: {max(headline['4000x3000']):.2f} ms")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
