"""clDice against its formula on explicit skeletons."""
import numpy as np
import pytest
from skimage.morphology import skeletonize

from trainer.metrics import pixels as metrics_pixels
from trainer.metrics import centreline as C


def formula(prob, gt, t):
    pred = metrics_pixels.prob_to_bin(prob) >= metrics_pixels.threshold_to_bin(t)
    sp, sg = skeletonize(pred), skeletonize(gt)
    tprec = (sp & gt).sum() / sp.sum() if sp.sum() else 1.0
    tsens = (sg & pred).sum() / sg.sum() if sg.sum() else 1.0
    return 0.0 if tprec + tsens == 0 else 2 * tprec * tsens / (tprec + tsens)


def blobs(rng, h=40, w=50):
    gt = np.zeros((h, w), bool)
    gt[rng.integers(5, 30):, rng.integers(5, 40)] = True
    gt[rng.integers(5, 35), rng.integers(0, 20):] = True
    from scipy.ndimage import binary_dilation
    gt = binary_dilation(gt, iterations=int(rng.integers(0, 3)))
    prob = (rng.random((h, w)) * 0.5).astype(np.float32)
    prob[gt] += 0.45
    return prob, gt


@pytest.mark.parametrize("seed", range(5))
def test_cldice_matches_formula(seed):
    rng = np.random.default_rng(seed)
    prob, gt = blobs(rng)
    for t in (0.3, 0.5, 0.7, 0.9):
        assert C.cldice(prob, gt, t) == pytest.approx(formula(prob, gt, t))


def test_skeleton_on_bounding_box_equals_full_skeleton():
    rng = np.random.default_rng(9)
    for _ in range(5):
        prob, gt = blobs(rng)
        m = prob > 0.6
        assert np.array_equal(C.skeleton(m), skeletonize(m))
        assert np.array_equal(C.skeleton(gt), skeletonize(gt))


def test_cldice_empty_cases():
    z = np.zeros((10, 10), np.float32)
    g0 = np.zeros((10, 10), bool)
    g1 = g0.copy()
    g1[5, 2:8] = True
    one = np.where(g1, 0.9, 0.0).astype(np.float32)
    assert C.cldice(z, g0, 0.5) == 1.0
    assert C.cldice(one, g0, 0.5) == 0.0
    assert C.cldice(z, g1, 0.5) == 0.0
    assert C.cldice(one, g1, 0.5) == 1.0


def test_tsens_at_every_threshold_from_skeleton_histogram():
    rng = np.random.default_rng(2)
    probs, gts = zip(*[blobs(rng) for _ in range(3)])
    h = np.stack([C.skeleton_histogram(p, g) for p, g in zip(probs, gts)])
    for t in (0.2, 0.5, 0.8):
        k = metrics_pixels.threshold_to_bin(t)
        want = [C.cldice_from_counts(*C.cldice_counts(p, g, t))["tsens"] for p, g in zip(probs, gts)]
        assert np.allclose(C.tsens_at(h, k), want)
