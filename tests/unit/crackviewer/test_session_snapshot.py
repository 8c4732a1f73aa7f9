"""Saving a large mask: the save thread's snapshot is brought up to date by the changed rectangles only."""
import numpy as np

from crackviewer.annotate.mask_model import MaskModel
from crackviewer.annotate.session import SNAPSHOT_MIN_PIXELS, Session


def test_large_mask_snapshot_follows_strokes_undo_and_redo():
    side = int(np.ceil(np.sqrt(SNAPSHOT_MIN_PIXELS)))
    model = MaskModel(np.zeros((side, side), np.uint8))
    s = Session("big", np.zeros((1, 1, 3), np.uint8), model, saved_revision=model.revision)
    model.listeners.append(s.note_change)
    first = s.mask_for_save()
    assert first is not model.mask and np.array_equal(first, model.mask)
    model.begin_stroke("brush")
    model.brush((100, 100), (300, 120), 9, 1)
    model.end_stroke()
    model.begin_stroke("brush")
    model.brush((3000, 3500), (3010, 3990), 5, 1)
    model.end_stroke()
    assert len(s.snapshot_dirty) == 2
    snap = s.mask_for_save()
    assert snap is first and np.array_equal(snap, model.mask) and model.mask.sum() > 0  # no second whole copy
    assert s.snapshot_dirty == []
    model.undo()
    model.undo()
    model.redo()
    np.testing.assert_array_equal(s.mask_for_save(), model.mask)


def test_small_mask_is_copied_whole_every_time():
    model = MaskModel(np.zeros((60, 80), np.uint8))
    s = Session("small", np.zeros((60, 80, 3), np.uint8), model, saved_revision=model.revision)
    a, b = s.mask_for_save(), s.mask_for_save()
    assert a is not b and a is not model.mask and s.snapshot is None


def test_crack_pixel_count_follows_strokes_undo_redo_without_recounting():
    model = MaskModel(np.zeros((300, 400), np.uint8))
    assert model.crack_pixels() == 0
    for p0, p1, v in [((10, 10), (200, 40), 1), ((50, 5), (60, 290), 1), ((30, 20), (120, 30), 0)]:
        model.begin_stroke("brush")
        model.brush(p0, p1, 7, v)
        model.end_stroke()
        assert model._count[0] == model.revision                  # known after the stroke without a count
        assert model.crack_pixels() == np.count_nonzero(model.mask)
    for step in (model.undo, model.undo, model.redo, model.undo, model.undo):
        step()
        assert model._count[0] == model.revision
        assert model.crack_pixels() == np.count_nonzero(model.mask)
