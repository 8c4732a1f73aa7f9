"""The annotation panel through real mouse and keyboard events (pytest-qt, offscreen): every tool, undo/redo,
autosave, a failing save, labels, filters, counts, prediction tools and the review queue."""
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from annotate_events import activate, click, double_click_end, drag, key, open_panel, vp, wait_saved  # noqa: F401
from crackviewer.annotate.panel import AnnotatePanel
from crackviewer.annotate.mask_model import prediction_mask
from trainer.datasets.layouts import open_dataset
from trainer.datasets.images import read_mask

pytestmark = pytest.mark.gui

H, W = 60, 80


def _image(i):
    rng = np.random.default_rng(i)
    img = rng.integers(150, 190, (H, W, 3), dtype=np.uint8)
    img[30:33, 5:75] = 40                   # a dark horizontal "crack" for the fill tool
    return img


def make_dataset(root: Path) -> Path:
    """seg_a/seg_b (crack + mask), weak_a/weak_b (crack, no mask), neg_a (crack-free with a zero mask)."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    lines = ["name,label,split"]
    spec = [("seg_a", 1, "train", True), ("seg_b", 1, "val", True), ("weak_a", 1, "train", False),
            ("weak_b", 1, "test", False), ("neg_a", 0, "train", True)]
    for i, (name, label, split, has) in enumerate(spec):
        cv2.imwrite(str(root / "images" / f"{name}.png"), _image(i)[..., ::-1])
        if has:
            m = np.zeros((H, W), np.uint8)
            if label:
                m[10:13, 10:70] = 255
            cv2.imwrite(str(root / "masks" / f"{name}.png"), m)
        lines.append(f"{name},{label},{split}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def ds(tmp_path):
    return make_dataset(tmp_path / "ds")


@pytest.fixture
def panel(qtbot, ds):
    p = open_panel(qtbot, ds)
    yield p
    p.shutdown()


def disk_mask(ds, name):
    return read_mask(ds / "masks" / f"{name}.png", (H, W))


def test_opens_with_counts_and_first_sample(panel):
    assert panel.current_name() == "seg_a"
    assert panel.save_state == "unchanged"               # issue 17: no "Saved to the dataset" before any edit
    assert "Saved" not in panel.save_badge.text() and "No changes" in panel.save_badge.text()
    c = panel.counts()
    assert c["train"] == {"positives": 2, "negatives": 1, "segmented": 1, "weak": 1}
    assert "train" in panel.counts_label.text()
    assert panel.list_model.rowCount() == 5


def test_brush_drag_one_stroke_autosaves_and_backs_up(qtbot, panel, ds):
    original = (ds / "masks" / "seg_a.png").read_bytes()
    panel.set_tool("brush")
    panel.size_slider.setValue(3)
    drag(panel, [(10, 40), (30, 40), (50, 42), (70, 44)])
    m = panel.session.model
    assert m.undo_depth == 1 and m.mask[40, 12] == 1 and m.mask[44, 69] == 1
    assert panel.save_state in ("unsaved", "saving")
    wait_saved(qtbot, panel)
    np.testing.assert_array_equal(disk_mask(ds, "seg_a"), m.mask)
    assert (ds / ".crackviewer" / "backup" / "masks" / "seg_a.png").read_bytes() == original
    assert not panel.store.journal_path("seg_a").exists()
    assert "Saved" in panel.save_badge.text()


def test_eraser_and_alt_drag_erase(qtbot, panel, ds):
    panel.set_tool("eraser")
    panel.size_slider.setValue(5)
    drag(panel, [(10, 11), (30, 11)])
    m = panel.session.model
    assert not m.mask[10:13, 10:29].any() and m.mask[11, 50] == 1
    panel.set_tool("brush")
    drag(panel, [(40, 11), (60, 11)], Qt.AltModifier)          # Alt+drag erases with the brush
    assert not m.mask[10:13, 42:58].any() and m.mask[11, 66] == 1
    wait_saved(qtbot, panel)
    np.testing.assert_array_equal(disk_mask(ds, "seg_a"), m.mask)


def test_done_when_polyline_erase_undo_redo_close_reopen(qtbot, ds, tmp_path):
    """The issue's scenario: draw a crack with the polyline, erase part of it, undo, redo, close, reopen."""
    before = open_dataset(ds).counts()
    p = AnnotatePanel(autosave_ms=40)
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    qtbot.waitExposed(p)
    p.open_dataset(ds)
    activate(qtbot, p)
    p.set_filter("weak")
    assert p.list_model.names == ["weak_a", "weak_b"]
    p.open_sample("weak_a")
    key(p, Qt.Key_L)
    assert p.tool_name == "polyline"
    p.size_slider.setValue(3)
    click(p, 5, 50)
    click(p, 40, 45)
    double_click_end(p, 75, 55)
    m = p.session.model
    assert m.undo_depth == 1
    assert m.mask[50, 5] == 1 and m.mask[45, 40] == 1 and m.mask[55, 74] == 1
    drawn = m.mask.copy()
    key(p, Qt.Key_E)
    p.size_slider.setValue(7)
    drag(p, [(20, 40), (20, 55)])                    # erase a piece across the line
    erased = m.mask.copy()
    assert erased.sum() < drawn.sum() and not erased[44:52, 19:22].any()
    key(p, Qt.Key_Z, Qt.ControlModifier)             # undo
    np.testing.assert_array_equal(m.mask, drawn)
    key(p, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)   # redo
    np.testing.assert_array_equal(m.mask, erased)
    key(p, Qt.Key_Z, Qt.ControlModifier)
    key(p, Qt.Key_Y, Qt.ControlModifier)             # redo, the other shortcut
    np.testing.assert_array_equal(m.mask, erased)
    p.close()                                        # closing saves whatever the debounce had not saved yet
    p.shutdown()
    # on disk in the dataset's own layout, read by the trainer's loader
    rec = open_dataset(ds).sample_by_name("weak_a")
    assert rec.has_mask and rec.mask_path == ds / "masks" / "weak_a.png"
    np.testing.assert_array_equal(read_mask(rec.mask_path, (H, W)), erased)
    after = open_dataset(ds).counts()
    assert after["train"]["segmented"] == before["train"]["segmented"] + 1
    assert after["train"]["weak"] == before["train"]["weak"] - 1
    # reopen: the edit is there, and the panel shows it saved
    q = AnnotatePanel(autosave_ms=40)
    qtbot.addWidget(q)
    q.show()
    q.open_dataset(ds)
    q.open_sample("weak_a")
    np.testing.assert_array_equal(q.session.model.mask, erased)
    assert q.save_state == "unchanged"         # reopened, nothing edited yet
    q.shutdown()


def test_done_when_existing_mask_original_goes_to_backup(qtbot, panel, ds):
    original = (ds / "masks" / "seg_b.png").read_bytes()
    panel.open_sample("seg_b")
    panel.set_tool("polyline")
    click(panel, 5, 25)
    double_click_end(panel, 70, 25)
    panel.save_now()
    assert panel.save_state == "saved"
    assert (ds / ".crackviewer" / "backup" / "masks" / "seg_b.png").read_bytes() == original
    assert disk_mask(ds, "seg_b")[25, 30] == 1 and disk_mask(ds, "seg_b")[11, 30] == 1


def test_polyline_keys_backspace_escape_enter(panel):
    panel.set_tool("polyline")
    click(panel, 5, 5)
    click(panel, 40, 5)
    click(panel, 40, 50)
    key(panel, Qt.Key_Backspace)                      # drop (40, 50)
    assert len(panel.tool.points) == 2
    key(panel, Qt.Key_Return)
    m = panel.session.model
    assert m.mask[5, 20] == 1 and m.mask[45, 40] == 0
    click(panel, 60, 50)
    click(panel, 75, 50)
    key(panel, Qt.Key_Escape)                         # cancel
    assert panel.tool.points == [] and m.mask[50, 70] == 0 and m.undo_depth == 1


def test_fill_tool_with_tolerance(qtbot, panel, ds):
    panel.open_sample("weak_a")
    panel.set_tool("fill")
    panel.tol_slider.setValue(15)
    click(panel, 40, 31)
    m = panel.session.model
    assert m.mask[30:33, 5:75].all()
    assert m.crack_pixels() == 3 * 70                # only the dark band, not the textured background
    click(panel, 40, 31, Qt.AltModifier)             # Alt+click removes the region
    assert m.crack_pixels() == 0
    key(panel, Qt.Key_BraceRight)                    # } raises the tolerance
    assert panel.tolerance == 19


def test_polygon_tool(panel):
    panel.open_sample("weak_a")
    key(panel, Qt.Key_P)
    assert panel.tool_name == "polygon"
    for x, y in [(10, 10), (30, 10), (30, 25)]:
        click(panel, x, y)
    double_click_end(panel, 10, 25)
    m = panel.session.model
    assert m.mask[12:24, 12:29].all() and m.mask[40, 40] == 0 and m.undo_depth == 1


def test_size_shortcuts_and_help_overlay(panel):
    panel.size_slider.setValue(10)
    key(panel, Qt.Key_BracketRight)
    assert panel.brush_size > 10
    key(panel, Qt.Key_BracketLeft)
    key(panel, Qt.Key_BracketLeft)
    assert panel.brush_size < 10
    for k, name in [(Qt.Key_B, "brush"), (Qt.Key_E, "eraser"), (Qt.Key_L, "polyline"), (Qt.Key_G, "fill"),
                    (Qt.Key_P, "polygon")]:
        key(panel, k)
        assert panel.tool_name == name and panel.tool_buttons[name].isChecked()
    assert not panel.help.isVisible()
    key(panel, Qt.Key_F1)
    assert panel.help.isVisible()
    key(panel, Qt.Key_Escape)
    assert not panel.help.isVisible()
    panel.opacity_slider.setValue(50)
    key(panel, Qt.Key_Period)
    assert abs(panel.mask_layer.opacity() - 0.6) < 1e-6
    key(panel, Qt.Key_V)
    assert not panel.mask_layer.isVisible()


def test_overlay_repaints_only_the_dirty_rectangle(panel, monkeypatch):
    calls = []
    orig = panel.mask_layer.update_rect
    monkeypatch.setattr(panel.mask_layer, "update_rect", lambda *a: (calls.append(a), orig(*a)))
    panel.set_tool("brush")
    panel.size_slider.setValue(3)
    before = panel.mask_layer.pixels.copy()
    drag(panel, [(20, 50), (25, 50)])
    assert calls, "a brush segment must repaint its rectangle"
    for x0, y0, x1, y1 in calls:
        assert (x1 - x0) * (y1 - y0) <= 12 * 8       # a few pixels around the segment, never the whole image
    changed = np.argwhere((panel.mask_layer.pixels != before).any(axis=2))
    assert changed.size and changed[:, 0].min() >= 47 and changed[:, 0].max() <= 53
    # the overlay shows exactly the mask
    shown = panel.mask_layer.pixels[..., 3] > 0
    np.testing.assert_array_equal(shown, panel.session.model.mask > 0)


def test_failing_save_keeps_unsaved_and_says_why(qtbot, panel, ds):
    """The target is a folder (root ignores chmod, so this is the portable way to make the write fail)."""
    (ds / "masks" / "weak_b.png").mkdir()
    panel.open_sample("weak_b")
    panel.set_tool("brush")
    drag(panel, [(10, 20), (60, 20)])
    qtbot.waitUntil(lambda: panel.save_state == "failed", timeout=5000)
    assert panel.is_unsaved("weak_b")
    text = panel.save_badge.text()
    assert "Not saved" in text and "weak_b.png" in text and "folder" in text
    assert not open_dataset(ds).sample_by_name("weak_b").has_mask
    painted = panel.session.model.mask.copy()
    # leaving the sample keeps the edits in memory and lists it under "unsaved"
    panel.open_sample("seg_a")
    panel.set_filter("unsaved")
    assert panel.list_model.names == ["weak_b"]
    panel.open_sample("weak_b")
    np.testing.assert_array_equal(panel.session.model.mask, painted)
    assert panel.save_state == "failed"
    # fix the cause; Ctrl+S saves
    (ds / "masks" / "weak_b.png").rmdir()
    key(panel, Qt.Key_S, Qt.ControlModifier)
    assert panel.save_state == "saved"
    np.testing.assert_array_equal(disk_mask(ds, "weak_b"), painted)


def test_failing_save_os_replace_raises(qtbot, panel, ds, monkeypatch):
    import crackviewer.annotate.mask_store as ms

    def boom(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(ms.os, "replace", boom)
    panel.set_tool("brush")
    drag(panel, [(10, 50), (60, 50)])
    qtbot.waitUntil(lambda: panel.save_state == "failed", timeout=5000)
    assert "disk full while writing" in panel.save_badge.text()
    monkeypatch.undo()
    drag(panel, [(10, 55), (60, 55)])                 # the next stroke retries
    wait_saved(qtbot, panel)
    assert disk_mask(ds, "seg_a")[50, 30] == 1 and disk_mask(ds, "seg_a")[55, 30] == 1


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="running as root: chmod does not block writes (the two tests above cover failing saves)")
def test_failing_save_read_only_folder(qtbot, panel, ds):
    os.chmod(ds / "masks", 0o555)
    try:
        panel.open_sample("weak_a")
        drag(panel, [(10, 20), (60, 20)])
        qtbot.waitUntil(lambda: panel.save_state == "failed", timeout=5000)
        assert "ermission" in panel.save_badge.text()
    finally:
        os.chmod(ds / "masks", 0o755)


def test_label_toggle_and_painting_a_negative(qtbot, panel, ds):
    spy = []
    panel.countsChanged.connect(spy.append)
    panel.open_sample("neg_a")
    assert not panel.label_button.isChecked()
    panel.set_tool("brush")
    drag(panel, [(10, 20), (60, 20)])
    wait_saved(qtbot, panel)
    rec = open_dataset(ds).sample_by_name("neg_a")
    assert rec.label == 1 and rec.has_mask               # painting made it a segmented crack
    assert panel.label_button.isChecked() and spy
    assert spy[-1]["train"]["segmented"] == 2 and spy[-1]["train"]["negatives"] == 0
    # C: back to no crack; the mask is cleared (undoable) and saved
    key(panel, Qt.Key_C)
    wait_saved(qtbot, panel)
    rec = open_dataset(ds).sample_by_name("neg_a")
    assert rec.label == 0 and not disk_mask(ds, "neg_a").any()
    assert panel.session.model.crack_pixels() == 0
    # a crack label on an empty mask = weak
    key(panel, Qt.Key_C)
    wait_saved(qtbot, panel)
    rec = open_dataset(ds).sample_by_name("neg_a")
    assert rec.label == 1 and not rec.has_mask
    assert panel.counts()["train"]["weak"] == 2


def test_filters_search_and_navigation(panel):
    panel.set_filter("segmented")
    assert panel.list_model.names == ["seg_a", "seg_b"]
    panel.set_filter("negative")
    assert panel.list_model.names == ["neg_a"]
    panel.set_filter("all")
    panel.search.setText("weak")
    assert panel.list_model.names == ["weak_a", "weak_b"]
    panel.search.setText("")
    panel.split_combo.setCurrentIndex(panel.split_combo.findText("train"))
    assert panel.list_model.names == ["seg_a", "weak_a", "neg_a"]
    panel.open_sample("seg_a")
    key(panel, Qt.Key_D)
    assert panel.current_name() == "weak_a"
    key(panel, Qt.Key_PageDown)
    assert panel.current_name() == "neg_a"
    key(panel, Qt.Key_S)
    assert panel.current_name() == "weak_a"


def make_eval(ds: Path, out: Path, seg_threshold=0.5) -> Path:
    """A minimal evaluation folder: probs/<name>.png (at half resolution), samples.npz, metrics.json."""
    (out / "probs").mkdir(parents=True)
    names = ["seg_a", "seg_b", "weak_a", "weak_b", "neg_a"]
    labels = np.array([1, 1, 1, 1, 0], np.int8)
    scores = np.array([0.9, 0.2, 0.52, 0.99, 0.1], np.float32)
    for n in names:
        p = np.zeros((H // 2, W // 2), np.uint8)
        if n == "seg_a":
            p[5:7, 5:35] = 240                       # matches its mask (rows 10-12, cols 10-69)
        if n == "weak_a":
            p[15:17, 2:38] = 200                      # the dark band at rows 30-32
        cv2.imwrite(str(out / "probs" / f"{n}.png"), p)
    hist = np.zeros((len(names), 4096), np.uint32)
    np.savez(out / "samples.npz", names=np.array(names), labels=labels, scores=scores,
             segmented=labels > 0, hist_pos=hist, hist_neg=hist)
    (out / "metrics.json").write_text(json.dumps({"split": "all", "seg_threshold": seg_threshold,
                                                  "decision_threshold": 0.5}))
    return out


def test_start_from_prediction_and_outline(qtbot, panel, ds, tmp_path):
    ev = make_eval(ds, tmp_path / "eval", seg_threshold=0.6)
    assert panel.set_prediction_source(ev)
    assert abs(panel.thr_spin.value() - 0.6) < 1e-9
    panel.open_sample("weak_a")
    assert panel.pred_button.isEnabled()
    key(panel, Qt.Key_R)
    m = panel.session.model
    prob = cv2.imread(str(ev / "probs" / "weak_a.png"), cv2.IMREAD_GRAYSCALE)
    np.testing.assert_array_equal(m.mask, prediction_mask(prob, 0.6, (H, W)))
    assert m.mask[31:33, 10:70].all() and m.undo_depth == 1
    key(panel, Qt.Key_O)
    assert panel.pred_item.isVisible() and not panel.pred_item.path().isEmpty()
    key(panel, Qt.Key_Z, Qt.ControlModifier)
    assert m.crack_pixels() == 0
    wait_saved(qtbot, panel)


def test_review_queue_ranks_disagreement(qtbot, panel, ds, tmp_path):
    ev = make_eval(ds, tmp_path / "eval")
    panel.set_prediction_source(ev)
    panel.set_filter("review")
    qtbot.waitUntil(lambda: not panel._ranking and panel.list_model.rowCount() == 5, timeout=10000)
    items = {it.name: it for it in panel.review_items()}
    # seg_b's prediction is empty: it misses the whole crack; seg_a's matches its mask
    assert items["seg_b"].kind == "segmented" and items["seg_b"].priority > 0.9
    assert items["seg_a"].priority < 0.1
    assert items["weak_a"].kind == "weak" and items["weak_a"].priority > items["weak_b"].priority
    assert items["neg_a"].kind == "negative"
    assert panel.list_model.names[0] == "seg_b"
    assert "%" in panel.list_model.data(panel.list_model.index(0))


def test_undo_history_survives_visiting_another_sample(qtbot, panel, ds):
    panel.set_tool("brush")
    drag(panel, [(10, 50), (60, 50)])
    wait_saved(qtbot, panel)
    panel.open_sample("weak_a")
    panel.open_sample("seg_a")
    assert panel.session.model.undo_depth == 1
    key(panel, Qt.Key_Z, Qt.ControlModifier)
    assert panel.session.model.mask[50, 30] == 0
    wait_saved(qtbot, panel)
    assert disk_mask(ds, "seg_a")[50, 30] == 0


def test_space_drag_pans_wheel_zooms_and_nothing_is_painted(panel):
    panel.set_tool("brush")
    panel.canvas.zoom_by(4.0)
    m = panel.session.model
    before = m.mask.copy()
    centre = panel.canvas.view_center()
    QTest.keyPress(panel.canvas, Qt.Key_Space)
    assert panel.panning
    v = panel.canvas.viewport()
    start = v.rect().center()
    QTest.mousePress(v, Qt.LeftButton, Qt.NoModifier, start)
    for dx in (10, 20, 40):
        QTest.mouseMove(v, start + QPoint(dx, 0))
    QTest.mouseRelease(v, Qt.LeftButton, Qt.NoModifier, start + QPoint(40, 0))
    QTest.keyRelease(panel.canvas, Qt.Key_Space)
    assert not panel.panning
    np.testing.assert_array_equal(m.mask, before)          # panning never paints
    moved = centre.x() - panel.canvas.view_center().x()      # 40 screen px of drag, in image pixels
    assert abs(moved - 40 / panel.canvas.scale_factor()) < 2 / panel.canvas.scale_factor() + 1e-6, moved
    s0 = panel.canvas.scale_factor()
    key(panel, Qt.Key_F)                                     # fit
    assert panel.canvas.scale_factor() < s0
    key(panel, Qt.Key_1)                                     # 100 %
    assert abs(panel.canvas.scale_factor() - 1.0) < 1e-9
