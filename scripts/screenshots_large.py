"""Screenshots of a 4000x3000 photo in Inspect and in Annotate, zoomed to a hairline crack, the prediction overlaid
at full resolution: docs/screenshots/large_inspect.png and large_annotate.png.

    python scripts/screenshots_large.py                      # the real run ../runs/real160c, mode "native"
    python scripts/screenshots_large.py --run RUN --mode photos

The shared data (``../shared/data/cracks``) has no photo larger than 480x320, so the "photo" is a 4000x3000 mosaic of
real CrackForest photos (``cfd_*``, 480x320 each, at their own resolution: 9 x 10 of them, cropped) and its
ground-truth masks. The prediction (``crack-train predict``):

* ``--mode native`` (default): sliding windows over the whole mosaic at native resolution (``--native``): one map
  at full resolution.
* ``--mode photos``: each photo predicted on its own (the run's resize mode), maps back at 480x320, put in the same
  mosaic (quicker when native windows are too slow on the CPU).

An evaluation of the mosaic (``crack-train eval``, model-size maps) gives Inspect its folder; its map is then
replaced by the full-resolution one (Inspect stretches a map of any size over the image, so the viewer draws the
prediction at the photo's resolution). The sample-level numbers Inspect prints come from that evaluation.
"""
from __future__ import annotations

import argparse
import os
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

SHARED = ROOT.parent / "shared" / "data" / "cracks"
W, H, COLS, ROWS, CW, CH = 4000, 3000, 9, 10, 480, 320
NAME = "mosaic"


def build_mosaic(data: Path, ds: Path) -> tuple[list[str], np.ndarray]:
    """The mosaic dataset (one test sample) from the first 90 ``cfd_*`` photos; returns their names and the GT."""
    names = sorted(p.stem for p in (data / "images").glob("cfd_*.jpg"))[:COLS * ROWS]
    if len(names) < COLS * ROWS:
        raise SystemExit(f"{data}: needs {COLS * ROWS} cfd_* photos, found {len(names)}")
    img = np.zeros((ROWS * CH, COLS * CW, 3), np.uint8)
    gt = np.zeros((ROWS * CH, COLS * CW), np.uint8)
    for k, n in enumerate(names):
        y, x = (k // COLS) * CH, (k % COLS) * CW
        img[y:y + CH, x:x + CW] = cv2.imread(str(data / "images" / f"{n}.jpg"))
        m = cv2.imread(str(data / "masks" / f"{n}.png"), cv2.IMREAD_GRAYSCALE)
        gt[y:y + CH, x:x + CW] = np.where(m > 127, 255, 0)
    img, gt = img[:H, :W], gt[:H, :W]
    (ds / "images").mkdir(parents=True)
    (ds / "masks").mkdir()
    cv2.imwrite(str(ds / "images" / f"{NAME}.png"), img)
    cv2.imwrite(str(ds / "masks" / f"{NAME}.png"), gt)
    (ds / "manifest.csv").write_text(f"name,label,split\n{NAME},1,test\n")
    return names, gt


def predict_native(run: Path, ds: Path, work: Path) -> np.ndarray:
    out = work / "pred"
    subprocess.run([sys.executable, "-m", "trainer", "predict", "--run", str(run), "--native", "--out", str(out),
                    str(ds / "images" / f"{NAME}.png")], check=True, stdout=subprocess.DEVNULL)
    return cv2.imread(str(out / f"{NAME}_prob.png"), cv2.IMREAD_GRAYSCALE)


def predict_photos(run: Path, data: Path, names: list[str], work: Path) -> np.ndarray:
    out = work / "pred"
    subprocess.run([sys.executable, "-m", "trainer", "predict", "--run", str(run), "--out", str(out),
                    *[str(data / "images" / f"{n}.jpg") for n in names]], check=True, stdout=subprocess.DEVNULL)
    prob = np.zeros((ROWS * CH, COLS * CW), np.uint8)
    for k, n in enumerate(names):
        y, x = (k // COLS) * CH, (k % COLS) * CW
        p = cv2.imread(str(out / f"{n}_prob.png"), cv2.IMREAD_GRAYSCALE)
        prob[y:y + CH, x:x + CW] = cv2.resize(p, (CW, CH), interpolation=cv2.INTER_LINEAR)
    return prob[:H, :W]


def hairline(gt: np.ndarray) -> tuple[float, float]:
    """The centre of the thinnest long GT crack: the cell whose cracks are longest for their widest point."""
    best, where = None, (W / 2, H / 2)
    for k in range(COLS * ROWS):
        y, x = (k // COLS) * CH, (k % COLS) * CW
        cell = (gt[y:y + CH, x:x + CW] > 0).astype(np.uint8)
        if cell.shape != (CH, CW) or cell.sum() < 400:
            continue
        width = 2 * float(cv2.distanceTransform(cell, cv2.DIST_L2, 3).max())
        score = (width, -int(cell.sum()))
        if best is None or score < best:
            ys, xs = np.nonzero(cell)
            i = int(np.argsort(xs)[len(xs) // 2])
            best, where = score, (float(x + xs[i]), float(y + ys[i]))
    return where


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default=str(ROOT.parent / "runs" / "real160c"))
    ap.add_argument("--data", default=str(SHARED))
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--mode", choices=("native", "photos"), default="native")
    ap.add_argument("--zoom", type=float, default=4.0)
    ap.add_argument("--prob-cache", default=str(Path(tempfile.gettempdir()) / "screenshots_large_prob.png"),
                    help="the full-resolution map is kept here and reused (native prediction takes minutes)")
    args = ap.parse_args(argv)
    run, data, out = Path(args.run), Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="large_shots_"))
    try:
        ds = work / "ds"
        names, gt = build_mosaic(data, ds)
        cache = Path(f"{args.prob_cache}.{args.mode}.png")
        t0 = time.perf_counter()
        if cache.is_file():
            prob = cv2.imread(str(cache), cv2.IMREAD_GRAYSCALE)
        else:
            prob = predict_native(run, ds, work) if args.mode == "native" else predict_photos(run, data, names, work)
            cv2.imwrite(str(cache), prob)
        print(f"prediction ({args.mode}) {prob.shape[1]}x{prob.shape[0]} in {time.perf_counter() - t0:.0f} s")
        ev = work / "ev" / "evals" / "test"
        subprocess.run([sys.executable, "-m", "trainer", "eval", "--run", str(run), "--data", str(ds), "--split",
                        "test", "--out", str(ev), "--no-report"], check=True, stdout=subprocess.DEVNULL)
        cv2.imwrite(str(ev / "probs" / f"{NAME}.png"), prob)       # the full-resolution map replaces the 160x160
        centre = hairline(gt)
        print(f"hairline crack at {centre}")
        shoot(ev, ds, centre, args.zoom, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _pump(app, view=None, seconds: float = 0.6) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end or (view is not None and view.tiles_pending()):
        app.processEvents()
        time.sleep(0.01)


def _zoom_to(view, zoom: float, centre: tuple[float, float]) -> None:
    from PySide6.QtCore import QPointF

    view.fit()
    view.zoom_by(zoom / view.scale_factor())         # (zoom_by tells the zoom read-outs)
    view.centerOn(QPointF(*centre))


def shoot(ev: Path, ds: Path, centre: tuple[float, float], zoom: float, out: Path) -> None:
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    from crackviewer.annotate.panel import AnnotatePanel
    from crackviewer.inspect.panel import InspectPanel
    from crackviewer.qt.style import apply_style

    app = QApplication.instance() or QApplication([])
    apply_style(app)
    panel = InspectPanel()
    panel.resize(1600, 1000)
    panel.show()
    app.processEvents()
    if not panel.open_eval(ev):
        raise SystemExit(f"cannot open {ev}: {panel.banner.text()}")
    panel.model.set_current(0)
    _pump(app, None, 2.0)
    v = panel.viewer.view.right
    _zoom_to(v, zoom, centre)
    _pump(app, v)
    # the image pane only: the numbers beside it are the evaluation's, of the mosaic shrunk to the run's 160x160
    panel.viewer.info.hide()
    _pump(app, v, 0.3)
    path = out / "large_inspect.png"
    panel.viewer.grab().save(str(path))
    print(f"wrote {path}")
    panel.close()

    p = AnnotatePanel(autosave_ms=600_000)
    p.resize(1400, 900)
    p.show()
    app.processEvents()
    p.open_dataset(ds)
    p.set_prediction_source(ev.parent.parent)
    p.open_sample(NAME)
    p.pred_check.setChecked(True)
    _pump(app, p.canvas, 1.0)
    _zoom_to(p.canvas, zoom, centre)
    _pump(app, p.canvas)
    path = out / "large_annotate.png"
    p.grab().save(str(path))
    print(f"wrote {path}")
    p.session.saved_revision = p.session.model.revision      # nothing edited
    p.shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
