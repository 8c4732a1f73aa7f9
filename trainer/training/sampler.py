"""Frequency-of-use sampling of negatives (reference-model.md §2.5) as a torch Sampler that plans each epoch up front.

Each epoch holds every positive once plus a number of negative slots:
- more negatives than positives (the upstream case): one negative per positive, `num_pos` slots;
- fewer negatives than positives (the crack data: 987 vs 6,921): `num_neg` slots, as the fork's epoch of
  `num_pos + num_neg` samples.
With frequency sampling, the negatives for the slots are drawn without replacement, with probabilities that
strongly favour the least-used ones: p_i = 1 - f_i / max f;  p_i = p_i - median(p) + 1;  p_i = p_i ** (4 ln num_neg).
Epoch 1 uses a plain random permutation. Without frequency sampling, each epoch is a fresh uniform draw.

The plan depends only on (seed, epoch, use counts), so it is deterministic, resumable (state_dict holds the counts)
and identical on every rank. With world_size > 1 the shuffled plan is padded to a multiple of world_size and rank r
takes every world_size-th index from r: each planned negative is served once per epoch across all ranks.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import Sampler


class FrequencySampler(Sampler[int]):
    def __init__(self, labels, frequency_sampling: bool = True, seed: int = 0, rank: int = 0, world_size: int = 1,
                 batch_size: int = 1, drop_last: bool = True):
        labels = np.asarray(labels).astype(int)
        self.pos = np.flatnonzero(labels == 1)
        self.neg = np.flatnonzero(labels == 0)
        self.frequency_sampling = bool(frequency_sampling)
        self.seed = int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.counts = np.zeros(len(self.neg), dtype=np.int64)  # f_i, cumulative over epochs
        self.epoch = 0
        self._planned_epoch = -1
        self._plan: np.ndarray | None = None
        if len(self.pos) and len(self.neg):
            self.neg_slots = min(len(self.pos), len(self.neg))
        else:
            self.neg_slots = len(self.neg)  # no positives: an epoch of every negative
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    # -- planning -------------------------------------------------------------------------------------------
    def _rng(self, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch, 0x5EED])

    def negative_probabilities(self) -> np.ndarray:
        """The frequency-of-use probabilities for the next draw (reference-model.md §2.5 steps 1-4)."""
        n = len(self.neg)
        f = self.counts.astype(np.float64)
        if n == 0:
            return np.zeros(0)
        fmax = f.max()
        p = 1.0 - f / fmax if fmax > 0 else np.ones(n)
        p = p - np.median(p) + 1.0
        p = np.power(p, 4.0 * math.log(max(n, 2)))
        s = p.sum()
        return p / s if s > 0 and np.isfinite(s) else np.full(n, 1.0 / n)

    def _draw_negatives(self, epoch: int, rng: np.random.Generator) -> np.ndarray:
        n, k = len(self.neg), self.neg_slots
        if n == 0 or k == 0:
            return np.zeros(0, dtype=np.int64)
        if epoch == 0 or not self.frequency_sampling:
            return rng.permutation(n)[:k]
        p = self.negative_probabilities()
        nonzero = int((p > 0).sum())
        if nonzero < k:  # extreme exponent underflow: fill from the least used ones
            order = np.argsort(self.counts, kind="stable")
            return order[:k]
        return rng.choice(n, size=k, replace=False, p=p)

    def plan_epoch(self, epoch: int) -> np.ndarray:
        """The global (all ranks) shuffled index list of `epoch`, and the use counts updated. Call once per epoch."""
        rng = self._rng(epoch)
        chosen = self._draw_negatives(epoch, rng)
        np.add.at(self.counts, chosen, 1)
        idx = np.concatenate([self.pos, self.neg[chosen]]).astype(np.int64)
        rng.shuffle(idx)
        self._plan, self._planned_epoch = idx, epoch
        return idx

    def set_epoch(self, epoch: int) -> None:
        """Plan `epoch` (0-based). Epochs must be planned in order; replanning the same epoch is a no-op."""
        if epoch == self._planned_epoch:
            return
        self.epoch = epoch
        self.plan_epoch(epoch)

    def _rank_indices(self) -> np.ndarray:
        if self._plan is None:
            self.set_epoch(self.epoch)
        idx = self._plan
        if self.world_size > 1:
            total = math.ceil(len(idx) / self.world_size) * self.world_size
            if total > len(idx):
                idx = np.concatenate([idx, idx[: total - len(idx)]])
            idx = idx[self.rank::self.world_size]
        return idx

    def __iter__(self):
        return iter(self._rank_indices().tolist())

    def __len__(self) -> int:
        per_epoch = len(self.pos) + self.neg_slots
        return math.ceil(per_epoch / self.world_size)

    # -- resume ---------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"counts": torch.from_numpy(self.counts.copy()), "epoch": self._planned_epoch}

    def load_state_dict(self, state: dict) -> None:
        counts = state["counts"]
        counts = counts.numpy() if isinstance(counts, torch.Tensor) else np.asarray(counts)
        if counts.shape != self.counts.shape:
            raise ValueError(f"sampler state has {counts.shape[0]} negatives, dataset has {self.counts.shape[0]}")
        self.counts = counts.astype(np.int64).copy()
        self._planned_epoch = int(state["epoch"])
        self.epoch = self._planned_epoch
        self._plan = None
