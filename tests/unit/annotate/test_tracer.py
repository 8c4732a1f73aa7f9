"""The crack tracer (Qt-free): minimal path over the ridge cost, windows, width, one undoable stroke."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from crackviewer.annotate.ridge import RidgeCost, estimate_width, to_grey
from crackviewer.annotate.tracer import Trace, Tracer, apply_trace
from crackviewer.annotate.mask_model import MaskModel

SIZE = 256
X0, X1 = 20.0, SIZE - 20.0
PEAK_X = 65                        # where the sine reaches its crest (horizontal there)


def true_curve(n: int = 4000) -> np.ndarray:
    """The crack's centre line, (n, 2) x, y: 1.2 periods of a sine of amplitude 35 px."""
    xs = np.linspace(X0, X1, n)
    ys = SIZE / 2 + 35 * np.sin(2 * np.pi * (xs - X0) / (X1 - X0) * 1.2)
    return np.stack([xs, ys], axis=1)


def crack_image(seed: int = 0, contrast: float = 70, noise: float = 12, width: int = 3):
    """A 256x256 grey texture with Gaussian noise and a dark curved crack; returns (image, crack 0..1 map)."""
    rng = np.random.default_rng(seed)
    tex = cv2.resize(rng.normal(0, 1, (SIZE // 16, SIZE // 16)).astype(np.float32), (SIZE, SIZE),
                     interpolation=cv2.INTER_CUBIC)
    crack = np.zeros((SIZE, SIZE), np.float32)
    pts = np.round(true_curve() * 8).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(crack, [pts], False, 1.0, width, cv2.LINE_AA, 3)
    img = 150 + 12 * tex - contrast * crack + rng.normal(0, noise, (SIZE, SIZE))
    return np.clip(img, 0, 255).astype(np.uint8), crack


def mean_distance(points_xy: np.ndarray, curve: np.ndarray) -> float:
    d = np.sqrt(((points_xy[:, None, :] - curve[None, :, :]) ** 2).sum(-1)).min(axis=1)
    return float(d.mean())


def test_trace_between_the_two_ends_follows_the_curved_crack():
    img, _ = crack_image()
    curve = true_curve()
    tracer = Tracer(img)
    tracer.start(curve[0])
    path = tracer.preview(curve[-1])
    assert path.shape[1] == 2 and len(path) > 200
    assert np.hypot(*(path[0] - curve[0])) <= 3 and np.hypot(*(path[-1] - curve[-1])) <= 3
    assert mean_distance(path, curve) < 1.0
    # consecutive points are 8-neighbours: a connected line
    steps = np.abs(np.diff(path, axis=0)).max(axis=1)
    assert steps.max() == 1


def test_trace_with_an_intermediate_click_is_one_polyline_within_a_pixel():
    img, _ = crack_image(seed=1, noise=18)
    curve = true_curve()
    tracer = Tracer(img)
    tracer.start(curve[0])
    first = tracer.commit(curve[1700])
    assert tracer.active and np.allclose(tracer.anchor, first[-1])
    trace = tracer.finish(curve[-1])
    assert isinstance(trace, Trace) and not tracer.active
    assert mean_distance(trace.points, curve) < 1.0
    # the junction appears once: no repeated consecutive points
    assert not (np.diff(trace.points, axis=0) == 0).all(axis=1).any()
    # the polyline passes the intermediate click (snapped onto the crack)
    assert np.hypot(*(trace.points - curve[1700]).T).min() <= 3


def test_a_small_window_regrows_and_gives_the_same_path():
    img, _ = crack_image(seed=2)
    curve = true_curve()
    big = Tracer(img, margin=400)
    big.start(curve[0])
    ref = big.preview(curve[-1])
    small = Tracer(img, margin=16)
    small.start(curve[0])
    searches = small.searches
    # walk the cursor along the crack: the window regrows as the cursor nears its edge
    for q in curve[::200]:
        small.preview(q)
    path = small.preview(curve[-1])
    assert small.searches > searches + 1
    assert mean_distance(path, curve) < 1.0
    assert mean_distance(path, ref) < 0.5


def test_preview_without_search_stays_in_the_window_until_the_mouse_rests():
    img, _ = crack_image(seed=2)
    curve = true_curve()
    tracer = Tracer(img, margin=24, auto_anchor=None)
    tracer.start(curve[0])
    far = curve[-1]
    assert tracer.needs_search(far) and not tracer.needs_search(curve[10])
    n = tracer.searches
    quick = tracer.preview(far, search=False)
    assert tracer.searches == n and len(quick) > 1
    assert np.hypot(*(quick[-1] - curve[0])) <= 24 * 1.5 + 2      # ends at the window, towards the cursor
    full = tracer.preview(far)                                      # the mouse rests: search
    assert tracer.searches == n + 1 and not tracer.needs_search(far)
    assert mean_distance(full, curve) < 1.0


def test_auto_anchor_commits_the_shown_path_when_the_cursor_goes_far():
    img, _ = crack_image(seed=2)
    curve = true_curve()
    tracer = Tracer(img, margin=16, auto_anchor=40)
    tracer.start(curve[0])
    for q in curve[::100]:
        tracer.preview(q)
    assert tracer.segment_count >= 3                      # the drag was cut into segments on the way
    trace = tracer.finish(curve[-1])
    assert mean_distance(trace.points, curve) < 1.0
    off = Tracer(img, margin=16, auto_anchor=None)
    off.start(curve[0])
    for q in curve[::100]:
        off.preview(q)
    assert off.segment_count == 0


def test_probability_map_rescues_a_faint_crack():
    img, crack = crack_image(seed=0, contrast=10, noise=25)      # crack contrast well under the noise
    curve = true_curve()
    rng = np.random.default_rng(10)
    prob = np.clip(cv2.GaussianBlur(crack, (0, 0), 1.5) * 1.5 + rng.normal(0, 0.05, crack.shape), 0, 1)
    plain = Tracer(img)
    plain.start(curve[0])
    e_plain = mean_distance(plain.preview(curve[-1]), curve)
    blended = Tracer(img, prob=(prob * 255).astype(np.uint8))          # an 8-bit probs/<name>.png works too
    blended.start(curve[0])
    e_blend = mean_distance(blended.preview(curve[-1]), curve)
    assert e_plain > 5.0                 # the image alone is ambiguous: the path wanders off the crack
    assert e_blend < 1.5 and e_blend < e_plain / 4


def test_probability_map_at_another_resolution_is_resized():
    img, crack = crack_image()
    small_prob = cv2.resize(crack, (128, 128), interpolation=cv2.INTER_AREA)
    costs = RidgeCost(img, small_prob)
    assert costs.prob is not None and costs.prob.shape == img.shape


@pytest.mark.parametrize("width", [3, 5])
def test_width_is_measured_from_the_image(width):
    img, crack = crack_image(width=width, noise=6)
    drawn = int((crack[:, PEAK_X] > 0.5).sum())                 # the drawn width where the crack runs level
    curve = true_curve()
    tracer = Tracer(img)
    tracer.start(curve[0])
    trace = tracer.finish(curve[-1])
    assert abs(trace.width - drawn) <= 1.0
    assert Tracer(img, width=2.5).width == 2.5


def test_estimate_width_falls_back_without_a_dark_line():
    flat = np.full((64, 64), 0.5, np.float32)
    path = np.stack([np.arange(10, 50), np.full(40, 32)], axis=1)
    assert estimate_width(flat, path, fallback=4.0) == 4.0
    assert estimate_width(flat, path[:2], fallback=4.0) == 4.0


def test_tiles_join_without_seams():
    img, _ = crack_image(seed=3)
    whole = RidgeCost(img, tile=512)
    whole.ensure(0, SIZE, 0, SIZE)
    tiled = RidgeCost(img, tile=48)
    tiled.ensure(30, 100, 40, 90)              # a few tiles first, the rest later
    tiled.ensure(0, SIZE, 0, SIZE)
    ref = whole.response(0, SIZE, 0, SIZE)
    np.testing.assert_allclose(tiled.response(0, SIZE, 0, SIZE), ref, atol=1e-5 * float(ref.max()))


def test_apply_trace_is_one_undoable_stroke_on_the_crack():
    img, crack = crack_image()
    curve = true_curve()
    tracer = Tracer(img)
    tracer.start(curve[0])
    trace = tracer.finish(curve[-1])
    model = MaskModel(np.zeros(img.shape, np.uint8), image=img)
    rect = apply_trace(model, trace)
    assert rect is not None and model.undo_depth == 1
    drawn = model.mask.astype(bool)
    truth = crack > 0.5
    iou = (drawn & truth).sum() / (drawn | truth).sum()
    assert iou > 0.6
    model.undo()
    assert model.crack_pixels() == 0
    model.redo()
    assert np.array_equal(model.mask.astype(bool), drawn)


def test_undo_segment_moves_the_anchor_back():
    img, _ = crack_image()
    curve = true_curve()
    tracer = Tracer(img)
    start = tracer.start(curve[0])
    tracer.commit(curve[1000])
    tracer.commit(curve[2000])
    assert tracer.undo_segment()
    assert np.hypot(*(np.asarray(tracer.anchor) - curve[1000])) <= 3
    assert tracer.undo_segment()
    assert tracer.anchor == start and len(tracer.points) == 0
    assert not tracer.undo_segment()


def test_bad_input_says_what_is_wrong():
    img, _ = crack_image()
    with pytest.raises(RuntimeError, match="start"):
        Tracer(img).preview((10, 10))
    with pytest.raises(ValueError, match="image"):
        Tracer(np.zeros((4, 4, 3, 2)))
    with pytest.raises(ValueError, match="width"):
        Tracer(img, width=0)
    with pytest.raises(ValueError, match="finite"):
        Tracer(img).start((np.nan, 3))
    assert to_grey(np.full((2, 2, 3), 255, np.uint8)).max() == 1.0


def test_warming_in_idle_time_fills_the_click_window_nearest_first_and_the_click_then_computes_nothing():
    rng = np.random.default_rng(5)
    img = (rng.random((700, 900)) * 255).astype(np.uint8)
    warm = Tracer(img, margin=150)
    pt = (450.0, 350.0)
    first = warm.warm(pt)                                   # one tile per call
    assert not first and warm.costs._done.sum() == 1
    r, c = np.argwhere(warm.costs._done)[0] * warm.costs.tile
    assert r <= 350 < r + warm.costs.tile and c <= 450 < c + warm.costs.tile   # the cursor's own tile first
    calls = 1
    while not warm.warm(pt):
        calls += 1
    done = warm.costs._done.copy()
    assert calls + 1 == done.sum() and not done.all()       # only the click window, not the whole image
    warm.start(pt)
    np.testing.assert_array_equal(warm.costs._done, done)   # the click computed no ridge tile
    cold = Tracer(img, margin=150)
    cold.start(pt)
    q = (560.0, 420.0)
    np.testing.assert_array_equal(warm.preview(q), cold.preview(q))   # same path as without warming
