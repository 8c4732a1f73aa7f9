"""Annotate tab, issues 14/15/17 through real mouse and keyboard events (pytest-qt, offscreen): the crack tracer
and accept tools, a label undone with its edit, show_sample, the read-only dataset, a save conflict, "Predict this
sample" and the sample list's marks."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from annotate_events import click, key, open_panel, vp, wait_saved
from crackviewer.annotate import access, assist
from crackviewer.annotate.sample_list import EDITED_MARK, PREDICTED_MARK
from trainer.datasets.images import read_mask
from trainer.datasets.layouts import open_dataset

pytestmark = pytest.mark.gui

H, W = 120, 160
ROOT = Path(__file__).resolve().parents[2]


def crack_y(x):
    """The true centre line of the synthetic curved crack."""
    return 60.0 + 25.0 * np.sin(np.asarray(x, float) / 25.0)


def _image(i):
    rng = np.random.default_rng(i)
    img = rng.normal(170, 12, (H, W)).clip(0, 255).astype(np.uint8)
    if i == 0:                                   # "crack": a dark curved line, 3 px wide, on noise
        xs = np.arange(10, 150, 0.25)
        pts = np.stack([xs, crack_y(xs)], 1).round().astype(np.int32)
        cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, 60, 3)
    return np.repeat(img[..., None], 3, axis=2)


def make_dataset(root: Path) -> Path:
    """crack (weak: no mask), other (crack + mask, val split), neg (crack-free, no mask file)."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    lines = ["name,label,split"]
    for i, (name, label, split) in enumerate([("crack", 1, "train"), ("other", 1, "val"), ("neg", 0, "train")]):
        cv2.imwrite(str(root / "images" / f"{name}.png"), _image(i))
        if name == "other":
            m = np.zeros((H, W), np.uint8)
            m[10:13, 10:70] = 255
            cv2.imwrite(str(root / "masks" / f"{name}.png"), m)
        lines.append(f"{name},{label},{split}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    return root


def make_eval(out: Path) -> Path:
    """An evaluation folder predicting a band on 'neg' and 'crack' (rows 90-92), full resolution."""
    (out / "probs").mkdir(parents=True)
    names = ["crack", "other", "neg"]
    for n in names:
        p = np.zeros((H, W), np.uint8)
        if n != "other":
            p[90:93, 20:120] = 230
        cv2.imwrite(str(out / "probs" / f"{n}.png"), p)
    hist = np.zeros((3, 16), np.uint32)
    np.savez(out / "samples.npz", names=np.array(names), labels=np.array([1, 1, 0], np.int8),
             scores=np.array([0.9, 0.8, 0.7], np.float32), hist_pos=hist, hist_neg=hist)
    (out / "metrics.json").write_text(json.dumps({"split": "all", "seg_threshold": 0.5, "decision_threshold": 0.5}))
    return out


@pytest.fixture
def ds(tmp_path):
    return make_dataset(tmp_path / "ds")


@pytest.fixture
def panel(qtbot, ds):
    p = open_panel(qtbot, ds)
    yield p
    p.shutdown()


def manifest_label(ds, name):
    return open_dataset(ds).sample_by_name(name).label


def test_tracer_follows_a_curved_crack_with_real_mouse_events(qtbot, panel):
    panel.open_sample("crack")
    panel.canvas.fit()
    key(panel, Qt.Key_T)
    assert panel.tool_name == "trace"
    v = panel.canvas.viewport()
    x0, x1 = 14, 146
    click(panel, x0, int(round(crack_y(x0))))
    for x in range(20, x1, 12):                   # the mouse moves roughly along (not on) the crack
        QTest.mouseMove(v, vp(panel, x, int(round(crack_y(x))) + 2))
        assert len(panel.tool.preview_points()) > 1  # the live preview follows
    click(panel, x1, int(round(crack_y(x1))))
    QTest.mouseDClick(v, Qt.LeftButton, Qt.NoModifier, vp(panel, x1, int(round(crack_y(x1)))))
    m = panel.session.model
    assert m.undo_depth == 1                      # one undoable stroke
    ys, xs = np.nonzero(m.mask)
    assert xs.min() <= x0 + 2 and xs.max() >= x1 - 2
    centres = [ys[xs == x].mean() + 0.5 for x in range(x0 + 3, x1 - 3) if (xs == x).any()]
    err = np.abs(np.array(centres) - (crack_y(np.arange(x0 + 3, x1 - 3)) + 0.5)[:len(centres)])
    assert len(centres) > 0.95 * (x1 - x0 - 6) and err.mean() <= 1.0
    assert np.abs(ys + 0.5 - crack_y(xs + 0.5)).max() <= 6      # nothing far from the crack
    key(panel, Qt.Key_Z, Qt.ControlModifier)
    assert m.crack_pixels() == 0


def test_tracer_computes_the_ridge_filter_while_the_mouse_hovers_so_the_click_does_not(qtbot, panel):
    panel.open_sample("crack")
    panel.canvas.fit()
    key(panel, Qt.Key_T)
    QTest.mouseMove(panel.canvas.viewport(), vp(panel, 40, int(round(crack_y(40)))))
    assert panel.tool.warming
    qtbot.waitUntil(lambda: not panel.tool.warming)
    costs = panel.tracer().costs
    done = costs._done.copy()
    assert done.all()                             # this small image: every tile of the click's window is ready
    click(panel, 40, int(round(crack_y(40))))
    assert panel.tool.active
    np.testing.assert_array_equal(costs._done, done)


def test_accept_and_remove_are_undoable(qtbot, panel, tmp_path):
    assert panel.set_prediction_source(make_eval(tmp_path / "eval"))
    panel.open_sample("crack")
    key(panel, Qt.Key_A)
    assert panel.tool_name == "accept"
    QTest.mouseMove(panel.canvas.viewport(), vp(panel, 60, 91))
    assert not panel.accept_item.path().isEmpty()            # hover highlight of the component
    m = panel.session.model
    click(panel, 60, 91)
    assert m.mask[90:93, 20:120].all() and m.crack_pixels() == 300 and m.undo_depth == 1
    key(panel, Qt.Key_Z, Qt.ControlModifier)
    assert m.crack_pixels() == 0
    key(panel, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert m.crack_pixels() == 300
    click(panel, 30, 91, Qt.ShiftModifier)                   # shift-click removes the (now false) crack
    assert m.crack_pixels() == 0 and m.undo_depth == 2
    key(panel, Qt.Key_Z, Qt.ControlModifier)
    assert m.crack_pixels() == 300


def test_undo_gives_back_the_label_an_edit_changed(qtbot, panel, ds, tmp_path):
    """Bug 1 of issue 17: R on a crack-free image made it a crack; Ctrl+Z restored the mask but not the label."""
    assert panel.set_prediction_source(make_eval(tmp_path / "eval"))
    panel.open_sample("neg")
    assert panel._current_label() == 0
    key(panel, Qt.Key_R)
    assert panel.session.model.crack_pixels() > 0
    assert panel.banner.isVisible() and "makes neg a crack image" in panel.banner.text()
    wait_saved(qtbot, panel)
    assert manifest_label(ds, "neg") == 1
    key(panel, Qt.Key_Z, Qt.ControlModifier)
    wait_saved(qtbot, panel)
    assert panel.session.model.crack_pixels() == 0 and panel._current_label() == 0
    assert manifest_label(ds, "neg") == 0 and not read_mask(ds / "masks" / "neg.png", (H, W)).any()
    assert "Label: no crack" in panel.label_button.text()
    key(panel, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)        # redo: a crack again
    wait_saved(qtbot, panel)
    assert manifest_label(ds, "neg") == 1


def test_show_sample_resets_the_filters_and_selects_it(qtbot, panel):
    """Bug 7 (second half): the Dataset tab's double-click kept a stale split filter and another highlight."""
    panel.split_combo.setCurrentIndex(panel.split_combo.findText("train"))
    panel.search.setText("neg")
    panel.set_filter("negative")
    assert "other" not in panel.list_model.names
    assert panel.show_sample("other")
    assert panel.current_name() == "other" and "other" in panel.list_model.names
    assert panel.split_combo.currentData() is None and panel.search.text() == ""
    rows = panel.list_view.selectionModel().selectedRows()
    assert [panel.list_model.names[r.row()] for r in rows] == ["other"]


def test_edited_and_predicted_marks_in_the_list(qtbot, panel, tmp_path):
    def text(n):
        return panel.list_model.data(panel.list_model.index(panel.list_model.names.index(n)))
    assert EDITED_MARK not in text("crack") and PREDICTED_MARK not in text("crack")
    panel.set_prediction_source(make_eval(tmp_path / "eval"))
    assert PREDICTED_MARK in text("crack")
    panel.open_sample("crack")
    panel.apply_edit(lambda m: m.brush((5, 5), (20, 5), 3, 1))
    wait_saved(qtbot, panel)
    assert EDITED_MARK in text("crack") and EDITED_MARK not in text("other")


HOLDER = """
    import sys
    from trainer.datasets.lock import DatasetLock
    lock = DatasetLock(sys.argv[1], app="other-crackviewer")
    lock.acquire()
    print("held", flush=True)
    sys.stdin.read()
"""


def test_second_instance_opens_read_only_and_names_the_holder(qtbot, ds):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(HOLDER), str(ds)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        p = open_panel(qtbot, ds)
        p.open_sample("crack")
        assert p.banner.isVisible() and "read-only" in p.banner.text() and f"pid {holder.pid}" in p.banner.text()
        assert not p.label_button.isEnabled() and not p.tool_buttons["brush"].isEnabled()
        assert p.save_state == "readonly"
        QTest.mousePress(p.canvas.viewport(), Qt.LeftButton, Qt.NoModifier, vp(p, 20, 20))
        QTest.mouseRelease(p.canvas.viewport(), Qt.LeftButton, Qt.NoModifier, vp(p, 40, 20))
        assert p.session.model.crack_pixels() == 0 and not p.set_label(0)
        p.shutdown()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not (ds / "masks" / "crack.png").exists() and manifest_label(ds, "crack") == 1


@pytest.mark.parametrize("choice", [access.KEEP_COPY, access.RELOAD])
def test_mask_changed_on_disk_is_never_overwritten(qtbot, ds, monkeypatch, choice):
    p = open_panel(qtbot, ds, autosave_ms=60_000)
    asked = []
    monkeypatch.setattr(p, "ask_conflict", lambda name, e: asked.append((name, e.message)) or choice)
    p.open_sample("other")
    p.apply_edit(lambda m: m.brush((5, 50), (60, 50), 3, 1))
    theirs = np.zeros((H, W), np.uint8)
    theirs[100:104, 10:150] = 255                    # another process rewrote the mask meanwhile
    cv2.imwrite(str(ds / "masks" / "other.png"), theirs)
    assert not p.save_now()
    qtbot.waitUntil(lambda: bool(asked), timeout=3000)
    assert asked[0][0] == "other" and "changed by another program" in asked[0][1]
    qtbot.waitUntil(lambda: p.session is not None and p.session.model.mask[101, 20] == 1, timeout=3000)
    np.testing.assert_array_equal(read_mask(ds / "masks" / "other.png", (H, W)), theirs > 0)   # theirs kept
    copies = list((ds / ".crackviewer" / "conflicts").glob("other-*.png"))
    if choice == access.KEEP_COPY:
        assert len(copies) == 1 and read_mask(copies[0], (H, W))[50, 30] == 1                   # mine kept
    else:
        assert not copies
    p.shutdown()


FAKE_TRAINER = """
    import sys
    from pathlib import Path
    import cv2, numpy as np
    args = sys.argv[1:]
    assert args[0] == "predict" and "--run" in args
    out = Path(args[args.index("--out") + 1])
    image = Path(args[args.index("--run") + 2])
    h, w = cv2.imread(str(image)).shape[:2]
    p = np.zeros((h, w), np.uint8)
    p[40:43, 30:100] = 250
    cv2.imwrite(str(out / (image.stem + "_prob.png")), p)
"""


def test_predict_this_sample_runs_the_engine_in_a_subprocess(qtbot, panel, tmp_path, monkeypatch):
    script = tmp_path / "fake_trainer.py"
    script.write_text(textwrap.dedent(FAKE_TRAINER))
    monkeypatch.setattr(assist, "TRAINER", [sys.executable, str(script)])
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.toml").write_text("")
    panel.open_sample("crack")
    assert not panel.has_prediction("crack") and not panel.predict_button.isEnabled()
    panel.set_prediction_source(make_eval(run / "evals" / "train"))   # the source's run is the one predicting
    assert panel.predict_button.isEnabled()
    assert panel.predict_sample()
    qtbot.waitUntil(lambda: "crack" in panel._predicted_here and not panel.predicting, timeout=20000)
    key(panel, Qt.Key_R)                          # the fresh prediction, not the evaluation's map
    m = panel.session.model
    assert m.mask[40:43, 30:100].all() and m.crack_pixels() == 3 * 70


def test_help_overlay_lists_the_new_tools(panel):
    from crackviewer.annotate.keys import ANNOTATE_SHORTCUTS
    from crackviewer.qt.shortcuts import help_sections
    tools = dict(help_sections(ANNOTATE_SHORTCUTS))["Tools"]
    assert any(k == "T" and "tracer" in h for k, h in tools) and any(k == "A" and "Accept" in h for k, h in tools)


def test_tracer_enter_finishes_backspace_drops_a_segment_and_width_option(qtbot, panel):
    panel.open_sample("crack")
    panel.canvas.fit()
    key(panel, Qt.Key_T)
    panel.trace_width_spin.setValue(7.0)
    click(panel, 20, int(round(crack_y(20))))
    click(panel, 70, int(round(crack_y(70))))
    click(panel, 130, int(round(crack_y(130))))
    key(panel, Qt.Key_Backspace)                  # the segment 70 -> 130 goes
    key(panel, Qt.Key_Return)
    m = panel.session.model
    ys, xs = np.nonzero(m.mask)
    assert m.undo_depth == 1 and xs.max() < 80
    col = m.mask[:, 45]
    assert 6 <= col.sum() <= 9                    # the width set in the tool options (7 px across)
    key(panel, Qt.Key_T)
    click(panel, 20, 20)
    key(panel, Qt.Key_Escape)                     # cancel: nothing drawn
    assert m.undo_depth == 1 and panel.tool.preview_points() == []
