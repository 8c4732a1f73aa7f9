"""Large images open on a worker thread (issue 11): Annotate and Inspect say what they are opening, the window keeps
handling events, and the sample shows when the decode is done. The size limit is lowered so small test images count
as large (``trainer.limits.BACKGROUND_OPEN_MEGAPIXELS``)."""
from __future__ import annotations

import numpy as np
import pytest

from annotate_events import open_panel
from test_gui_annotate_tools import make_dataset
from tests.fakes import make_fake_run
from trainer import limits

pytestmark = pytest.mark.gui


@pytest.fixture
def every_image_is_large(monkeypatch):
    monkeypatch.setattr(limits, "BACKGROUND_OPEN_MEGAPIXELS", 0.0)
    assert limits.opens_in_background.__module__ == "trainer.limits"


def test_annotate_opens_a_large_image_on_a_worker_and_then_edits_it(qtbot, tmp_path, every_image_is_large):
    p = open_panel(qtbot, make_dataset(tmp_path / "ds"))
    try:
        qtbot.waitUntil(lambda: p.opening is None and p.session is not None)   # the first sample, in the background
        first = p.session.name
        other = next(n for n in p.list_model.names if n != first)
        assert p.open_sample(other)
        assert p.opening == other and p.session is None                       # returned before decoding it
        assert "Opening" in p.title_label.text() and other in p.title_label.text()
        qtbot.waitUntil(lambda: p.opening is None)
        assert p.session is not None and p.session.name == other
        m = p.session.model
        p.apply_edit(lambda mm: mm.brush((5, 5), (30, 5), 3, 1))
        assert m.crack_pixels() > 0 and m.undo_depth == 1
        # a sample chosen while another still opens wins; the late result is dropped
        assert p.open_sample(first) and p.open_sample(other)
        qtbot.waitUntil(lambda: p.opening is None and p.session is not None)
        qtbot.wait(100)
        assert p.session.name == other and p.session.model.crack_pixels() > 0   # the edit was kept in memory
    finally:
        p.shutdown()


def test_inspect_opens_a_large_image_on_a_worker(qtbot, tmp_path, every_image_is_large):
    from crackviewer.inspect.panel import InspectPanel

    run = make_fake_run(tmp_path / "runs", n_samples=6, size=48)
    p = InspectPanel()
    qtbot.addWidget(p)
    p.resize(1200, 800)
    p.show()
    try:
        assert p.open_run(run)
        qtbot.waitUntil(lambda: not p.samples.loading and p.samples.sample is not None)
        m = p.model
        target = int(m.order[-1])
        m.set_current(target)
        assert p.samples.loading and p.samples.sample is None
        assert "Opening" in p.viewer.info.label.text()
        qtbot.waitUntil(lambda: not p.samples.loading)
        s = p.samples.sample
        assert s is not None and s.index == target and s.image.ndim == 3
        m.set_seg_threshold(0.3)                        # threshold steps work on the loaded sample
        assert p.viewer.view.pred_mask is not None
    finally:
        p.gallery.loader.shutdown()
