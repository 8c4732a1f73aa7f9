"""Inspect as a first user meets it (issue 17) and its crack views (issues 12, 13): every tab fits 1280x800,
crack-free images are not scored "Dice 0.000", plots enlarge, a colour bar, distinct mask colour, a leakage warning,
the measurement layer with its crack table and calibrate tool, the uncertainty layer."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRect, Qt
from PySide6.QtWidgets import QWidget

from scripts.crack_record_arrays import add_crack_arrays, write_uncertainty_maps
from tests.fakes import make_fake_run
from trainer.runs import paths

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    r = make_fake_run(tmp_path_factory.mktemp("fit"), n_samples=14, size=48)
    ev = json.loads((r / paths.METRICS).read_text())
    names = [p.stem for p in sorted((r / paths.PROBS).glob("*.png"))]
    rng = np.random.default_rng(0)
    write_uncertainty_maps(r, {n: (rng.random((48, 48)) * 120).astype(np.uint8) for n in names})
    add_crack_arrays(r)
    assert ev["split"] == "test"
    return r


@pytest.fixture
def panel(qtbot, run):
    from crackviewer.inspect.panel import InspectPanel

    p = InspectPanel()
    qtbot.addWidget(p)
    p.resize(1400, 900)
    p.show()
    assert p.open_run(run), p.banner.text()
    yield p
    p.shutdown()


def _clipped(root: QWidget) -> list[str]:
    """Visible descendants of ``root`` that stick out of their parent or are squeezed below their size hint."""
    bad = []
    for w in root.findChildren(QWidget):
        if not w.isVisibleTo(root) or w.parentWidget() is None or w.isWindow():
            continue
        parent = w.parentWidget()
        if type(parent).__name__ in ("QStackedWidget", "QScrollArea", "QWidget") and parent.objectName() in (
                "qt_scrollarea_viewport",):
            continue
        if w.objectName().startswith("qt_") or type(w).__name__ in ("QHeaderView", "QScrollBar"):
            continue                                 # parts an item view or spin box sizes itself
        g = w.geometry()
        if not parent.rect().adjusted(-1, -1, 1, 1).contains(g):
            bad.append(f"{type(w).__name__} {w.objectName()!r} {g} outside {type(parent).__name__} {parent.rect()}")
        hint = w.minimumSizeHint().height() if w.sizePolicy().verticalPolicy() != w.sizePolicy().Policy.Fixed \
            else w.sizeHint().height()
        if w.height() + 1 < min(hint, w.maximumHeight()):
            bad.append(f"{type(w).__name__} {w.objectName()!r} height {w.height()} < hint {hint}")
    return bad


def _check_inspect_fits(qtbot, ip) -> None:
    for t in range(ip.curve_tabs.count()):
        ip.curve_tabs.setCurrentIndex(t)
        qtbot.wait(20)
        for part in (ip.stats, ip.thresholds, ip.curve_tabs):
            assert _clipped(part) == [], (ip.curve_tabs.tabText(t), _clipped(part))
    # the live text lines (the sample line under the viewer, the curves' readout) show all of their text
    from crackviewer.inspect.live_text import LiveText

    ip.curve_tabs.setCurrentIndex(0)
    ip.model.set_current(int(ip.model.order[0]))
    qtbot.wait(20)
    lines = [w for w in ip.findChildren(LiveText) if w.isVisible() and w.text()]
    assert ip.viewer.info.label in lines and ip.curves.readout in lines
    for w in lines:
        assert w._text_height() <= w.height(), (w.text(), w._text_height(), w.height())


def test_inspect_fits_1280x800(qtbot, run):
    """The Inspect panel in a window with the main window's chrome (menu, tabs, status bar) at 1280x800."""
    from PySide6.QtWidgets import QMainWindow, QTabWidget

    from crackviewer.inspect.panel import InspectPanel
    from crackviewer.qt.style import apply_style
    from PySide6.QtWidgets import QApplication

    apply_style(QApplication.instance())
    win = QMainWindow()
    qtbot.addWidget(win)
    win.menuBar().addMenu("File")
    tabs = QTabWidget()
    tabs.setDocumentMode(True)
    ip = InspectPanel()
    tabs.addTab(ip, "Inspect")
    win.setCentralWidget(tabs)
    win.statusBar().showMessage("ready")
    win.resize(1280, 800)
    win.show()
    assert ip.open_run(run)
    qtbot.wait(50)
    assert win.width() <= 1280 and win.height() <= 800, (win.width(), win.height())
    _check_inspect_fits(qtbot, ip)
    ip.shutdown()


def test_every_tab_of_the_main_window_fits_1280x800(qtbot, tmp_path, monkeypatch, run):
    from crackviewer.main_window import MainWindow
    from crackviewer.qt.settings import AppSettings

    monkeypatch.setenv("CRACKVIEWER_SETTINGS", str(tmp_path / "s.ini"))
    win = MainWindow(AppSettings(tmp_path / "s.ini", workspace=tmp_path / "ws"), probe_devices=False)
    win.confirm_close = False
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitUntil(lambda: win.inspect_panel is not None, timeout=30000)   # built at once or in the background
    ip = win.inspect_panel
    assert ip is not None and ip.open_run(run)
    for k in range(win.tabs.count()):
        win.tabs.setCurrentIndex(k)
        qtbot.wait(20)
        assert not win.tabs.currentWidget().grab().isNull()
    win.tabs.setCurrentWidget(ip)
    qtbot.wait(50)
    assert win.width() <= 1280 and win.height() <= 800, (win.width(), win.height())
    _check_inspect_fits(qtbot, ip)
    win.training_panel.shutdown(timeout_ms=2000)


def test_crack_free_images_classified_crack_free_are_not_dice_zero(panel):
    from crackviewer.inspect.gallery_tiles import tile_text

    m = panel.model
    m.set_seg_bin(1)                                        # stray crack pixels on every crack-free image
    m.set_image_threshold(1.01)                             # every image classified crack-free
    neg = [i for i in range(m.n) if m.labels[i] == 0]
    assert neg
    for i in neg:
        assert m.dice[i] == pytest.approx(0.0)             # the reference formula, kept for comparison
        m.set_current(i)
        text = panel.viewer.info.label.text()
        assert "Dice <b>0.000" not in text and "no crack ✓" in text
        assert tile_text(m, i) == "no crack ✓"


def test_statistics_show_crack_metrics_and_follow_the_slider(qtbot, panel):
    m = panel.model
    text = panel.stats.text()
    assert "F1 ODS" in text and "OIS" in text and "AP" in text and "clDice" in text
    assert f"F1 tol {m.stats['f1_tol']:.3f}" in text and "ref. mean Dice" in text
    before = m.stats["f1_tol"]
    panel.thresholds.seg_slider.setValue(m.seg_bin + 900)
    assert m.stats["f1_tol"] != before and f"F1 tol {m.stats['f1_tol']:.3f}" in panel.stats.text()
    assert panel.curves.c_tol.getData()[0].size > 10
    qtbot.waitUntil(lambda: not panel.curves.pending)
    assert panel.curves.m_tol.getData()[0][0] == pytest.approx(m.tolerance_operating_point()["recall"])
    i = panel.gallery.sort_combo.findData("f1_tol")
    panel.gallery.sort_combo.setCurrentIndex(i)
    assert m.sort_key == "f1_tol"


def test_plots_enlarge_on_double_click(qtbot, panel):
    c = panel.curves
    c.click_at("pr", 0.5, 0.5)
    from PySide6.QtWidgets import QGraphicsSceneMouseEvent  # noqa: F401

    class Ev:
        def __init__(self, pos):
            self._p = pos

        def button(self):
            return Qt.LeftButton

        def double(self):
            return True

        def scenePos(self):
            return self._p

        def accept(self):
            pass

    c._on_click(Ev(c.scene_pos_of("pixel", 0.5, 0.5)))
    w = c.enlarged
    assert w is not None and w.isVisible() and w.width() >= 700 and w.n_items >= 2
    assert "PR" in w.windowTitle()
    panel.curve_tabs.setCurrentWidget(panel.reliability)
    r = panel.reliability
    assert "ECE" in r.plots["image"].titleLabel.text
    r._on_click(Ev(r.plots["pixel"].vb.sceneBoundingRect().center()))
    assert r.enlarged is not None and r.enlarged.n_items >= 2


def test_heatmap_colour_bar_and_distinct_mask_colour(qtbot, panel):
    from figures import colors
    from crackviewer.viewer.overlay import MASK_COLOR

    assert not panel.viewer.heat_bar.isVisible()
    panel.toggle_overlay("heatmap")
    assert panel.viewer.heat_bar.isVisible() and "probability" in panel.viewer.heat_bar.text()
    d = np.linalg.norm(np.subtract(MASK_COLOR, colors.TP))
    assert d > 150, d                                       # mask and TP blues were 94 apart


def test_saving_test_thresholds_warns_about_leakage(qtbot, panel, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.Cancel)
    monkeypatch.setattr(QMessageBox, "information", lambda *a, **k: None)
    panel.act_thresholds.trigger()
    assert asked and "test" in asked[0] and "leak" in asked[0]
    assert not (panel.model.evaluation.run_dir / paths.THRESHOLDS).exists()     # cancelled: nothing written


def test_measurement_layer_table_zoom_and_calibrate(qtbot, panel, run):
    m = panel.model
    pos = [i for i in range(m.n) if m.labels[i] == 1]
    m.set_current(pos[0])
    m.set_seg_threshold(0.3)
    panel.toggle_overlay("measure")
    assert panel.viewer.view.overlay_visible("measure")
    mp = panel.measure
    qtbot.waitUntil(lambda: mp.result is not None and mp.result.threshold == m.seg_threshold, timeout=10000)
    assert mp.table.rowCount() == len(mp.result.rows) > 0
    assert mp.table.horizontalHeaderItem(1).text().endswith(" px") and "no scale" in mp.unit_label.text()
    assert mp.alarm.value() > 0
    assert panel.viewer.view.measure_item.segment_count() > 0
    before = panel.viewer.view.right.scale_factor()
    mp.table.cellClicked.emit(0, 0)
    assert panel.viewer.view.right.scale_factor() != before
    old = mp.result
    panel.thresholds.seg_slider.setValue(m.seg_bin + 600)       # follows the slider
    qtbot.waitUntil(lambda: mp.result is not old and mp.result.threshold == m.seg_threshold, timeout=10000)
    # calibrate: a 40 px line is 2 mm -> 0.05 mm/px written beside the dataset
    data = panel.store.data_path
    panel.samples.ask_length = lambda px: 2.0 * px / 40.0
    panel.samples.start_calibrate()
    assert panel.viewer.view.right.tool() is not None
    panel.samples.finish_calibrate(40.0)
    sc = json.loads((data / "scale.json").read_text())
    assert sc["mm_per_px"] == pytest.approx(0.05)
    assert "mm" in mp.unit_label.text()
    qtbot.waitUntil(lambda: mp.result is not None and mp.result.unit == "mm", timeout=10000)
    assert mp.table.horizontalHeaderItem(1).text().endswith(" mm")
    (data / "scale.json").unlink()


def test_uncertainty_layer(qtbot, panel):
    b = panel.viewer.overlay_buttons["uncertainty"]
    assert b.isEnabled()
    panel.toggle_overlay("uncertainty")
    v = panel.viewer.view.right
    assert panel.viewer.unc_bar.isVisible()
    assert v.layer("uncertainty").isVisible() and v.layer("uncertainty").pixels32.any()
    i = panel.model.current
    assert panel.model.sample_info(i)["uncertainty"] is not None
    panel.gallery.sort_combo.setCurrentIndex(panel.gallery.sort_combo.findData("uncertainty"))
    u = panel.model.uncertainty[panel.model.order]
    assert np.all(np.diff(u) >= 0)


def test_dragging_the_slider_coalesces_to_one_update_per_pass(qtbot, panel):
    m = panel.model
    events = []
    m.events.thresholds.connect(lambda **_: events.append(m.seg_bin))
    s = panel.thresholds.seg_slider
    s.setSliderDown(True)
    for v in (1000, 1100, 1200, 1300):
        s.setValue(v)
    assert events == []                                     # nothing yet: moves are collected
    qtbot.waitUntil(lambda: bool(events), timeout=2000)
    assert events == [1300] and m.seg_bin == 1300           # one update, with the latest value
    s.setSliderDown(False)
    s.setValue(900)                                         # not dragging: at once
    assert m.seg_bin == 900
