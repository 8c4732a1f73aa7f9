"""Real mouse and keyboard events on the Annotate panel's canvas (pytest-qt, offscreen), for its e2e tests."""
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from crackviewer.annotate.panel import AnnotatePanel


def open_panel(qtbot, ds, autosave_ms=40) -> AnnotatePanel:
    """A shown, active Annotate panel with dataset ``ds`` open (close it with ``shutdown()``)."""
    p = AnnotatePanel(autosave_ms=autosave_ms)
    qtbot.addWidget(p)
    p.resize(1100, 720)
    p.show()
    qtbot.waitExposed(p)
    assert p.open_dataset(ds)
    activate(qtbot, p)
    return p


def activate(qtbot, p):
    """Shortcuts (WidgetWithChildrenShortcut) fire only in the active window, with focus inside the panel."""
    p.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is p, timeout=3000)
    p.canvas.setFocus()


def vp(panel, x, y):
    """Viewport point of image pixel (x, y) (its centre)."""
    return panel.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5))


def drag(panel, pts, modifier=Qt.NoModifier):
    v = panel.canvas.viewport()
    QTest.mousePress(v, Qt.LeftButton, modifier, vp(panel, *pts[0]))
    for p in pts[1:]:
        QTest.mouseMove(v, vp(panel, *p))
    QTest.mouseRelease(v, Qt.LeftButton, modifier, vp(panel, *pts[-1]))


def click(panel, x, y, modifier=Qt.NoModifier):
    QTest.mouseClick(panel.canvas.viewport(), Qt.LeftButton, modifier, vp(panel, x, y))


def double_click_end(panel, x, y, modifier=Qt.NoModifier):
    """What a real double-click delivers: press/release (adds the point), then the double-click event."""
    click(panel, x, y, modifier)
    QTest.mouseDClick(panel.canvas.viewport(), Qt.LeftButton, modifier, vp(panel, x, y))


def key(panel, k, modifier=Qt.NoModifier):
    QTest.keyClick(panel.canvas, k, modifier)


def wait_saved(qtbot, panel):
    qtbot.waitUntil(lambda: panel.save_state == "saved", timeout=5000)
