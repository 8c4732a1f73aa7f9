"""Crack geometry on synthetic cracks of known geometry (antialiased, blurred, thresholded at 0.5)."""
import math

import numpy as np
import pytest

import measure_synth as synth
from trainer.measure.geometry import measure_mask

WIDTHS = [2, 3, 5, 8, 11, 15]
ANGLES = [0, 17, 30, 62, 90, 137]


def _only(mask):
    g = measure_mask(mask)
    assert g.n_cracks == 1
    return g.cracks[0]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("angle", ANGLES)
def test_straight_crack_length_width_orientation(width, angle):
    c = _only(synth.straight((260, 260), (130.3, 129.8), 180, width, angle))
    assert c.length == pytest.approx(180, rel=0.02)
    assert abs(c.width_median - width) <= 0.5
    assert abs(c.width_mean - width) <= 0.5
    assert abs(c.width_p95 - width) <= 0.5
    assert abs(c.width_max - width) <= 0.75        # a single vertex: one digital step at most
    assert min(abs(c.orientation - angle), 180 - abs(c.orientation - angle)) < 1.0
    assert (c.n_branches, c.n_endpoints) == (1, 2)


@pytest.mark.parametrize("width", [2, 7, 15])
def test_exact_diagonal_is_within_one_digital_step(width):
    """At exactly 45 degrees a digital band's width can only change in steps of 1/sqrt(2) px, so the error bound is
    that step; every other angle (above) has the 0.5 px bound."""
    c = _only(synth.straight((260, 260), (130.3, 129.8), 180, width, 45))
    assert abs(c.width_median - width) <= 1 / math.sqrt(2) + 1e-6
    assert c.length == pytest.approx(180, rel=0.02)


@pytest.mark.parametrize("width", [2, 6, 15])
@pytest.mark.parametrize("radius", [60, 110])
def test_arc_crack(width, radius):
    c = _only(synth.arc((260, 260), (130.3, 129.7), radius, width, 10, 200))
    assert c.length == pytest.approx(radius * math.radians(190), rel=0.02)
    assert abs(c.width_median - width) <= 0.5
    assert abs(c.width_mean - width) <= 0.5
    assert abs(c.width_p95 - width) <= 0.5
    assert abs(c.width_max - width) <= 0.75
    assert (c.n_branches, c.n_endpoints) == (1, 2)


@pytest.mark.parametrize("width", [2, 4, 9, 15])
@pytest.mark.parametrize("rot", [0, 25])
def test_branching_crack_keeps_its_branches_together(width, rot):
    arms = [(90 + rot, 80), (210 + rot, 100), (330 + rot, 70)]
    c = _only(synth.branching((300, 300), (150.2, 150.4), arms, width))
    assert c.length == pytest.approx(250, rel=0.02)
    assert (c.n_branches, c.n_endpoints) == (3, 3)
    assert abs(c.width_median - width) <= 0.5
    assert abs(c.width_mean - width) <= 0.5
    assert abs(c.width_p95 - width) <= 0.5


def test_image_totals_and_paths():
    m = synth.straight((200, 300), (80.4, 60.2), 100, 4, 10) | synth.straight((200, 300), (200.3, 140.6), 120, 9, 100)
    g = measure_mask(m)
    assert g.n_cracks == 2
    assert g.total_length == pytest.approx(220, rel=0.02)
    assert g.widest.width_max == pytest.approx(9, abs=0.5)
    assert g.max_width == g.widest.width_max
    assert g.cracked_area == int(m.sum())
    assert g.cracked_fraction == pytest.approx(m.mean())
    for c in g.cracks:
        x, y, w, h = c.bbox
        pts = np.concatenate(c.paths)
        assert pts[:, 0].min() >= x - 0.5 - 1e-6 and pts[:, 0].max() <= x + w - 0.5 + 1e-6
        assert pts[:, 1].min() >= y - 0.5 - 1e-6 and pts[:, 1].max() <= y + h - 0.5 + 1e-6
        assert all(len(p) == len(w_) for p, w_ in zip(c.paths, c.path_widths))
        assert sum(np.hypot(*np.diff(p, axis=0).T).sum() for p in c.paths) == pytest.approx(c.length)


def test_empty_tiny_and_bad_masks():
    assert measure_mask(np.zeros((30, 40), np.uint8)).n_cracks == 0
    dot = np.zeros((30, 40), np.uint8)
    dot[10, 10] = 255
    c = _only(dot)
    assert c.area == 1 and c.length == pytest.approx(1.0, abs=0.3)
    assert measure_mask(dot, min_area=2).n_cracks == 0
    ring = synth.arc((120, 120), (60.3, 59.8), 40, 4, 0, 360)
    rc = _only(ring)
    assert rc.n_endpoints == 0 and rc.length == pytest.approx(2 * math.pi * 40, rel=0.02)
    with pytest.raises(ValueError, match="2-D"):
        measure_mask(np.zeros((4, 4, 3)))
