"""The app shell: launch, display check, settings redirect, session restore, demo offer, dataset view, training form.

Offscreen (tests/conftest.py sets QT_QPA_PLATFORM); settings go to a temporary .ini, never the user's.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt


pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(tmp_path, monkeypatch):
    from crackviewer.qt.settings import AppSettings

    ini = tmp_path / "settings" / "crackviewer.ini"
    monkeypatch.setenv("CRACKVIEWER_SETTINGS", str(ini))
    monkeypatch.delenv("CRACKVIEWER_WORKSPACE", raising=False)
    return AppSettings(ini, workspace=tmp_path / "ws")


@pytest.fixture
def window(qtbot, settings):
    from crackviewer.main_window import MainWindow

    # The Inspect/Annotate panels (other modules) are left out here: test_optional_panels_* covers them.
    win = MainWindow(settings, probe_devices=False, optional_panels=False)
    win.confirm_close = False
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    yield win
    win.training_panel.shutdown(timeout_ms=2000)


def _fake_dataset(root: Path, splits=None, size: int = 64) -> Path:
    from tests.fakes import make_fake_dataset

    return make_fake_dataset(root, splits or {"train": (6, 3), "val": (2, 2), "test": (3, 2)}, size=size, seed=1)


# ------------------------------------------------------------------------------------------------ launch
def _no_display_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is for Linux")
def test_no_display_gives_clear_message_and_nonzero_exit(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "--settings", str(tmp_path / "s.ini")],
                       env=_no_display_env(), capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "crackviewer needs a display: set DISPLAY (e.g. run under xvfb-run) or QT_QPA_PLATFORM=offscreen" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "s.ini").exists()


def test_main_py_help_runs_without_a_display():
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "--help"], env=_no_display_env(),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    assert "--workspace" in r.stdout and "--dataset" in r.stdout


def test_main_opens_window_runs_event_loop_and_saves_settings(tmp_path):
    """`python main.py` (= the `crackviewer` entry point): the window opens on the requested tab with the dataset,
    the event loop runs, and the settings land in the file given with --settings."""
    data = _fake_dataset(tmp_path / "data")
    ini = tmp_path / "main.ini"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "--settings", str(ini), "--workspace",
                        str(tmp_path / "ws"), "--dataset", str(data), "--tab", "train", "--quit-after", "4"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("crackviewer ok:"))
    assert "['Dataset', 'Train', 'Runs', 'Inspect', 'Annotate']" in line
    assert "current tab train" in line
    assert f"dataset {data}" in line
    text = ini.read_text()
    assert "last_dataset" in text and str(data) in text


def test_settings_are_redirected_to_the_given_file(settings, tmp_path):
    settings.last_dataset = "/some/where"
    settings.set_json("train_form", {"epochs": 3})
    settings.sync()
    assert Path(settings.file_name) == tmp_path / "settings" / "crackviewer.ini"
    assert "/some/where" in Path(settings.file_name).read_text()
    assert settings.workspace == tmp_path / "ws"
    assert settings.runs_dir == tmp_path / "ws" / "runs"


# ------------------------------------------------------------------------------------------------ session
def test_no_dataset_offers_demo_and_creates_it(window, qtbot, settings):
    """With no dataset the welcome page offers the demo; the button runs `trainer demo --data-only` in a QProcess
    and opens the result."""
    dv = window.dataset_view
    window.restore_session()
    assert dv.stack.currentWidget() is dv.welcome
    assert window.current_tab() == "dataset"
    assert dv.welcome.demo_button.isVisible()
    with qtbot.waitSignal(dv.datasetOpened, timeout=120_000) as blocker:
        qtbot.mouseClick(dv.welcome.demo_button, Qt.MouseButton.LeftButton)
    path, index = blocker.args
    assert Path(path) == settings.workspace / "demo" / "dataset"
    assert (Path(path) / "manifest.csv").is_file()
    counts = index.counts()
    assert set(counts) == {"train", "val", "test"}
    assert all(c["positives"] > 0 and c["negatives"] > 0 for c in counts.values())
    assert dv.stack.currentIndex() == 1
    assert window.training_panel.data_path == Path(path)
    assert window.training_panel.start_button.isEnabled()
    assert settings.last_dataset == Path(path)


def test_reopens_last_dataset_and_run(qtbot, settings, tmp_path):
    from crackviewer.app import create_window, parse_args
    from tests.fakes import make_fake_run

    data = _fake_dataset(tmp_path / "data")
    run = make_fake_run(settings.runs_dir, name="earlier", data=data, epochs=4)
    settings.last_dataset = str(data)
    settings.last_run = str(run)
    settings.sync()
    args = parse_args(["--settings", settings.file_name, "--workspace", str(settings.workspace)])
    win = create_window(args, settings=settings, probe_devices=False, optional_panels=False)
    win.confirm_close = False
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.dataset_view.index is not None, timeout=20_000)
    assert win.dataset_view.path == data
    assert win.runs_view.current == run
    assert win.runs_view.plots.epoch_loss["loss"].values  # its curves are shown
    assert win.training_panel.data_path == data


def test_no_restore_flag_starts_clean(qtbot, settings, tmp_path):
    from crackviewer.app import create_window, parse_args

    data = _fake_dataset(tmp_path / "data")
    settings.last_dataset = str(data)
    args = parse_args(["--no-restore"])
    win = create_window(args, settings=settings, probe_devices=False, optional_panels=False)
    qtbot.addWidget(win)
    assert win.dataset_view.stack.currentWidget() is win.dataset_view.welcome


def test_inspect_and_annotate_panels_are_built(qtbot, settings):
    from crackviewer.annotate.panel import AnnotatePanel
    from crackviewer.inspect.panel import InspectPanel
    from crackviewer.main_window import MainWindow

    win = MainWindow(settings, probe_devices=False)
    qtbot.addWidget(win)
    assert [win.tabs.tabText(i) for i in range(win.tabs.count())] == ["Dataset", "Train", "Runs", "Inspect",
                                                                      "Annotate"]
    assert isinstance(win.inspect_panel, InspectPanel) and win.panels["inspect"] is win.inspect_panel
    assert isinstance(win.annotate_panel, AnnotatePanel) and win.panels["annotate"] is win.annotate_panel
    assert all(not win.tabs.tabIcon(i).isNull() for i in range(win.tabs.count()))


def test_add_panel_and_run_handed_to_inspect_when_its_tab_is_shown(window, settings, tmp_path):
    from PySide6.QtWidgets import QWidget

    from tests.fakes import make_fake_run

    class StubInspect(QWidget):
        def __init__(self):
            super().__init__()
            self.opened = []

        def open_run(self, path, split=None):
            self.opened.append(path)

    stub = StubInspect()
    idx = window.add_panel("Inspect (stub)", stub, "inspect")
    assert window.tabs.widget(idx) is stub
    window.inspect_panel = stub
    run = make_fake_run(settings.runs_dir, name="done", epochs=3)
    window.runs_view.refresh()
    assert window.runs_view.select_run(run)
    assert stub.opened == []                      # lazy: nothing read until the tab is shown
    window.show_tab("inspect")
    assert stub.opened == [str(run)]
    window.show_tab("runs")
    window.show_tab("inspect")
    assert stub.opened == [str(run)]              # not reopened


# ------------------------------------------------------------------------------------------------ dataset view
def test_dataset_view_counts_weak_and_bad_samples(window, qtbot, tmp_path):
    data = _fake_dataset(tmp_path / "data")
    names = [ln.split(",")[0] for ln in (data / "manifest.csv").read_text().splitlines()[1:]]
    rows = [ln.split(",") for ln in (data / "manifest.csv").read_text().splitlines()[1:]]
    pos_train = [r[0] for r in rows if r[1] == "1" and r[2] == "train"]
    (data / "masks" / f"{pos_train[0]}.png").unlink()                       # -> weakly labelled
    (data / "images" / f"{pos_train[1]}.png").write_bytes(b"not a png at all")  # -> corrupt image
    cv2.imwrite(str(data / "masks" / f"{pos_train[2]}.png"), np.zeros((10, 12), np.uint8))  # -> wrong mask size
    with open(data / "manifest.csv", "a") as fh:
        fh.write("../escape,1,train\n")                                        # -> a name with a path in it
    dv = window.dataset_view
    with qtbot.waitSignal(dv.checkFinished, timeout=30_000) as blocker:
        window.open_dataset(data)
    bad_files = {Path(f).name: reason for f, reason in dv.bad_samples()}
    assert f"{pos_train[1]}.png" in bad_files and "decode" in bad_files[f"{pos_train[1]}.png"].lower()
    assert f"{pos_train[2]}.png" in bad_files and "size" in bad_files[f"{pos_train[2]}.png"]
    assert any("escape" in f or "escape" in r for f, r in dv.bad_samples())
    assert dv.bad_table.rowCount() == len(dv.bad_samples()) >= 3
    assert "bad sample" in dv.problems_title.text()
    # counts table: rows train/val/test + Sum, like the published report
    t = dv.counts_table
    assert [t.item(r, 0).text() for r in range(t.rowCount())] == ["Train", "Validation", "Test", "Sum"]
    assert t.item(0, 1).text() == "6" and t.item(0, 2).text() == "3"
    assert t.item(0, 4).text() == "5" and t.item(0, 5).text() == "1"          # 5 segmented, 1 weak
    assert t.item(3, 3).text() == str(len(names))
    assert "weakly labelled" in dv.supervision.text() and "5 of 11" not in dv.supervision.text()
    # filters
    dv.kind_combo.setCurrentIndex(dv.kind_combo.findData("weak"))
    assert [r.name for r in dv.model.records] == [pos_train[0]]
    dv.kind_combo.setCurrentIndex(dv.kind_combo.findData("neg"))
    assert all(r.label == 0 for r in dv.model.records) and len(dv.model.records) == 7


def test_thumbnails_load_lazily_off_the_gui_thread(window, qtbot, tmp_path):
    data = _fake_dataset(tmp_path / "data", {"train": (40, 40), "val": (5, 5), "test": (5, 5)}, size=96)
    dv = window.dataset_view
    window.resize(1100, 720)
    with qtbot.waitSignal(dv.datasetOpened, timeout=30_000):
        window.open_dataset(data)
    qtbot.waitUntil(lambda: dv.model.loaded_count >= 8, timeout=30_000)
    qtbot.wait(500)
    total = len(dv.model.records)
    assert total == 100
    assert dv.model.loaded_count < total          # only the tiles in view were decoded
    first = dv.model.records[0].name
    assert first in dv.model.cache
    pix = dv.model.cache[first]
    assert pix.width() == pix.height() == 120
    dv.list.scrollToBottom()
    last = dv.model.records[-1].name
    qtbot.waitUntil(lambda: last in dv.model.cache, timeout=30_000)


def test_dataset_open_error_is_shown(window, qtbot, tmp_path):
    dv = window.dataset_view
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    with qtbot.waitSignal(dv.datasetFailed, timeout=10_000) as blocker:
        window.open_dataset(empty)
    assert str(empty) in blocker.args[0]
    assert blocker.args[1]
    assert dv.stack.currentWidget() is dv.welcome
    assert "Could not open" in dv.welcome.status.text()


# ------------------------------------------------------------------------------------------------ training form
def test_training_form_has_every_key_grouped_with_tooltips(window):
    from PySide6.QtWidgets import QSpinBox

    from trainer.schema import KEYS

    tp = window.training_panel
    form = tp.form
    assert set(form.widgets) | {"device", "precision"} == set(KEYS)
    for name, w in form.widgets.items():
        key = KEYS[name]
        assert key.help in w.toolTip() and f"Published run: <b>{key.published}</b>" in w.toolTip()
        assert form.groups[key.group].isAncestorOf(w)
        assert form.labels[name].text() == key.title
        if isinstance(w, QSpinBox):           # ranges and steps come from the schema, not from the GUI
            assert (w.minimum(), w.maximum(), w.singleStep()) == (key.min, key.max, key.step)
    assert tp.device_combo.findData("cpu") >= 0 and tp.device_combo.findData("auto") >= 0
    assert [tp.precision_combo.itemData(i) for i in range(tp.precision_combo.count())] == ["auto", "bf16", "fp32"]


def test_presets_set_the_form(window):
    from trainer.config import DEFAULTS
    from trainer.schema import PRESETS

    tp = window.training_panel
    tp.apply_preset("published")
    assert tp.config() == DEFAULTS
    assert tp.preset_combo.currentData() == "published"
    tp.apply_preset("quick")
    assert tp.config() == {**DEFAULTS, **PRESETS["quick"]}
    assert tp.preset_combo.currentData() == "quick"
    tp.form.set_value("epochs", 3)
    assert tp.preset_combo.currentData() == "custom"
    assert tp.config()["epochs"] == 3
    assert tp.form.labels["epochs"].property("differs") == "true"      # differs from the published run
    tp._select_combo(tp.precision_combo, "fp32")
    assert tp.config()["precision"] == "fp32"


def test_device_probe_runs_in_a_subprocess(qtbot):
    from crackviewer.train.trainer_commands import DeviceProbe

    probe = DeviceProbe()
    with qtbot.waitSignal(probe.probed, timeout=60_000) as blocker:
        probe.start()
    info = blocker.args[0]
    assert info["error"] is None
    assert info["precision_auto"] in ("bf16", "fp32")      # the answer of `python -m trainer device --json`
    assert info["torch"]
    assert isinstance(info["cuda"], list)


ALL_TABS_NO_TORCH = """
import sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from crackviewer.app import create_window, parse_args
from crackviewer.qt.settings import AppSettings
data, run, ini, ws = sys.argv[1:5]
win = create_window(parse_args(["--dataset", data, "--run", run]), settings=AppSettings(ini, workspace=ws),
                    probe_devices=False)
win.show()
for _ in range(400):                                  # the dataset opens on a pool thread
    app.processEvents()
    if win.dataset_view.index is not None:
        break
    import time; time.sleep(0.02)
assert win.dataset_view.index is not None, "the dataset did not open"
for key in ("dataset", "train", "runs", "inspect", "annotate"):
    win.show_tab(key)
    for _ in range(20):
        app.processEvents()
win.inspect_run(run)
for _ in range(50):
    app.processEvents()
print("inspected", win._inspected == run)
print("tabs", win.tabs.count())
print("torch", "torch" in sys.modules, "trainer.training" in sys.modules)
win.confirm_close = False
win.close()
"""


def test_every_tab_with_a_dataset_and_an_evaluated_run_leaves_torch_out(tmp_path):
    """Issue 10: start the app with a dataset and an evaluated run, open every tab (all panels on): the GUI process
    never imports torch. In a subprocess, so no other test's imports leak in."""
    from tests.fakes import make_fake_run
    from trainer.runs.folder import RunFolder

    data = _fake_dataset(tmp_path / "data")
    run = make_fake_run(tmp_path / "elsewhere", name="evaluated", data=data, epochs=3)
    assert RunFolder(run).evaluations()                    # evaluated
    r = subprocess.run([sys.executable, "-c", ALL_TABS_NO_TORCH, str(data), str(run), str(tmp_path / "s.ini"),
                        str(tmp_path / "ws")], capture_output=True, text=True, timeout=180,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen"}, cwd=str(ROOT))
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout.splitlines()
    assert "inspected True" in out and "tabs 5" in out
    assert "torch False False" in out


def test_open_run_lists_a_run_from_anywhere_and_remembers_it(window, settings, tmp_path, monkeypatch):
    """Issue 17 bug 5: a run outside the workspace (e.g. `crack-train demo --out /elsewhere`) is listed in Runs
    after File ▸ Open run… and in the next session too."""
    from PySide6.QtWidgets import QFileDialog

    from crackviewer.main_window import MainWindow
    from tests.fakes import make_fake_run

    run = make_fake_run(tmp_path / "elsewhere", name="demo-run", epochs=3)
    window.runs_view.refresh()
    assert str(run) not in window.runs_view.run_paths()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(run))
    open_run = next(a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "Open &run…")
    open_run.trigger()
    assert str(run) in window.runs_view.run_paths()
    assert window.runs_view.current == run and window.current_tab() == "runs"
    assert settings.opened_runs == [str(run.resolve())]
    again = MainWindow(settings, probe_devices=False, optional_panels=False)
    again.runs_view.refresh()
    assert str(run) in again.runs_view.run_paths()
    again.deleteLater()


def test_run_on_the_command_line_is_listed(qtbot, settings, tmp_path):
    from crackviewer.app import create_window, parse_args
    from tests.fakes import make_fake_run

    run = make_fake_run(tmp_path / "elsewhere", name="cli-run", epochs=3)
    win = create_window(parse_args(["--no-restore", "--run", str(run)]), settings=settings, probe_devices=False,
                        optional_panels=False)
    qtbot.addWidget(win)
    assert str(run.resolve()) in win.runs_view.run_paths()
    assert win.runs_view.current == run.resolve()


def test_help_shortcuts_lists_every_tabs_shortcuts_from_the_registry(window):
    from crackviewer.annotate.keys import ANNOTATE_SHORTCUTS
    from crackviewer.inspect.keys import INSPECT_SHORTCUTS
    from crackviewer.menus import WINDOW_SHORTCUTS

    dlg = window.show_shortcuts()
    text = " ".join(dlg.text.toPlainText().split())
    for table in (WINDOW_SHORTCUTS, INSPECT_SHORTCUTS, ANNOTATE_SHORTCUTS):
        for row in table:
            assert " ".join(row.help.split()) in text and " ".join(row.label.split()) in text, row
    # the menu keys are the registry's keys
    actions = {a.text(): a for m in window.menuBar().actions() for a in m.menu().actions()}
    assert actions["Open &run…"].shortcut().toString() == "Ctrl+Shift+O"
    assert actions["&Shortcuts"].shortcut().toString() == "Ctrl+F1"   # F1 alone is Annotate's own help
    dlg.close()


def test_a_folder_that_is_not_a_dataset_gets_a_dialog_naming_it_once(window, qtbot, tmp_path):
    folder = tmp_path / "holiday-photos"
    folder.mkdir()
    with qtbot.waitSignal(window.dataset_view.datasetFailed, timeout=10_000):
        window.open_dataset(folder)
    dlg = window.dataset_failed_dialog
    assert dlg.isVisible()
    assert "holiday-photos" in dlg.text()
    detail = dlg.informativeText()
    assert detail.count(str(folder)) == 1                   # the path once, not twice
    assert "manifest.csv" in detail                          # what was looked for
    dlg.close()


def test_file_dialogs_start_in_the_workspace_or_beside_the_dataset(window, qtbot, tmp_path):
    assert window.dialog_start() == str(window.settings.workspace)
    data = _fake_dataset(tmp_path / "data")
    with qtbot.waitSignal(window.dataset_view.datasetOpened, timeout=20_000):
        window.open_dataset(data)
    assert window.dialog_start() == str(data.parent)


def test_dataset_train_and_runs_tabs_fit_1280x800(window, qtbot, tmp_path):
    """Issue 17: every tab must fit 1280x800 (Inspect has its own clipping test)."""
    from tests.fakes import make_fake_run

    data = _fake_dataset(tmp_path / "data")
    with qtbot.waitSignal(window.dataset_view.datasetOpened, timeout=20_000):
        window.open_dataset(data)
    make_fake_run(window.settings.runs_dir, name="done", data=data, epochs=3)
    window.setMinimumSize(0, 0)
    window.resize(1280, 800)
    for key in ("dataset", "train", "runs"):
        window.show_tab(key)
        qtbot.wait(20)
        panel = window.panels[key]
        hint = panel.minimumSizeHint()
        assert hint.width() <= panel.width() and hint.height() <= panel.height(), (key, hint, panel.size())
    assert window.minimumSize().width() <= 1280 and window.size().height() <= 800
