"""The inspection window (pytest-qt, offscreen): gallery sorting and filtering, both sliders, gating, the curve click,
keyboard, export, and the "worst sample in two clicks" flow."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from crackviewer.inspect.threshold_model import OUTCOMES
from tests.fakes import make_fake_run
from trainer.metrics import image as MI
from trainer.metrics import pixels as MP

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_fake_run(tmp_path_factory.mktemp("gui"), n_samples=30, size=48, with_val_eval=True)


@pytest.fixture()
def panel(qtbot, run_dir):
    from crackviewer.inspect.panel import InspectPanel

    p = InspectPanel()
    qtbot.addWidget(p)
    p.resize(1400, 900)
    p.show()
    qtbot.waitExposed(p)
    assert p.open_run(run_dir)
    yield p
    p.gallery.loader.shutdown()


def _mean_dice_text(p) -> str:
    return p.stats.text()


def _click_tile(qtbot, p, row: int) -> None:
    view = p.gallery.view
    idx = p.gallery.list_model.index(row)
    view.scrollTo(idx)
    rect = view.visualRect(idx)
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=rect.center())


def test_opens_run_with_gallery_stats_and_curves(panel, run_dir):
    m = panel.model
    met = json.loads((run_dir / "metrics.json").read_text())
    assert m.n == met["n"] == panel.gallery.list_model.rowCount()
    assert panel.eval_combo.count() == 2                     # test (run folder) + evals/val
    assert f"{m.stats['dice_mean']:.3f}" in _mean_dice_text(panel)
    assert panel.curves.c_roc.getData()[0].size > 2
    assert not panel.banner.isVisible()
    assert m.current is not None and panel.sample is not None


def test_worst_sample_in_two_clicks(qtbot, panel):
    """Sort by Dice (click 1: the sort box), open the first tile (click 2): it is the worst sample and its error
    map shows where it fails."""
    m = panel.model
    m.set_sort("name")
    panel.gallery.sort_combo.setCurrentIndex(0)             # "Dice" (empty GT handled, ascending)
    assert m.sort_key == "dice_empty_ok" and m.ascending
    _click_tile(qtbot, panel, 0)
    worst = m.current
    assert m.dice_empty_ok[worst] == np.nanmin(m.dice_empty_ok)
    assert panel.sample.name == m.names[worst]
    err = panel.viewer.view.right.layer("errors").pixels
    assert err[..., 3].any(), "the error map of the worst sample shows its failures"
    assert panel.viewer.view.right.layer("errors").isVisible()
    assert m.names[worst] in panel.viewer.info.label.text()


def test_segmentation_slider_updates_everything(qtbot, panel):
    m = panel.model
    panel.gallery.sort_combo.setCurrentIndex(0)
    _click_tile(qtbot, panel, 0)
    ev = m.evaluation
    before = (m.stats["dice_mean"], panel.viewer.view.pred_mask.sum(), m.order.copy(),
              panel.curves.m_pix.getData()[0][0], _mean_dice_text(panel))
    k_new = MP.threshold_to_bin(0.2) if m.seg_bin > MP.threshold_to_bin(0.4) else MP.threshold_to_bin(0.85)
    panel.thresholds.seg_slider.setValue(k_new)
    assert m.seg_bin == k_new
    d, i = MP.dice_iou_from_hist(ev.hist_pos, ev.hist_neg, k_new)
    assert m.stats["dice_mean"] == MP.dice_stats(d, i, MP.dice_valid(ev.labels, ev.segmented))["dice_mean"]
    assert m.stats["dice_mean"] != before[0]
    assert f"{m.stats['dice_mean']:.3f}" in _mean_dice_text(panel) and _mean_dice_text(panel) != before[4]
    assert panel.viewer.view.pred_mask.sum() != before[1]                      # overlay redrawn
    qtbot.waitUntil(lambda: not panel.curves.pending)                          # the curves settle after the drag
    assert panel.curves.m_pix.getData()[0][0] != before[3]                     # operating point moved
    assert panel.curves.m_dice.getData()[0][0] == pytest.approx(m.seg_threshold)
    assert f"{m.stats['dice_mean']:.3f}" in panel.curves.readout.text()
    # the gallery re-sorts by the new Dice once the threshold rests (tiles do not jump while the slider moves)
    qtbot.waitUntil(lambda: not panel.gallery.list_model.resort_pending)
    np.testing.assert_array_equal(panel.gallery.list_model._order, m.order)
    dd = m.dice_empty_ok[m.order]
    assert np.all(np.diff(dd[~np.isnan(dd)]) >= 0)
    assert panel.thresholds.seg_spin.value() == pytest.approx(m.seg_threshold, abs=1e-4)
    # the numeric field snaps up to a bin edge
    panel.thresholds.seg_spin.setValue(0.33333)
    assert m.seg_bin == MP.threshold_to_bin(0.3333) and panel.thresholds.seg_slider.value() == m.seg_bin


def test_threshold_steps_recolour_tiles_at_once_and_resort_when_the_slider_rests(qtbot, panel):
    m, g = panel.model, panel.gallery
    g.sort_combo.setCurrentIndex(0)                 # sorted by a metric that moves with the threshold
    lm = g.list_model
    np.testing.assert_array_equal(lm._order, m.order)
    shown = lm._order.copy()
    painted = g.delegate.paint_count
    for t in (0.15, 0.3, 0.6, 0.9, 0.05):           # a fast drag: every step recolours, none re-sorts
        panel.thresholds.seg_slider.setValue(MP.threshold_to_bin(t))
        qtbot.wait(5)
        np.testing.assert_array_equal(lm._order, shown)
    assert g.delegate.paint_count > painted         # the visible tiles were repainted with the new colours
    if not np.array_equal(m.order, shown):
        assert lm.resort_pending
    qtbot.waitUntil(lambda: not lm.resort_pending)
    np.testing.assert_array_equal(lm._order, m.order)
    # a sort the user asks for applies at once
    g.order_button.setChecked(not g.order_button.isChecked())
    np.testing.assert_array_equal(lm._order, m.order)
    assert not lm.resort_pending


def test_tile_error_colours_match_a_brute_force_classification():
    from crackviewer.inspect.tile_images import TileImages
    from crackviewer.inspect.sample_store import Thumbnail

    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)
    prob8 = rng.integers(0, 256, (20, 24), dtype=np.uint8)
    gt = rng.random((20, 24)) < 0.3
    tints = (0x00102030, 0x00405060, 0x00708090)          # FP, TP, FN (premultiplied BGR words)
    tile = TileImages(Thumbnail(0, img, prob8, gt), tints)
    base = np.asarray(img[..., ::-1], np.uint32)
    base32 = (0xFF << 24) | (base[..., 2] << 16) | (base[..., 1] << 8) | base[..., 0]
    faded = (base32 >> 3) & 0x001F1F1F
    for k in (0, 1, 700, 2048, 4095, MP.B):
        v_min = MP.prob8_min_at_bin(k)
        tile.recolour(v_min)
        pred = MP.prob_to_bin(prob8 / 255.0) >= k
        want = np.where(pred & gt, faded + (0xFF000000 | tints[1]),
                        np.where(pred, faded + (0xFF000000 | tints[0]),
                                 np.where(gt, faded + (0xFF000000 | tints[2]), base32)))
        np.testing.assert_array_equal(tile.composite, want.astype(np.uint32))


def test_classification_slider_updates_counts_and_filters(qtbot, panel):
    m = panel.model
    panel.gallery.outcome_buttons["TP"].setChecked(False)
    panel.gallery.outcome_buttons["TN"].setChecked(False)
    assert m.outcome_filter == {"FP", "FN"}
    for v in (1000, 5000, 9000):
        panel.thresholds.img_slider.setValue(v)
        t = v / 10000
        assert m.image_threshold == t
        ref = MI.confusion_counts(m.labels, m.scores, t)
        for key in ("TP", "FP", "FN", "TN"):
            assert f"{key} {ref[key.lower()]}" in panel.stats.text()
        assert panel.gallery.list_model.rowCount() == ref["fp"] + ref["fn"]
        qtbot.waitUntil(lambda: not panel.curves.pending)
        assert panel.curves.m_roc.getData()[1][0] == pytest.approx(ref["tp"] / (ref["tp"] + ref["fn"]))
    panel.thresholds.img_spin.setValue(0.4321)
    assert m.image_threshold == pytest.approx(0.4321)


def test_filters_and_sorting_in_the_gallery(qtbot, panel):
    m = panel.model
    g = panel.gallery
    g.label_combo.setCurrentIndex(2)                         # negatives
    assert g.list_model.rowCount() == int((m.labels == 0).sum())
    assert all(m.labels[g.list_model.sample_at(r)] == 0 for r in range(g.list_model.rowCount()))
    g.label_combo.setCurrentIndex(0)
    g.dice_lo.setValue(0.5)
    g.dice_hi.setValue(0.9)
    rows = [g.list_model.sample_at(r) for r in range(g.list_model.rowCount())]
    assert rows and all(0.5 <= m.dice_empty_ok[i] <= 0.9 for i in rows)
    assert f"{len(rows)} of {m.n}" in g.count_label.text()
    g.dice_lo.setValue(0.0)
    g.dice_hi.setValue(1.0)
    g.sort_combo.setCurrentIndex(g.sort_combo.findData("score"))
    g.order_button.setChecked(True)                          # descending
    s = [m.scores[g.list_model.sample_at(r)] for r in range(g.list_model.rowCount())]
    assert s == sorted(s, reverse=True)
    g.sort_combo.setCurrentIndex(g.sort_combo.findData("name"))
    g.order_button.setChecked(False)
    names = [m.names[g.list_model.sample_at(r)] for r in range(g.list_model.rowCount())]
    assert names == sorted(names)
    qtbot.keyClicks(g.search, m.names[5])
    assert [m.names[g.list_model.sample_at(r)] for r in range(g.list_model.rowCount())] == [m.names[5]]


def test_tiles_show_dice_and_outcome(qtbot, panel):
    g = panel.gallery
    assert g.loader.wait_idle(10)
    qtbot.wait(50)
    img = g.view.viewport().grab().toImage()
    assert not img.isNull()
    # tooltips carry the numbers too
    i = g.list_model.sample_at(0)
    tip = g.list_model.data(g.list_model.index(0), Qt.ToolTipRole)
    m = panel.model
    assert f"{m.dice[i]:.3f}" in tip and OUTCOMES[m.outcome[i]] in tip
    assert g.loader.get(i) is not None


def test_gating_toggle(panel):
    m = panel.model
    m.set_image_threshold(0.7)
    neg_decision = np.flatnonzero(m.scores < 0.7)
    assert neg_decision.size
    i = int(neg_decision[0])
    m.set_current(i)
    m.set_seg_threshold(0.05)
    assert panel.viewer.view.pred_mask.any()
    ungated = m.stats["dice_mean"]
    panel.thresholds.gate_check.setChecked(True)
    assert m.gated
    assert not panel.viewer.view.pred_mask.any()                              # blank mask for this sample
    assert m.pred_pixels[i] == 0 and m.stats["dice_mean"] != ungated
    assert "gated" in panel.stats.note_label.text()
    assert "mask gated" in panel.viewer.info.label.text()
    panel.thresholds.gate_check.setChecked(False)
    assert m.stats["dice_mean"] == ungated


def test_reset_buttons(panel, run_dir):
    met = json.loads((run_dir / "metrics.json").read_text())
    m = panel.model
    panel.thresholds.seg_slider.setValue(100)
    panel.thresholds.seg_opt.click()
    assert m.seg_threshold == m.presets["seg_optimal"].value
    panel.thresholds.seg_val.click()
    assert m.seg_threshold == MP.snap_threshold(met["honest"]["seg_threshold"])
    panel.thresholds.img_opt.click()
    assert m.image_threshold == met["best_threshold"]
    panel.thresholds.img_val.click()
    assert m.image_threshold == met["honest"]["image_threshold"]
    assert str(round(met["best_threshold"], 4))[:5] in panel.thresholds.img_opt.toolTip()


def test_curve_click_sets_classification_threshold(qtbot, panel):
    m = panel.model
    c = m.image_curves()
    cv = panel.curves
    qtbot.wait(20)
    k = int(np.argmax(c["tpr"] - c["fpr"]))                 # a corner of the ROC curve
    target = (c["fpr"][k], c["tpr"][k])
    m.set_image_threshold(0.999)
    pos = cv.glw.mapFromScene(cv.scene_pos_of("roc", *target))
    qtbot.mouseClick(cv.glw.viewport(), Qt.LeftButton, pos=QPoint(int(pos.x()), int(pos.y())))
    op = m.image_operating_point()
    assert (op["fpr"], op["tpr"]) == pytest.approx(target, abs=0.05)
    assert panel.thresholds.img_spin.value() == pytest.approx(m.image_threshold, abs=1e-4)
    # PR curve and the pixel curves too (through the same code path)
    kp = len(c["recall"]) // 3
    t = cv.click_at("pr", c["recall"][kp], c["precision"][kp])
    assert m.image_threshold == t
    t = cv.click_at("dice", 0.25, 0.5)
    assert m.seg_bin == MP.threshold_to_bin(0.25)


def test_keyboard_next_previous_and_overlay_toggles(qtbot, panel):
    m = panel.model
    m.set_sort("name")
    m.set_current(int(m.order[0]))
    panel.viewer.view.right.setFocus()
    qtbot.keyClick(panel.viewer.view.right, Qt.Key_N)
    assert m.current == int(m.order[1])
    qtbot.keyClick(panel.viewer.view.right, Qt.Key_N)
    qtbot.keyClick(panel.viewer.view.right, Qt.Key_P)
    assert m.current == int(m.order[1])
    v = panel.viewer.view
    for key, name in ((Qt.Key_G, "gt"), (Qt.Key_M, "pred"), (Qt.Key_H, "heatmap"), (Qt.Key_E, "errors")):
        before = v.overlay_visible(name)
        qtbot.keyClick(panel.viewer.view.right, key)
        assert v.overlay_visible(name) != before
        assert panel.viewer.overlay_buttons[name].isChecked() == v.overlay_visible(name)
    qtbot.keyClick(panel.viewer.view.right, Qt.Key_S)
    assert v.side_by_side() and v.left.isVisible()
    qtbot.keyClick(panel.viewer.view.right, Qt.Key_G, Qt.ShiftModifier)
    assert m.gated


def test_viewer_zoom_pan_fit(qtbot, panel):
    view = panel.viewer.view.right
    view.fit()
    s0 = view.scale_factor()
    view.zoom_by(2.0)
    assert view.scale_factor() == pytest.approx(2 * s0)
    c0 = view.view_center()
    qtbot.mousePress(view.viewport(), Qt.LeftButton, pos=QPoint(200, 200))
    qtbot.mouseMove(view.viewport(), QPoint(150, 160))
    qtbot.mouseRelease(view.viewport(), Qt.LeftButton, pos=QPoint(150, 160))
    assert view.view_center() != c0                                         # dragged
    view.zoom_1to1()
    assert view.scale_factor() == 1.0
    panel.viewer.fit_btn.click()
    assert view.scale_factor() == pytest.approx(s0)
    panel.viewer.opacity.setValue(30)
    assert view.layer("errors").opacity() == pytest.approx(0.3)


def test_export_from_the_panel(panel, tmp_path):
    m = panel.model
    m.set_thresholds(seg=0.45, image=0.6, gated=False)
    path = panel.save_thresholds()
    saved = json.loads(Path(path).read_text())
    assert (saved["seg_threshold"], saved["image_threshold"]) == (m.seg_threshold, 0.6)
    csv_path = panel.export_csv(tmp_path / "r.csv", visible_only=True)
    assert len(Path(csv_path).read_text().splitlines()) == m.visible_count + 1
    res = panel.export_masks(tmp_path / "masks")
    assert res["written"] == m.n
    Path(path).unlink()


def test_open_another_split_and_errors(panel, run_dir, tmp_path):
    assert panel.open_run(run_dir, split="val")
    assert panel.model.evaluation.split == "val"
    assert not panel.open_run(run_dir, split="nope")
    assert panel.banner.isVisible() and "nope" in panel.banner.text()
    assert not panel.open_eval(tmp_path)
    assert "samples.npz" in panel.banner.text()


def test_missing_dataset_shows_maps_and_says_why(qtbot, tmp_path):
    from crackviewer.inspect.panel import InspectPanel

    run = make_fake_run(tmp_path, n_samples=8, size=32)
    shutil.rmtree(tmp_path / "data")
    p = InspectPanel()
    qtbot.addWidget(p)
    assert p.open_run(run)
    assert p.banner.isVisibleTo(p) and "dataset not found" in p.banner.text()
    assert p.data_btn.isVisibleTo(p)
    assert p.sample.image.shape[:2] == p.sample.prob8.shape
    p.gallery.loader.shutdown()


def test_big_split_gallery_is_virtual(qtbot, tmp_path):
    """1,695 samples: rows for all, but only the tiles on screen are loaded."""
    from crackviewer.inspect.panel import InspectPanel

    n = 1695
    rng = np.random.default_rng(0)
    ev = tmp_path / "ev"
    ev.mkdir()
    hp = rng.integers(0, 3, (n, MP.B), dtype=np.uint32)
    hn = rng.integers(0, 30, (n, MP.B), dtype=np.uint32)
    labels = (rng.random(n) < 0.3).astype(np.int8)
    np.savez(ev / "samples.npz", names=np.array([f"s{k:04d}" for k in range(n)]), labels=labels,
                        scores=rng.random(n).astype(np.float32), segmented=labels > 0, hist_pos=hp, hist_neg=hn)
    (ev / "metrics.json").write_text(json.dumps({"split": "test", "n": n, "seg_threshold": 0.5}))
    p = InspectPanel()
    qtbot.addWidget(p)
    p.resize(1400, 900)
    p.show()
    qtbot.waitExposed(p)
    assert p.open_eval(ev)
    g = p.gallery
    assert g.list_model.rowCount() == n
    qtbot.wait(50)
    g.view.verticalScrollBar().setValue(g.view.verticalScrollBar().maximum())
    qtbot.wait(50)
    assert g.loader.wait_idle(10)
    loaded = sum(g.loader.has(i) for i in range(n))
    assert 0 < loaded < 200, loaded
    g.loader.shutdown()


def test_overlay_colours_follow_the_rule(qtbot):
    """Pixel colours of the error map: TP/FP/FN from the 8-bit map at the bin-edge rule; no GT -> prediction only."""
    from figures import colors
    from crackviewer.viewer.layers import premul_u32
    from crackviewer.viewer.overlay import MASK_COLOR, CrackOverlayView

    v = CrackOverlayView()
    qtbot.addWidget(v)
    img = np.full((4, 4, 3), 128, np.uint8)
    prob = np.array([[0, 100, 200, 255]] * 4, np.uint8)
    gt = np.array([[0, 0, 1, 1]] * 4, np.uint8)
    k = MP.threshold_to_bin(150 / 255)
    v.set_sample(img, gt, prob, gt, threshold=k)
    px = v.right.layer("errors").pixels32[0]
    assert list(px) == [0, 0, premul_u32(colors.TP), premul_u32(colors.TP)]
    v.set_threshold(MP.threshold_to_bin(0.3))                 # 100/255 = 0.39 is now crack: FP at column 1
    assert v.right.layer("errors").pixels32[0, 1] == premul_u32(colors.FP)
    v.set_threshold(MP.B)                                      # nothing predicted: the GT pixels are misses
    assert list(v.right.layer("errors").pixels32[0]) == [0, 0, premul_u32(colors.FN), premul_u32(colors.FN)]
    v.set_gated(True)
    assert not v.pred_mask.any()
    v.set_gated(False)
    v.set_sample(img, None, prob, None, threshold=MP.threshold_to_bin(0.3))   # weak label: no GT known
    assert list(v.right.layer("errors").pixels32[0]) == [0] + [premul_u32(MASK_COLOR)] * 3
