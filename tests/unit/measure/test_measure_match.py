"""Predicted cracks against ground-truth cracks, matched in groups by tolerant overlap."""
import numpy as np
import pytest

import measure_synth as synth
from trainer.measure.match import accuracy, match_cracks

SHAPE = (200, 260)


def test_shifted_and_thinner_prediction_matches_its_crack():
    gt = synth.straight(SHAPE, (80.3, 60.2), 120, 6, 15) | synth.arc(SHAPE, (130.3, 120.2), 60, 4, 200, 330)
    pred = synth.straight(SHAPE, (81.3, 61.2), 110, 4, 15)                 # 1 px off, shorter, thinner
    pred |= synth.straight(SHAPE, (230.3, 30.2), 30, 3, 90)                # a false crack far away
    m = match_cracks(pred, gt, image="s", mm_per_px=0.2)
    assert len(m.pairs) == 1
    p = m.pairs[0]
    assert len(p.pred_ids) == len(p.gt_ids) == 1 and p.image == "s"
    assert p.gt_width_max == pytest.approx(6, abs=0.75) and p.pred_width_max == pytest.approx(4, abs=0.75)
    assert p.pred_length == pytest.approx(110, rel=0.02) and p.gt_length == pytest.approx(120, rel=0.02)
    assert len(m.pred_unmatched) == 1 and len(m.gt_unmatched) == 1
    acc = accuracy([m])
    assert acc["n_groups"] == 1 and acc["n_pred"] == 2 and acc["n_gt"] == 2
    assert acc["n_pred_unmatched"] == acc["n_gt_unmatched"] == 1
    assert acc["length_mae_px"] == pytest.approx(abs(p.pred_length - p.gt_length))
    assert acc["width_max_mae_px"] == pytest.approx(abs(p.pred_width_max - p.gt_width_max))
    assert acc["length_mae_mm"] == pytest.approx(acc["length_mae_px"] * 0.2)
    assert acc["n_groups_mm"] == 1


def test_a_crack_predicted_in_pieces_is_compared_whole():
    gt = synth.straight(SHAPE, (130.3, 100.2), 200, 5, 0)
    pred = gt.copy()
    pred[:, 90:94] = False                                                  # two gaps: three pieces
    pred[:, 160:163] = False
    m = match_cracks(pred, gt)
    assert m.pred.n_cracks == 3 and len(m.pairs) == 1
    p = m.pairs[0]
    assert sorted(p.pred_ids) == [1, 2, 3] and p.gt_ids == [1]
    assert p.pred_length == pytest.approx(200 - 7, rel=0.02)               # the gaps are missing, nothing else
    assert not m.pred_unmatched and not m.gt_unmatched


def test_identical_masks_match_exactly_and_mm_is_none_without_scale():
    gt = synth.branching(SHAPE, (120.2, 100.4), [(90, 60), (210, 60), (330, 50)], 5)
    m = match_cracks(gt, gt)
    assert len(m.pairs) == 1 and m.pairs[0].score == pytest.approx(1.0)
    acc = accuracy([m])
    assert acc["length_mae_px"] == 0 and acc["width_max_mae_px"] == 0 and acc["length_mae_mm"] is None


def test_no_overlap_no_pairs_and_size_mismatch():
    a = synth.straight(SHAPE, (50.3, 50.2), 60, 4, 0)
    b = synth.straight(SHAPE, (200.3, 150.2), 60, 4, 0)
    m = match_cracks(a, b)
    assert m.pairs == [] and accuracy([m])["length_mae_px"] is None
    with pytest.raises(ValueError, match="differ in size"):
        match_cracks(a, np.zeros((10, 10), bool))
