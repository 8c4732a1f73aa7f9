import math

import numpy as np

from trainer.training.sampler import FrequencySampler


def _run(sampler, epochs):
    plans = []
    for e in range(epochs):
        sampler.set_epoch(e)
        plans.append(list(sampler))
    return plans


def test_every_positive_once_and_one_negative_per_positive():
    labels = np.r_[np.ones(30), np.zeros(200)]
    s = FrequencySampler(labels, True, seed=0)
    for plan in _run(s, 5):
        assert len(plan) == 60 == len(s)
        pos = [i for i in plan if labels[i] == 1]
        neg = [i for i in plan if labels[i] == 0]
        assert sorted(pos) == list(range(30))
        assert len(neg) == 30 and len(set(neg)) == 30  # without replacement


def test_frequency_sampling_prefers_rarely_used_negatives():
    labels = np.r_[np.ones(20), np.zeros(100)]
    freq = FrequencySampler(labels, True, seed=1)
    unif = FrequencySampler(labels, False, seed=1)
    _run(freq, 10)
    _run(unif, 10)
    # 10 epochs x 20 slots = 200 uses over 100 negatives: frequency sampling spreads them almost evenly
    assert freq.counts.sum() == unif.counts.sum() == 200
    assert freq.counts.max() - freq.counts.min() <= 1
    assert unif.counts.max() - unif.counts.min() >= 3
    assert freq.counts.std() < unif.counts.std() / 2


def test_probabilities_follow_the_reference_formula():
    labels = np.r_[np.ones(5), np.zeros(4)]
    s = FrequencySampler(labels, True, seed=0)
    s.counts = np.array([0, 1, 2, 4])
    p = 1 - s.counts / 4
    p = p - np.median(p) + 1
    p = p ** (4 * math.log(4))
    np.testing.assert_allclose(s.negative_probabilities(), p / p.sum())


def test_fewer_negatives_than_positives_uses_each_negative_once_per_epoch():
    # the crack data: 6,921 positives vs 987 negatives (scaled down)
    labels = np.r_[np.ones(70), np.zeros(10)]
    s = FrequencySampler(labels, True, seed=2)
    for plan in _run(s, 4):
        assert len(plan) == 80
        assert sorted(i for i in plan if labels[i] == 0) == list(range(70, 80))


def test_plans_are_deterministic_and_resumable():
    labels = np.r_[np.ones(15), np.zeros(40)]
    a = FrequencySampler(labels, True, seed=9)
    full = _run(a, 6)
    b = FrequencySampler(labels, True, seed=9)
    first = _run(b, 3)
    c = FrequencySampler(labels, True, seed=9)
    c.load_state_dict(b.state_dict())
    rest = []
    for e in range(3, 6):
        c.set_epoch(e)
        rest.append(list(c))
    assert first + rest == full


def test_distributed_ranks_partition_the_global_plan():
    labels = np.r_[np.ones(11), np.zeros(30)]
    single = FrequencySampler(labels, True, seed=4)
    ranks = [FrequencySampler(labels, True, seed=4, rank=r, world_size=2) for r in range(2)]
    for e in range(3):
        single.set_epoch(e)
        g = list(single)
        parts = []
        for r in ranks:
            r.set_epoch(e)
            parts.append(list(r))
        assert len(parts[0]) == len(parts[1]) == math.ceil(len(g) / 2)
        # interleaved, the ranks' lists are the single-process plan (the last one padded)
        merged = [x for pair in zip(*parts) for x in pair][: len(g)]
        assert merged == g
        negs = [i for i in g if labels[i] == 0]
        assert len(negs) == len(set(negs)), "each planned negative once per epoch across ranks"
