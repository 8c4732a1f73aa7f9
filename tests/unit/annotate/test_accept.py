"""Accept a predicted crack / remove a false one (Qt-free): exactly the component's pixels, one undoable stroke."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from crackviewer.annotate.accept import PredictedCracks, accept_component, binary_component_at, component_at
from crackviewer.annotate.mask_model import MaskModel


def prob_map() -> np.ndarray:
    """A 96x128 float probability map with two separate cracks (a diagonal line and an arc) over low noise."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0.0, 0.3, (96, 128)).astype(np.float32)
    line = np.zeros_like(p)
    cv2.line(line, (10, 10), (60, 80), 1.0, 3)
    arc = np.zeros_like(p)
    cv2.ellipse(arc, (100, 50), (20, 30), 0, -60, 120, 1.0, 2)
    p = np.maximum(p, 0.9 * line)
    p = np.maximum(p, 0.7 * arc)
    return p


def test_component_under_the_click_is_exactly_the_thresholded_component():
    p = prob_map()
    found = component_at(p, 0.5, (35, 45), p.shape)           # on the diagonal line (x, y)
    assert found is not None
    region, rect = found
    n, labels = cv2.connectedComponents((p >= 0.5).astype(np.uint8), connectivity=8)
    expected = labels == labels[45, 35]
    got = np.zeros(p.shape, bool)
    got[rect.slices] = region
    assert np.array_equal(got, expected)


def test_click_beside_a_crack_takes_the_nearest_component_within_the_radius():
    p = prob_map()
    assert component_at(p, 0.5, (100, 5), p.shape) is None      # far from everything
    near = component_at(p, 0.5, (37.5, 41.5), p.shape, radius=4)
    exact = component_at(p, 0.5, (35, 45), p.shape)
    assert near is not None and np.array_equal(near[0], exact[0]) and near[1] == exact[1]
    assert component_at(p, 0.5, (-50, -50), p.shape) is None


def test_threshold_decides_the_component():
    p = prob_map()
    arc = component_at(p, 0.5, (120, 50), p.shape)
    assert arc is not None
    assert component_at(p, 0.8, (120, 50), p.shape) is None      # the arc's 0.7 is under 0.8


def test_accept_adds_one_undoable_stroke_of_exactly_the_component():
    p = prob_map()
    base = np.zeros(p.shape, np.uint8)
    base[0:5, 100:110] = 1                                        # an earlier, unrelated mark
    model = MaskModel(base)
    region, rect = component_at(p, 0.5, (35, 45), p.shape)
    before = model.mask.copy()
    changed = accept_component(model, p, 0.5, (35, 45))
    assert changed is not None and model.undo_depth == 1
    diff = model.mask != before
    expected = np.zeros(p.shape, bool)
    expected[rect.slices] = region
    assert np.array_equal(diff, expected)
    model.undo()
    assert np.array_equal(model.mask, before)
    model.redo()
    assert np.array_equal(model.mask.astype(bool), before.astype(bool) | expected)
    # accepting it again changes nothing and adds no undo step
    assert accept_component(model, p, 0.5, (35, 45)) is None and model.undo_depth == 1


def test_accept_takes_an_8bit_map_at_another_resolution():
    p = prob_map()
    big = MaskModel(np.zeros((192, 256), np.uint8))
    p8 = (p * 255).astype(np.uint8)
    assert accept_component(big, p8, 0.5, (70, 90)) is not None
    assert big.crack_pixels() > 0
    n, labels = cv2.connectedComponents(big.mask, connectivity=8)
    assert n == 2                                                 # background + the one accepted crack


def test_shift_click_removes_the_masks_component_only():
    m = np.zeros((64, 64), np.uint8)
    cv2.line(m, (5, 5), (40, 30), 1, 2)
    cv2.circle(m, (50, 50), 5, 1, -1)
    model = MaskModel(m)
    before = model.mask.copy()
    region, rect = binary_component_at(model.mask, (22, 17))
    assert accept_component(model, None, 0.5, (22, 17), remove=True) is not None
    removed = before.astype(bool) & ~model.mask.astype(bool)
    expected = np.zeros(m.shape, bool)
    expected[rect.slices] = region
    assert np.array_equal(removed, expected)
    assert model.mask[50, 50] == 1 and model.undo_depth == 1      # the disc stays
    assert not (model.mask.astype(bool) & ~before.astype(bool)).any()
    model.undo()
    assert np.array_equal(model.mask, before)
    assert accept_component(model, None, 0.5, (60, 5), remove=True) is None


def test_accept_without_a_prediction_says_so():
    with pytest.raises(ValueError, match="probability map"):
        accept_component(MaskModel(np.zeros((8, 8), np.uint8)), None, 0.5, (2, 2))
    with pytest.raises(ValueError, match="finite"):
        component_at(prob_map(), 0.5, (np.inf, 2), (96, 128))


def test_predicted_cracks_keeps_the_last_threshold_and_matches_component_at():
    p = prob_map()
    pred = PredictedCracks(p, p.shape)
    b1 = pred.binary(0.5)
    assert pred.binary(0.5) is b1                                 # cached
    assert pred.binary(0.8) is not b1
    a = pred.component_at(0.5, (35, 45))
    b = component_at(p, 0.5, (35, 45), p.shape)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]
    with pytest.raises(ValueError, match="binarised"):
        component_at(pred, 0.5, (35, 45), (10, 10))


def test_paint_region_keeps_only_the_touched_tiles_for_undo():
    model = MaskModel(np.zeros((1024, 1024), np.uint8))
    line = np.zeros((1024, 1024), np.uint8)
    cv2.line(line, (0, 0), (1023, 1023), 1, 3)
    region, rect = binary_component_at(line, (500, 500))
    assert rect.w > 1000 and rect.h > 1000
    seen = []
    model.listeners.append(lambda change, how: seen.append((change, how)))
    changed = model.paint_region(region, rect, 1, kind="accept")
    assert changed is not None and np.array_equal(model.mask, line)
    change, how = seen[-1]
    assert how == "edit"
    assert change.kind == "accept" and change.changed_pixels == int(line.sum())
    assert change.nbytes < 1024 * 1024 / 8 / 4                   # far less than the bounding box, bit-packed
    model.undo()
    assert model.crack_pixels() == 0
    with pytest.raises(ValueError, match="region shape"):
        model.paint_region(np.zeros((2, 2), bool), rect)
    assert model.paint_region(np.zeros((rect.h, rect.w), bool), rect) is None
