"""The Qt-free mask editing model: every tool, dirty rectangles, per-stroke undo/redo with bounded memory."""
import numpy as np
import pytest

from crackviewer.annotate.mask_model import MaskModel, Rect, prediction_mask


def outside_unchanged(before, after, rect):
    """True when nothing outside ``rect`` changed."""
    diff = before != after
    if rect is None:
        return not diff.any()
    diff[rect.slices] = False
    return not diff.any()


def test_qt_free():
    import subprocess
    import sys
    code = ("import sys, crackviewer.annotate.mask_model, crackviewer.annotate.mask_store, crackviewer.annotate.review_queue, "
            "crackviewer.annotate.tracer, crackviewer.annotate.accept; "
            "bad=[m for m in sys.modules if m.startswith(('PySide6','pyqtgraph'))]; print(bad); sys.exit(bool(bad))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_brush_disc_and_segment():
    m = MaskModel(np.zeros((64, 64), np.uint8))
    before = m.mask.copy()
    r = m.brush((20, 20), None, 9)
    assert isinstance(r, Rect) and outside_unchanged(before, m.mask, r)
    # a disc of diameter 9: area close to pi * 4.5^2 = 63.6
    assert 50 <= m.crack_pixels() <= 81
    assert m.mask[20, 20] == 1 and m.mask[20, 26] == 0
    assert m.undo_depth == 1
    # a segment covers the whole path with the brush width
    before = m.mask.copy()
    r = m.brush((5, 50), (55, 50), 5)
    assert outside_unchanged(before, m.mask, r)
    assert m.mask[50, 5:56].all() and m.mask[48:53, 30].all()
    assert not m.mask[44, 30] and not m.mask[56, 30]
    assert set(np.unique(m.mask)) <= {0, 1}


def test_brush_stroke_is_one_undo_step_and_eraser():
    m = MaskModel(np.zeros((80, 80), np.uint8))
    m.begin_stroke("brush")
    pts = [(10, 10), (20, 15), (30, 25), (40, 40), (60, 70)]
    rects = [m.brush(a, b, 4) for a, b in zip(pts, pts[1:])]
    assert all(r is not None for r in rects)
    assert not m.can_undo          # a stroke in progress is not undoable yet
    change = m.end_stroke()
    assert change is not None and change.kind == "brush" and m.undo_depth == 1
    painted = m.mask.copy()
    # eraser: value 0 along part of the stroke
    m.begin_stroke("eraser")
    m.brush((25, 20), (45, 45), 8, value=0)
    m.end_stroke()
    assert m.crack_pixels() < painted.sum()
    assert m.mask[40, 40] == 0 and m.mask[10, 10] == 1
    m.undo()
    np.testing.assert_array_equal(m.mask, painted)
    m.undo()
    assert m.crack_pixels() == 0
    m.redo()
    np.testing.assert_array_equal(m.mask, painted)


def test_brush_outside_image_is_ignored_and_clipped():
    m = MaskModel(np.zeros((32, 32), np.uint8))
    assert m.brush((-50, -50), (-40, -45), 5) is None
    assert m.undo_depth == 0
    r = m.brush((-3, 16), (3, 16), 6)
    assert r.x == 0 and r.x + r.w <= 32
    assert m.mask[16, 0] == 1


def test_abort_stroke_restores():
    m = MaskModel(np.zeros((40, 40), np.uint8))
    m.brush((5, 5), None, 3)
    saved = m.mask.copy()
    m.begin_stroke("brush")
    m.brush((10, 10), (30, 30), 5)
    assert m.crack_pixels() > saved.sum()
    r = m.abort_stroke()
    assert r is not None
    np.testing.assert_array_equal(m.mask, saved)
    assert m.undo_depth == 1


def test_polyline_with_width_one_undo_step():
    m = MaskModel(np.zeros((100, 100), np.uint8))
    pts = [(10, 10), (50, 20), (90, 80)]
    before = m.mask.copy()
    r = m.polyline(pts, width=5)
    assert outside_unchanged(before, m.mask, r)
    assert m.undo_depth == 1
    assert m.mask[10, 10] and m.mask[20, 50] and m.mask[80, 90]
    # the width: about 5 pixels across the first (nearly horizontal) segment at x=30
    col = m.mask[:, 30]
    assert 4 <= col.sum() <= 7
    # a 1-pixel line is connected from end to end
    m2 = MaskModel(np.zeros((100, 100), np.uint8))
    m2.polyline([(0, 0), (99, 99)], width=1)
    assert m2.crack_pixels() == 100
    m.undo()
    assert m.crack_pixels() == 0
    # erase mode
    m.redo()
    m.polyline([(0, 15), (99, 15)], width=20, value=0)
    assert m.mask[10, 10] == 0 and m.mask[80, 90] == 1


def test_polygon_fill():
    m = MaskModel(np.zeros((50, 50), np.uint8))
    r = m.polygon([(10, 10), (40, 10), (40, 30), (10, 30)])
    assert r is not None
    assert m.mask[11:30, 11:40].all()
    assert 30 * 20 <= m.crack_pixels() <= 32 * 22
    assert m.mask[5, 5] == 0
    assert m.polygon([(1, 1), (2, 2)]) is None         # fewer than 3 points: nothing
    m.polygon([(0, 0), (49, 0), (49, 49), (0, 49)], value=0)
    assert m.crack_pixels() == 0


def test_flood_fill_with_tolerance():
    img = np.full((60, 60, 3), 180, np.uint8)
    img[28:32, :] = 60                     # a dark horizontal crack
    img[28:32, 40:] = 75                   # slightly lighter part of it
    img[0:5, 0:5] = 62                     # a dark spot not connected to the crack
    m = MaskModel(np.zeros((60, 60), np.uint8), image=img)
    before = m.mask.copy()
    r = m.flood_fill((10, 29), tolerance=5)
    assert outside_unchanged(before, m.mask, r)
    assert m.mask[28:32, :40].all() and not m.mask[28:32, 40:].any()
    assert not m.mask[0:5, 0:5].any() and not m.mask[10, 10]
    m.undo()
    m.flood_fill((10, 29), tolerance=20)   # now the lighter part joins
    assert m.mask[28:32, :].all() and m.crack_pixels() == 4 * 60
    m.flood_fill((50, 10), tolerance=200)  # huge tolerance: everything
    assert m.crack_pixels() == 3600
    m.flood_fill((10, 29), tolerance=5, value=0)   # remove the dark part again
    assert not m.mask[28:32, :40].any() and m.mask[10, 10]
    assert m.undo_depth == 3
    assert m.flood_fill((500, 10), 5) is None


def test_flood_fill_needs_image():
    m = MaskModel(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="image"):
        m.flood_fill((1, 1), 10)


def test_from_prediction_resizes_and_thresholds():
    prob = np.zeros((32, 32), np.uint8)
    prob[10:20, 8:24] = 230                          # p = 0.9
    prob[0:4, 0:4] = 100                             # p = 0.39
    m = MaskModel(np.zeros((64, 96), np.uint8))
    m.brush((90, 60), None, 3)
    m.from_prediction(prob, 0.5)
    pm = prediction_mask(prob, 0.5, (64, 96))
    np.testing.assert_array_equal(m.mask, pm)
    assert m.mask[30, 48] == 1 and m.mask[2, 2] == 0 and m.mask[60, 90] == 0
    m.undo()
    m.from_prediction(prob.astype(np.float32) / 255.0, 0.3, mode="union")
    assert m.mask[2, 2] == 1 and m.mask[60, 90] == 1   # union keeps the brush dot
    with pytest.raises(ValueError):
        m.from_prediction(prob, 0.5, mode="bogus")


def test_clear_and_set_mask():
    m = MaskModel(np.ones((20, 20), np.uint8))
    m.clear()
    assert m.crack_pixels() == 0
    assert m.clear() is None                          # nothing changed: no undo step
    assert m.undo_depth == 1
    m.undo()
    assert m.crack_pixels() == 400


def test_redo_cleared_by_new_edit():
    m = MaskModel(np.zeros((20, 20), np.uint8))
    m.brush((5, 5), None, 3)
    m.brush((15, 15), None, 3)
    m.undo()
    assert m.can_redo
    m.brush((5, 15), None, 3)
    assert not m.can_redo and m.undo_depth == 2
    assert m.undo() is not None and m.undo() is not None and m.undo() is None


def test_history_is_diffs_and_bounded():
    m = MaskModel(np.zeros((3000, 4000), np.uint8), history_bytes=1 << 20)
    m.begin_stroke("brush")
    for i in range(60):             # a long diagonal stroke over the whole image
        m.brush((i * 60, i * 45), ((i + 1) * 60, (i + 1) * 45), 10)
    c = m.end_stroke()
    # stored as bit-packed tile patches: far smaller than the stroke's bounding box (12 MB)
    assert c.nbytes < 200_000, c.nbytes
    # memory cap: whole-image changes push the oldest steps out
    rng = np.random.default_rng(0)
    cap = MaskModel(np.zeros((500, 500), np.uint8), history_bytes=100_000)
    for _ in range(6):                 # each random whole-mask change costs ~63 kB (two bit-packed copies)
        cap.set_mask(rng.random((500, 500)) < 0.5)
    assert cap.history_nbytes <= 100_000 and cap.undo_depth == 1
    cap.brush((5, 5), None, 3)         # small steps fit beside it
    assert cap.undo_depth == 2
    # step limit
    s = MaskModel(np.zeros((30, 30), np.uint8), history_limit=5)
    for i in range(12):
        s.brush((i * 2, 5), None, 1)
    assert s.undo_depth == 5
    for _ in range(5):
        s.undo()
    assert s.crack_pixels() == 7 and not s.can_undo


def test_listeners_replay_reproduces_the_mask():
    """What listeners get (absolute writes per stroke) replays to the same mask: the journal's contract."""
    base = np.zeros((70, 70), np.uint8)
    base[5:10, 5:60] = 1
    img = np.full((70, 70), 200, np.uint8)
    img[40:45, :] = 20
    m = MaskModel(base, image=img)
    log = []
    m.listeners.append(lambda ch, how: log.append(ch.writes("old" if how == "undo" else "new")))
    m.brush((10, 30), (60, 35), 4)
    m.polyline([(0, 69), (69, 0)], 3)
    m.flood_fill((3, 42), 10)
    m.undo()
    m.polygon([(50, 50), (65, 50), (65, 65)])
    m.undo()
    m.redo()
    m.brush((6, 6), (50, 8), 6, value=0)
    replay = base.copy()
    for writes in log:
        for y, x, vals in writes:
            replay[y:y + vals.shape[0], x:x + vals.shape[1]] = vals
    np.testing.assert_array_equal(replay, m.mask)
    assert len(log) == 8


def test_random_ops_dirty_rect_invariant():
    rng = np.random.default_rng(5)
    img = rng.integers(0, 255, (90, 120), dtype=np.uint8)
    m = MaskModel(np.zeros((90, 120), np.uint8), image=img)
    for i in range(60):
        before = m.mask.copy()
        op = i % 6
        pts = rng.uniform(-10, 130, (4, 2))
        if op == 0:
            r = m.brush(pts[0], pts[1], rng.uniform(1, 15), value=int(rng.integers(0, 2)))
        elif op == 1:
            r = m.polyline(pts, rng.uniform(1, 8))
        elif op == 2:
            r = m.polygon(pts)
        elif op == 3:
            r = m.flood_fill((rng.uniform(0, 120), rng.uniform(0, 90)), rng.uniform(0, 40))
        elif op == 4:
            r = m.undo()
        else:
            r = m.redo()
        assert outside_unchanged(before, m.mask, r), (i, op, r)
        if r is not None:
            assert r.x >= 0 and r.y >= 0 and r.x + r.w <= 120 and r.y + r.h <= 90
