"""Flip TTA on a fake predictor."""
import numpy as np
import pytest

from trainer.metrics import uncertainty as U


def test_tta_of_a_flip_invariant_predictor_has_no_uncertainty():
    img = np.random.default_rng(0).random((6, 8, 3)).astype(np.float32)
    r = U.flip_tta(img, lambda x: x.mean(axis=2))
    assert np.allclose(r.mean, img.mean(axis=2)) and np.allclose(r.uncertainty, 0, atol=1e-7)
    assert U.uncertainty_score(r.uncertainty) == pytest.approx(0, abs=1e-7)


def test_tta_spread_of_an_orientation_biased_predictor():
    img = np.zeros((4, 5, 1), np.float32)
    # predictor that marks the top-left pixel of whatever it is given: after un-flipping, each corner gets 1 once
    def predict(x):
        out = np.zeros(x.shape[:2], np.float32)
        out[0, 0] = 1.0
        return out
    r = U.flip_tta(img, predict)
    for y, x in [(0, 0), (0, 4), (3, 0), (3, 4)]:
        assert r.mean[y, x] == pytest.approx(0.25)
        assert r.uncertainty[y, x] == pytest.approx(np.std([1, 0, 0, 0]))
    assert r.mean.sum() == pytest.approx(1.0)
    assert U.flip_tta(img, predict, spread="range").uncertainty[0, 4] == 1.0
    # batched call in CHW layout gives the same
    chw = np.moveaxis(img, 2, 0)
    rb = U.flip_tta(chw, predict_batch=lambda xs: np.stack([predict(np.moveaxis(x, 0, 2)) for x in xs]),
                    hw_axes=(-2, -1))
    assert np.allclose(rb.mean, r.mean) and np.allclose(rb.uncertainty, r.uncertainty)


def test_scores_and_errors():
    u = np.zeros((10, 20), np.float32)
    u[0, :2] = 0.4
    assert U.uncertainty_score(u, top_k_fraction=0.01) == pytest.approx(0.4)
    prob = np.zeros_like(u)
    prob[0, :4] = 0.9
    assert U.uncertainty_over_prediction(u, prob, 0.5) == pytest.approx(0.2)
    assert U.uncertainty_over_prediction(u, np.zeros_like(u), 0.5) is None
    assert U.uncertainty_to_u8(np.array([0.5, 0.25]), "std").tolist() == [255, 128]
    with pytest.raises(ValueError, match="shape"):
        U.flip_tta(np.zeros((4, 4)), lambda x: np.zeros((3, 3)))
    with pytest.raises(ValueError):
        U.flip_tta(np.zeros((4, 4)))
