"""Render the inspection window offscreen into docs/screenshots/inspect_*.png.

    python scripts/screenshots_inspect.py                 # a demo run (+ a real run under runs/ when there is one)
    python scripts/screenshots_inspect.py --run runs/R    # a given run folder
    python scripts/screenshots_inspect.py --out DIR

The crack views (``inspect_crack_metrics``, ``inspect_reliability``, ``inspect_measure``, ``inspect_uncertainty``,
``inspect_1280x800``) need an evaluation with the crack metrics' arrays (``crack-train eval`` writes them; older
evaluations: ``scripts/crack_record_arrays.py``). The demo's uncertainty maps are simulated.

The demo runs are made by ``tests/fakes.py`` on the real crack photos of ``../shared/data/cracks`` (test split)
with simulated probability maps, so the pictures show real images and masks; when that data is missing, on the
fakes' own synthetic dataset. A real trained run (``--run``, or the newest finished run with an evaluation under
``runs/``) is rendered as ``inspect_real_*.png``.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZE = (1600, 1000)
SMALL = (1280, 800)
SHARED = ROOT.parent / "shared" / "data" / "cracks"


def _settle(app, panel, ms: int = 150) -> None:
    panel.gallery.loader.wait_idle(20)
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    panel.gallery.loader.wait_idle(20)
    app.processEvents()


def _save(panel, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not panel.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path}")
    return path


def _worst_positive(m) -> int:
    for i in m.order:
        if m.labels[i] > 0 and m.segmented[i] and m.pred_pixels[i] > 0:
            return int(i)
    return int(m.order[0])


def _middling_positive(m) -> int:
    """A crack image with a long crack and a Dice near the middle of the positives (misses and hits both show)."""
    import numpy as np

    pos = [int(i) for i in range(m.n) if m.labels[i] > 0 and m.segmented[i] and m.gt_pixels[i] > 0]
    hits = [i for i in pos if m.dice[i] > 0.05]
    pos = hits or pos
    if not pos:
        return int(m.order[0])
    d = np.array([m.dice[i] for i in pos])
    big = np.array([m.gt_pixels[i] for i in pos]) >= np.median([m.gt_pixels[i] for i in pos])
    target = np.nanpercentile(d, 35)
    score = np.abs(d - target) + np.where(big, 0.0, 1.0)
    return pos[int(np.nanargmin(score))]


def shoot(app, run_dir: Path, out: Path, prefix: str, run_b: Path | None = None) -> list[Path]:
    from crackviewer.inspect.panel import InspectPanel

    panel = InspectPanel()
    panel.resize(*SIZE)
    panel.show()
    app.processEvents()
    if not panel.open_run(run_dir):
        raise SystemExit(f"cannot open {run_dir}: {panel.banner.text()}")
    m = panel.model
    shots = []

    # 1. overview: sorted by Dice (worst first), the worst crack image open with its error map
    m.set_sort("dice_empty_ok", ascending=True)
    m.set_current(_worst_positive(m))
    _settle(app, panel, 300)
    shots.append(_save(panel, out / f"{prefix}overview.png"))

    # 2. side by side, GT | prediction with the heatmap, zoomed in on the crack of a middling sample
    v = panel.viewer.view
    mid = _middling_positive(m)
    m.set_current(mid)
    panel.viewer.sbs.setChecked(True)
    panel.toggle_overlay("heatmap")
    panel.toggle_overlay("errors")
    _settle(app, panel)
    v.right.zoom_by(2.0)
    gt = panel.sample.gt
    if gt is not None and gt.any():
        import numpy as np
        from PySide6.QtCore import QPointF

        ys, xs = np.nonzero(gt)
        v.right.centerOn(QPointF(float(np.median(xs)), float(np.median(ys))))
    _settle(app, panel)
    shots.append(_save(panel, out / f"{prefix}side_by_side.png"))
    panel.viewer.sbs.setChecked(False)
    panel.toggle_overlay("heatmap")
    panel.toggle_overlay("errors")
    v.fit()

    # 3. thresholds moved: lower seg threshold, masks gated, only the misclassified images
    m.set_thresholds(seg=max(0.05, m.seg_threshold - 0.25), image=m.presets["image_optimal"].value, gated=True)
    m.set_outcome_filter(["FP", "FN"])
    if m.visible_count == 0:
        m.set_outcome_filter(["TP", "FP", "FN"])
    if m.order.size:
        m.set_current(int(m.order[0]))
    _settle(app, panel, 300)
    shots.append(_save(panel, out / f"{prefix}thresholds.png"))
    m.reset_filters()
    m.set_gated(False)
    m.reset_seg("validation")
    m.reset_image("validation")

    # 4. crack metrics (issue 13): statistics, tolerance PR, reliability; sorted by tolerance F1
    shots += crack_shots(app, panel, out, prefix)

    # 5. comparison with a second run
    if run_b is not None:
        panel.tabs.setCurrentWidget(panel.compare)
        panel.compare.open_b_path(run_b)
        _settle(app, panel, 300)
        shots.append(_save(panel, out / f"{prefix}compare.png"))
    panel.gallery.loader.shutdown()
    panel.close()
    return shots


def crack_shots(app, panel, out: Path, prefix: str) -> list[Path]:
    """Statistics and curves with the crack metrics, the reliability diagram, the measurement layer with the crack
    table, the uncertainty layer (when the evaluation has maps), and the window at 1280x800."""
    m, shots = panel.model, []
    if m.crack_view is None:
        print("no crack metrics in this evaluation: run scripts/crack_record_arrays.py on it first")
        return shots
    m.set_sort("f1_tol", ascending=True)
    mid = _middling_positive(m)
    m.set_current(mid)
    _settle(app, panel, 300)
    shots.append(_save(panel, out / f"{prefix}crack_metrics.png"))
    panel.curve_tabs.setCurrentWidget(panel.reliability)
    _settle(app, panel)
    shots.append(_save(panel, out / f"{prefix}reliability.png"))
    # measurement layer: the widest predicted crack zoomed in, its row selected
    panel.curve_tabs.setCurrentWidget(panel.measure)
    panel.toggle_overlay("errors")
    panel.toggle_overlay("measure")
    res = panel.samples.remeasure(now=True)
    if res is not None and res.rows:
        panel.measure.table.selectRow(0)
        panel.samples.zoom_to(res.rows[0]["bbox"])
    _settle(app, panel)
    shots.append(_save(panel, out / f"{prefix}measure.png"))
    panel.toggle_overlay("measure")
    panel.toggle_overlay("errors")
    panel.viewer.view.fit()
    if panel.viewer.overlay_buttons["uncertainty"].isEnabled():
        m.set_sort("uncertainty", ascending=False)
        m.set_current(next((int(i) for i in m.order if m.labels[i] > 0), int(m.order[0])))
        panel.curve_tabs.setCurrentWidget(panel.curves)
        panel.toggle_overlay("uncertainty")
        _settle(app, panel, 300)
        shots.append(_save(panel, out / f"{prefix}uncertainty.png"))
        panel.toggle_overlay("uncertainty")
    panel.curve_tabs.setCurrentWidget(panel.curves)
    m.set_sort("dice_empty_ok", ascending=True)
    m.set_current(mid)
    panel.resize(*SMALL)
    _settle(app, panel, 300)
    shots.append(_save(panel, out / f"{prefix}1280x800.png"))
    panel.resize(*SIZE)
    _settle(app, panel)
    return shots


def demo_uncertainty(run: Path) -> None:
    """Simulated uncertainty maps for a demo run (the spread is largest where the demo map is near 0.5, blurred),
    written where ``crack-train eval --tta`` puts real ones."""
    import cv2
    import numpy as np

    from scripts.crack_record_arrays import write_uncertainty_maps
    from trainer.runs import paths

    maps = {}
    for p in sorted((run / paths.PROBS).glob("*.png")):
        prob = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
        u = cv2.GaussianBlur(2 * prob * (1 - prob), (0, 0), 2)           # std-like spread, at most 0.5
        maps[p.stem] = np.clip(np.round(u / 0.5 * 255), 0, 255).astype(np.uint8)
    write_uncertainty_maps(run, maps)


def demo_runs(tmp: Path) -> tuple[Path, Path]:
    from tests.fakes import make_fake_run

    data = SHARED if (SHARED / "manifest.csv").is_file() else None
    kw = {"data": data} if data is not None else {"n_samples": 60, "size": 128}
    a = make_fake_run(tmp, name="demo-run-A", quality=0.85, seed=3, **kw)
    b = make_fake_run(tmp, name="demo-run-B", quality=0.55, seed=11,
                      **({"data": data} if data is not None else {"n_samples": 60, "size": 128,
                                                                  "data": tmp / "data"}))
    from scripts.crack_record_arrays import add_crack_arrays

    demo_uncertainty(a)
    add_crack_arrays(a)
    return a, b


def newest_real_run() -> Path | None:
    runs = ROOT / "runs"
    if not runs.is_dir():
        return None
    cands = [d for d in runs.iterdir() if (d / "samples.npz").is_file() and (d / "metrics.json").is_file()]
    return max(cands, key=lambda d: (d / "metrics.json").stat().st_mtime) if cands else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="a real run folder to render as inspect_real_*.png")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--no-demo", action="store_true", help="skip the demo runs")
    args = ap.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["crackviewer"])
    from crackviewer.qt.style import apply_style

    apply_style(app)
    out = Path(args.out)
    if not args.no_demo:
        with tempfile.TemporaryDirectory() as tmp:
            a, b = demo_runs(Path(tmp))
            shoot(app, a, out, "inspect_", run_b=b)
    real = Path(args.run) if args.run else newest_real_run()
    if real is not None:
        shoot(app, real, out, "inspect_real_")
    else:
        print("no real run found (runs/*/samples.npz): only the demo screenshots were made")
    return 0


if __name__ == "__main__":
    sys.exit(main())
