"""Run comparison (pytest-qt, offscreen): scatter of Dice A vs B, click -> both predictions + difference map,
summary of wins and losses."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from figures import colors
from crackviewer.inspect.compare import TIE_EPS, Comparison, diff_map_bgra
from crackviewer.inspect.threshold_model import ThresholdModel
from tests.fakes import make_fake_run

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cmp")
    a = make_fake_run(tmp, n_samples=24, size=40, name="runA", quality=0.9, seed=1)
    b = make_fake_run(tmp, n_samples=24, size=40, name="runB", quality=0.4, seed=2, data=tmp / "data")
    return a, b


@pytest.fixture()
def panel(qtbot, runs):
    from crackviewer.inspect.panel import InspectPanel

    p = InspectPanel()
    qtbot.addWidget(p)
    p.resize(1400, 900)
    p.show()
    qtbot.waitExposed(p)
    assert p.open_run(runs[0])
    p.tabs.setCurrentWidget(p.compare)
    assert p.compare.open_b_path(runs[1])
    yield p
    p.gallery.loader.shutdown()


def test_comparison_numbers(runs):
    a, b = ThresholdModel.from_eval(runs[0]), ThresholdModel.from_eval(runs[1])
    c = Comparison(a, b)
    assert c.n == a.n == b.n and c.only_a == 0
    s = c.summary()
    d = b.dice - a.dice             # same names in the same order here
    assert s["all"]["wins"] == int((d > TIE_EPS).sum())
    assert s["all"]["losses"] == int((d < -TIE_EPS).sum())
    assert s["all"]["wins"] + s["all"]["losses"] + s["all"]["ties"] == c.n
    assert s["dice_a"] == pytest.approx(np.nanmean(a.dice)) and s["dice_b"] == pytest.approx(np.nanmean(b.dice))
    assert s["positives"]["wins"] + s["negatives"]["wins"] == s["all"]["wins"]
    for k in s["gains"]:
        assert c.delta()[k] > TIE_EPS
    for k in s["losses"]:
        assert c.delta()[k] < -TIE_EPS
    # thresholds move the verdicts
    b.set_seg_threshold(0.99)
    assert Comparison(a, b).summary()["dice_b"] != s["dice_b"]


def test_diff_map_colours():
    gt = np.array([[1, 1, 0, 0]], bool)
    a = np.array([[1, 0, 1, 0]], bool)
    b = np.array([[1, 1, 0, 1]], bool)
    m = diff_map_bgra(a, b, gt)
    # pixel 0: both right -> transparent; 1: B fixes a miss; 2: B fixes a false alarm; 3: B breaks
    assert m[0, 0, 3] == 0
    assert tuple(m[0, 1, :3]) == (colors.WIN[2], colors.WIN[1], colors.WIN[0])
    assert tuple(m[0, 2, :3]) == (colors.WIN[2], colors.WIN[1], colors.WIN[0])
    assert tuple(m[0, 3, :3]) == (colors.LOSS[2], colors.LOSS[1], colors.LOSS[0])


def test_scatter_summary_and_click(qtbot, panel):
    cp = panel.compare
    c = cp.cmp
    assert c is not None and c.n == panel.model.n
    x, y = cp.scatter.getData()
    da, db = c.dice()
    assert len(x) == int((~np.isnan(da - db)).sum())
    s = c.summary()
    assert f"B wins" in cp.summary.text() and f"<b>{s['all']['wins']}</b>" in cp.summary.text()
    assert cp.gains.count() == len(s["gains"]) and cp.losses.count() == len(s["losses"])
    # click the point of the largest loss in the scatter
    k = s["losses"][0]
    qtbot.wait(20)
    vb = cp.plot.getPlotItem().vb
    scene = vb.mapViewToScene(QPointF(da[k], db[k]))
    pos = cp.plot.mapFromScene(scene)
    cp.current_pair = None
    qtbot.mouseClick(cp.plot.viewport(), Qt.LeftButton, pos=QPoint(int(pos.x()), int(pos.y())))
    assert cp.current_pair is not None
    kk = cp.current_pair
    assert (da[kk], db[kk]) == pytest.approx((da[k], db[k]), abs=0.03)
    # both predictions side by side and a difference map
    name = c.names()[kk]
    assert name in cp.pair_info.text()
    a_layer = cp.views[0].layer("overlay").pixels
    b_layer = cp.views[1].layer("overlay").pixels
    diff = cp.views[2].layer("overlay").pixels
    assert not np.array_equal(a_layer, b_layer)
    loss_px = (diff[..., 2] == colors.LOSS[0]) & (diff[..., 1] == colors.LOSS[1]) & (diff[..., 3] == 255)
    assert loss_px.any(), "B is worse on this sample: the difference map shows where it breaks"
    assert "Δ Dice" in cp.view_titles[2].text()


def test_list_click_and_linked_views(qtbot, panel):
    cp = panel.compare
    it = cp.gains.item(0)
    assert it is not None
    cp._on_list_click(it)
    assert cp.current_pair == it.data(Qt.UserRole)
    cp.views[0].zoom_by(3.0)
    assert cp.views[1].scale_factor() == pytest.approx(cp.views[0].scale_factor())
    assert cp.views[2].scale_factor() == pytest.approx(cp.views[0].scale_factor())


def test_thresholds_follow_a_and_b(panel):
    cp = panel.compare
    before = cp.cmp.summary()
    panel.thresholds.seg_slider.setValue(100)               # A's threshold from the main slider
    after = cp.cmp.summary()
    assert after["dice_a"] != before["dice_a"] and after["dice_b"] == before["dice_b"]
    cp.b_same.click()
    assert cp.b.seg_threshold == panel.model.seg_threshold
    assert cp.b_seg.value() == pytest.approx(panel.model.seg_threshold, abs=1e-4)
    cp.b_reset.click()
    assert cp.b.seg_threshold == cp.b.presets["seg_validation"].value


def test_different_splits_are_reported(qtbot, runs, tmp_path):
    from crackviewer.inspect.panel import InspectPanel

    other = make_fake_run(tmp_path, n_samples=10, size=32, name="small")
    p = InspectPanel()
    qtbot.addWidget(p)
    assert p.open_run(runs[0])
    assert p.compare.open_b_path(other)
    s = p.compare.cmp.summary()
    assert s["only_a"] == 24 - s["n"] or s["n"] < 24
    assert "left out" in p.compare.summary.text()
    assert not p.compare.open_b_path(tmp_path / "nothing")
    p.gallery.loader.shutdown()
