"""SIGKILL while painting loses at most the stroke in progress.

A child process runs the real AnnotatePanel (offscreen) on a dataset and paints brush strokes with real mouse events;
its debounced autosave and the stroke journal run as in the app. After each completed stroke it prints ``DONE i``;
between strokes it lets the event loop run for a random while (so some strokes are saved, some only journaled).
The parent SIGKILLs it either in the middle of a stroke or right after a stroke was completed, then checks that the
mask file on disk is intact and that reopening (store + panel) restores every completed stroke.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from crackviewer.annotate.mask_store import MaskStore
from trainer.datasets.layouts import open_dataset
from trainer.datasets.images import read_mask

ROOT = Path(__file__).resolve().parents[2]
H, W = 80, 100
NAME = "s1"
N_STROKES = 10
Y_MID = 70


def stroke_row(i: int) -> int:
    return 4 + 4 * i


CHILD = r'''
import os, sys, time, random
os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, {root!r})
from PySide6.QtWidgets import QApplication
from PySide6.QtCore import Qt, QPointF
from PySide6.QtTest import QTest
app = QApplication([])
from crackviewer.annotate.panel import AnnotatePanel
p = AnnotatePanel(autosave_ms=300)
p.resize(900, 700)
p.show()
app.processEvents()
assert p.open_dataset({ds!r})
assert p.open_sample({name!r})
p.set_tool("brush")
p.size_slider.setValue(2)
v = p.canvas.viewport()
def vp(x, y):
    return p.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))
def spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.003)
rng = random.Random({seed})
print("READY", flush=True)
for i in range({n}):
    y = 4 + 4 * i
    QTest.mousePress(v, Qt.LeftButton, Qt.NoModifier, vp(5, y))
    for x in range(12, 95, 9):
        QTest.mouseMove(v, vp(x, y))
    QTest.mouseRelease(v, Qt.LeftButton, Qt.NoModifier, vp(94, y))
    print("DONE", i, flush=True)
    spin(rng.choice([0.0, 0.02, 0.1, 0.35, 0.6]))
QTest.mousePress(v, Qt.LeftButton, Qt.NoModifier, vp(5, {ymid}))
QTest.mouseMove(v, vp(50, {ymid}))
print("MID", flush=True)
spin(0.5)          # the autosave timer fires during the stroke: it must not save half a stroke as "done"
print("MID2", flush=True)
while True:
    spin(1.0)
'''


def make_dataset(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    cv2.imwrite(str(root / "images" / f"{NAME}.png"), rng.integers(100, 200, (H, W, 3), dtype=np.uint8))
    m = np.zeros((H, W), np.uint8)
    m[76:78, 10:90] = 255                          # the original mask (must survive)
    cv2.imwrite(str(root / "masks" / f"{NAME}.png"), m)
    cv2.imwrite(str(root / "images" / "s2.png"), rng.integers(100, 200, (H, W, 3), dtype=np.uint8))
    (root / "manifest.csv").write_text(f"name,label,split\n{NAME},1,train\ns2,1,train\n")
    return root


def run_child(ds: Path, tmp: Path, seed: int, kill_after: str) -> list[int]:
    """Start the painter, SIGKILL it after the line ``kill_after``; returns the strokes it completed."""
    script = tmp / "painter.py"
    script.write_text(CHILD.format(root=str(ROOT), ds=str(ds), name=NAME, seed=seed, n=N_STROKES, ymid=Y_MID))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    done: list[int] = []
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            line = line.strip()
            if line.startswith("DONE"):
                done.append(int(line.split()[1]))
            if line == kill_after:
                os.kill(proc.pid, signal.SIGKILL)
                break
        else:
            pytest.fail("the painter did not reach the kill point in time")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        err = proc.stderr.read()
    assert proc.returncode == -signal.SIGKILL, f"painter ended on its own (rc {proc.returncode}): {err[-2000:]}"
    return done


def check_completed(mask: np.ndarray, done: list[int]) -> None:
    assert mask[76:78, 10:90].all(), "the original mask was lost"
    for i in done:
        y = stroke_row(i)
        assert mask[y, 6:93].all(), f"completed stroke {i} (row {y}) is missing"
    assert not mask[stroke_row(N_STROKES):Y_MID - 2].any(), "pixels appeared where nothing was painted"


@pytest.mark.slow
@pytest.mark.parametrize("kill_after,seed", [("MID2", 11), ("DONE 6", 5)])
def test_sigkill_loses_at_most_the_stroke_in_progress(qtbot, tmp_path, kill_after, seed):
    ds = make_dataset(tmp_path / "ds")
    done = run_child(ds, tmp_path, seed, kill_after)
    expect = list(range(N_STROKES)) if kill_after == "MID2" else list(range(int(kill_after.split()[1]) + 1))
    assert done == expect
    # the mask file on disk is always a whole file (atomic writes), whatever moment the kill hit
    saved = read_mask(ds / "masks" / f"{NAME}.png", (H, W))
    assert saved[76:78, 10:90].all()
    # reopening replays the journal: every completed stroke is back
    store = MaskStore(ds)
    mask, n = store.load_mask(NAME, (H, W))
    check_completed(mask, done)
    # the app's reopen path saves recovered strokes into the dataset and clears the journal
    from crackviewer.annotate.panel import AnnotatePanel
    p = AnnotatePanel(autosave_ms=40)
    qtbot.addWidget(p)
    assert p.open_dataset(ds)
    p.open_sample(NAME)
    check_completed(p.session.model.mask, done)
    assert p.save_state == ("saved" if n else "unchanged")     # recovered strokes were saved; else nothing to do
    p.shutdown()
    on_disk = read_mask(ds / "masks" / f"{NAME}.png", (H, W))
    check_completed(on_disk, done)
    assert not MaskStore(ds).journal_path(NAME).exists()
    assert open_dataset(ds).sample_by_name(NAME).has_mask
    assert (ds / ".crackviewer" / "backup" / "masks" / f"{NAME}.png").is_file()
