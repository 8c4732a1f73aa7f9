"""Render the annotation panel offscreen to PNGs for the README (docs/screenshots/annotate_*.png: polyline,
tracer, help, brush, failed_save, review).

Uses real samples from ../shared/data/cracks when present: a handful are *copied* into a temporary manifest dataset
(the shared data is never written to), one of them without its mask so the list shows a weakly labelled sample.
Without the shared data a small synthetic dataset is used instead.

    python scripts/screenshots_annotate.py [--data DIR] [--run RUN_DIR | --eval EVAL_DIR] [--out docs/screenshots]

``--run``: a trained run, evaluated here on the copied samples (``crack-train eval``, every split); ``--eval``: an
evaluation folder that already covers them. Either enables the prediction outline and the review-queue screenshot.
"""
from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data" / "cracks"
PICK = ["cfd_003", "cfd_011", "cfd_018", "cfd_027", "cfd_040", "cfd_052", "cfd_064", "cfd_077", "masonry_a_0_10",
        "masonry_a_0_11", "masonry_a_0_15"]


def copy_subset(src: Path, dst: Path, names: list[str], weak: set[str]) -> Path:
    (dst / "images").mkdir(parents=True)
    (dst / "masks").mkdir()
    with open(src / "manifest.csv", newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    by = {r["name"]: r for r in rows}
    negs = [r["name"] for r in rows if r["label"] == "0"][:2]
    chosen = [n for n in names if n in by] + negs
    with open(dst / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "label", "split"])
        for n in chosen:
            r = by[n]
            img = next((src / "images").glob(f"{n}.*"))
            shutil.copy2(img, dst / "images" / img.name)
            if n not in weak and (src / "masks" / f"{n}.png").is_file():
                shutil.copy2(src / "masks" / f"{n}.png", dst / "masks" / f"{n}.png")
            w.writerow([n, r["label"], r["split"]])
    return dst


def trace_points(mask_path: Path, step: int = 28) -> list[tuple[float, float]]:
    """Points along the real crack's centre line (what a user clicks or drags along): the longest skeleton piece of
    the ground-truth mask, sampled every ``step`` pixels along its main direction."""
    import cv2
    import numpy as np

    from crackviewer.annotate.review_queue import thin
    from trainer.datasets.images import read_mask

    if not mask_path.is_file():
        return []
    skel = thin(read_mask(mask_path)).astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(skel, connectivity=8)
    if n < 2:
        return []
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    ys, xs = np.nonzero(lab == best)
    horizontal = np.ptp(xs) >= np.ptp(ys)
    along, across = (xs, ys) if horizontal else (ys, xs)
    pts = []
    for a0 in range(int(along.min()), int(along.max()) + 1, step):
        sel = (along >= a0) & (along < a0 + 3)
        if sel.any():
            a, c = float(np.median(along[sel])), float(np.median(across[sel]))
            pts.append((a, c) if horizontal else (c, a))
    return pts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--eval", default=None)
    ap.add_argument("--run", default=None, help="a trained run: it is evaluated on every split of the copied samples "
                    "(crack-train eval) and used as the prediction source")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from crackviewer.annotate.panel import AnnotatePanel
    from crackviewer.qt.style import apply_style

    apply_style(app)
    tmp = Path(tempfile.mkdtemp(prefix="annotate_shots_"))
    try:
        src = Path(args.data)
        if (src / "manifest.csv").is_file():
            ds = copy_subset(src, tmp / "cracks", PICK, weak={"cfd_018", "cfd_040", "cfd_052"})
            sample = "cfd_018"
        else:
            from trainer.datasets.synthetic import make_synthetic_dataset
            ds = make_synthetic_dataset(tmp / "cracks", n_train_pos=6, n_train_neg=2, n_val_pos=2, n_val_neg=1,
                                        n_test_pos=2, n_test_neg=1, size=(320, 480), seed=4)
            sample = "syn_train_0001"

        if args.run and not args.eval:
            import subprocess

            from trainer.datasets.layouts import open_dataset
            ev = tmp / "eval"
            for split in open_dataset(ds).splits:
                subprocess.run([sys.executable, "-m", "trainer", "eval", "--run", args.run, "--data", str(ds),
                                "--split", split, "--out", str(ev / "evals" / split)], check=True,
                               stdout=subprocess.DEVNULL)
            args.eval = str(ev)

        p = AnnotatePanel(autosave_ms=50)
        p.resize(1400, 900)
        p.show()
        app.processEvents()
        p.open_dataset(ds)
        if args.eval:
            p.set_prediction_source(args.eval)
        p.activateWindow()

        def pump(n=8):
            for _ in range(n):
                app.processEvents()

        def vp(x, y):
            return p.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))

        def shot(name):
            pump()
            path = out / f"annotate_{name}.png"
            p.grab().save(str(path))
            print(path)

        # 1. a weakly labelled asphalt crack being traced with the crack-line tool
        p.open_sample(sample)
        pump()
        p.set_tool("polyline")
        p.size_slider.setValue(4)
        v = p.canvas.viewport()
        pts = trace_points(src / "masks" / f"{sample}.png") if sample == "cfd_018" else []
        if len(pts) >= 6:
            k = int(len(pts) * 0.55)
            trace, more = pts[:k], pts[k:k + 3]
        else:
            trace = [(40, 60), (120, 110), (200, 140)]
            more = [(260, 180)]
        for x, y in trace:
            QTest.mouseClick(v, Qt.LeftButton, Qt.NoModifier, vp(x, y))
        QTest.mouseDClick(v, Qt.LeftButton, Qt.NoModifier, vp(*trace[-1]))
        p.wait_idle()
        for x, y in more[:-1]:
            QTest.mouseClick(v, Qt.LeftButton, Qt.NoModifier, vp(x, y))
        QTest.mouseMove(v, vp(*more[-1]))
        if args.eval:
            p.pred_check.setChecked(True)
        shot("polyline")
        p.tool.cancel()

        # 1b. the crack tracer on a real (weakly labelled) crack: one segment committed, the live preview to the cursor
        traced = "cfd_040" if sample == "cfd_018" else sample
        p.open_sample(traced)
        p.canvas.fit()
        p.set_tool("trace")
        h, w = p.session.model.shape
        tp = trace_points(src / "masks" / f"{traced}.png", step=12) or \
            [(w * 0.1, h * 0.5), (w * 0.5, h * 0.5), (w * 0.9, h * 0.5)]
        QTest.mouseClick(v, Qt.LeftButton, Qt.NoModifier, vp(*tp[0]))
        mid = tp[len(tp) // 2]
        QTest.mouseClick(v, Qt.LeftButton, Qt.NoModifier, vp(*mid))
        for q in tp[len(tp) // 2 + 1:]:
            QTest.mouseMove(v, vp(*q))
            pump(2)
        import time
        time.sleep(0.15)                              # the mouse rests: the tracer's search catches up
        pump()
        p.flash(f"Crack tracer: {len(p.tool.preview_points())} px previewed from the last click to the cursor")
        shot("tracer")
        p.tool.cancel()

        # 2. the shortcut overlay
        p.toggle_help()
        shot("help")
        p.toggle_help()

        # 3. brushing a segmented masonry crack, zoomed in, with the brush ring
        seg = "cfd_040" if sample == "cfd_018" else "syn_train_0002"
        p.open_sample(seg)
        p.set_tool("brush")
        p.size_slider.setValue(5)
        h, w = p.session.model.shape
        path = trace_points(src / "masks" / f"{seg}.png", step=5) or \
            [(w * (0.3 + 0.02 * t), h * (0.6 - 0.01 * t)) for t in range(12)]
        path = path[len(path) // 5: len(path) // 5 + max(4, int(len(path) * 0.45))]
        p.canvas.fit()
        p.canvas.zoom_by(1.5, QPointF(p.canvas.mapFromScene(QPointF(*path[-1]))))
        pump()
        QTest.mousePress(v, Qt.LeftButton, Qt.NoModifier, vp(*path[0]))
        for q in path[1:]:
            QTest.mouseMove(v, vp(*q))
        QTest.mouseRelease(v, Qt.LeftButton, Qt.NoModifier, vp(*path[-1]))
        QTest.mouseMove(v, vp(*path[-1]))
        p.wait_idle()
        shot("brush")

        # 4. a failing save: the mask path is blocked by a folder
        victim = "cfd_052" if sample == "cfd_018" else "syn_train_0003"
        blocker = ds / "masks" / f"{victim}.png"
        blocker.mkdir()
        p.open_sample(victim)
        p.canvas.fit()
        p.set_tool("brush")
        h, w = p.session.model.shape
        path = trace_points(src / "masks" / f"{victim}.png", step=6) or [(w * 0.2, h * 0.5), (w * 0.5, h * 0.45)]
        path = path[: max(2, len(path) // 2)]
        QTest.mousePress(v, Qt.LeftButton, Qt.NoModifier, vp(*path[0]))
        for q in path[1:]:
            QTest.mouseMove(v, vp(*q))
        QTest.mouseRelease(v, Qt.LeftButton, Qt.NoModifier, vp(*path[-1]))
        p.wait_idle()
        p.set_filter("unsaved")
        shot("failed_save")
        blocker.rmdir()
        p.save_now()
        p.set_filter("all")

        # 5. the review queue (needs a prediction source)
        if args.eval:
            p.set_filter("review")
            for _ in range(400):
                pump(1)
                if not p._ranking:
                    break
                import time
                time.sleep(0.02)
            if p.list_model.names:
                # the highest-ranked sample on which the model predicts something (so its outline shows)
                from crackviewer.annotate.mask_model import prediction_mask
                pick = p.list_model.names[0]
                for n in p.list_model.names:
                    prob = p.source.prob(n)
                    if prob is not None and prediction_mask(prob, p.thr_spin.value(), prob.shape).sum() > 20:
                        pick = n
                        break
                p.open_sample(pick)
                p.pred_check.setChecked(True)
                p.set_opacity(0.45)
            shot("review")
        p.shutdown()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
