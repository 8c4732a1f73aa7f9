"""Dataset tab additions of issues 15 and 12: the mask check offers "read masks as nonzero" (and sets the training
form's mask_rule), and the Widest cracks table measures every ground-truth mask in the background."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from PySide6.QtCore import Qt

from tests.fakes import make_fake_dataset, read_fake_manifest

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from crackviewer.main_window import MainWindow
    from crackviewer.qt.settings import AppSettings

    ini = tmp_path / "settings.ini"
    monkeypatch.setenv("CRACKVIEWER_SETTINGS", str(ini))
    win = MainWindow(AppSettings(ini, workspace=tmp_path / "ws"), probe_devices=False, optional_panels=False)
    win.confirm_close = False
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    return win


def _dataset(root: Path) -> Path:
    return make_fake_dataset(root, {"train": (5, 2), "val": (2, 1), "test": (2, 1)}, size=64, seed=3)


def test_masks_stored_as_0_1_offer_the_nonzero_rule_which_sets_the_training_form(window, qtbot, tmp_path):
    data = _dataset(tmp_path / "data01")
    for name, label, _split in read_fake_manifest(data):
        p = data / "masks" / f"{name}.png"
        cv2.imwrite(str(p), (cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 127).astype("uint8"))   # 0/1 masks
    dv = window.dataset_view
    box = dv.mask_rule_box
    with qtbot.waitSignal(box.checked, timeout=30_000) as checked:
        window.open_dataset(data)
    assert checked.args[0] == 9                          # every crack mask
    assert box.isVisible() and "0, 1" in box.text.text()
    assert window.training_panel.form.value("mask_rule") == "threshold"
    qtbot.mouseClick(box.nonzero_button, Qt.MouseButton.LeftButton)
    assert window.training_panel.form.value("mask_rule") == "nonzero"
    assert not box.nonzero_button.isEnabled()


def test_masks_stored_as_0_255_need_no_choice(window, qtbot, tmp_path):
    dv = window.dataset_view
    with qtbot.waitSignal(dv.mask_rule_box.checked, timeout=30_000) as checked:
        window.open_dataset(_dataset(tmp_path / "data"))
    assert checked.args[0] == 0 and not dv.mask_rule_box.isVisible()


def test_widest_cracks_table_is_sortable_in_px_or_mm_and_opens_the_sample(window, qtbot, tmp_path):
    data = _dataset(tmp_path / "data")
    dv = window.dataset_view
    with qtbot.waitSignal(dv.datasetOpened, timeout=30_000):
        window.open_dataset(data)
    with qtbot.waitSignal(dv.widest.measured, timeout=30_000) as measured:
        dv.right_tabs.setCurrentWidget(dv.widest)
    assert measured.args[0] == 9
    t = dv.widest.table
    widths = [t.item(r, 2).key for r in range(t.rowCount())]
    assert widths == sorted(widths, reverse=True) and widths[0] > 0
    assert t.horizontalHeaderItem(2).text() == "Widest crack (px)" and "in pixels" in dv.widest.note.text()
    t.sortItems(2, Qt.SortOrder.AscendingOrder)
    assert t.item(0, 2).key == min(widths)
    with qtbot.waitSignal(dv.sampleActivated) as opened:
        dv.widest.table.itemDoubleClicked.emit(t.item(0, 2))
    assert opened.args[0] == t.item(0, 0).text()

    (data / "scale.json").write_text(json.dumps({"mm_per_px": 0.5}))
    with qtbot.waitSignal(dv.widest.measured, timeout=30_000):
        dv.widest.measure(data, dv.index.samples)
    assert t.horizontalHeaderItem(2).text() == "Widest crack (mm)" and "millimetres" in dv.widest.note.text()
    mm = sorted((t.item(r, 2).key for r in range(t.rowCount())), reverse=True)
    assert mm == pytest.approx([w * 0.5 for w in sorted(widths, reverse=True)])
