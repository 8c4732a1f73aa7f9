"""Per-sample accumulation of one evaluation pass: histograms, scores, max probabilities, losses (flat memory:
no pixels kept), and the Dice block / segmentation-threshold choice from them.
"""
from __future__ import annotations

import numpy as np

from trainer.metrics import pixels as MP
from trainer.errors import ConfigError, CrackError, DataError


def batch_histograms(prob: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample histograms of a batch ``prob [b,H,W]``, ``gt [b,H,W] bool`` in one bincount: ``[b,B]`` each."""
    b = prob.shape[0]
    idx = MP.prob_to_bin(prob.reshape(b, -1))
    idx += (gt.reshape(b, -1).astype(np.int64) * MP.B)
    idx += (np.arange(b, dtype=np.int64) * (2 * MP.B))[:, None]
    h = np.bincount(idx.reshape(-1), minlength=2 * MP.B * b).reshape(b, 2, MP.B)
    return h[:, 1], h[:, 0]


class EvalCollector:
    """Accumulates per-sample scalars and histograms of one pass (flat memory: no pixels kept)."""

    def __init__(self, n: int, stride: int = 1):
        self.n = n
        self.hist_pos = np.zeros((n, MP.B), dtype=np.uint32)
        self.hist_neg = np.zeros((n, MP.B), dtype=np.uint32)
        self.labels = np.zeros(n, dtype=np.int8)
        self.scores = np.zeros(n, dtype=np.float32)
        self.segmented = np.zeros(n, dtype=bool)
        self.max_prob = np.zeros(n, dtype=np.float32)
        self.seen = np.zeros(n, dtype=bool)
        self.stride = max(int(stride), 1)
        # strided histograms for the threshold choice (dice_threshold_factor > 1), summed over the split
        self.sub_pos = np.zeros(MP.B, dtype=np.int64)
        self.sub_neg = np.zeros(MP.B, dtype=np.int64)
        self._offset = 0
        self.loss_seg_sum = 0.0
        self.loss_seg_n = 0
        self.loss_dec_sum = 0.0
        self.loss_dec_n = 0

    def add(self, out: dict) -> None:
        idx = out["index"]
        if idx.min() < 0 or idx.max() >= self.n:
            raise DataError(f"dataset returned sample index {int(idx.max())} outside 0..{self.n - 1}")
        hp, hn = batch_histograms(out["prob"], out["gt"])
        self.hist_pos[idx] = hp
        self.hist_neg[idx] = hn
        self.labels[idx] = (out["label"] > 0.5).astype(np.int8)
        self.scores[idx] = out["score"]
        self.segmented[idx] = out["segmented"]
        self.max_prob[idx] = out["prob"].reshape(len(idx), -1).max(axis=1)
        self.seen[idx] = True
        if self.stride > 1:
            for j in range(len(idx)):
                p, g = out["prob"][j], out["gt"][j]
                sp, sn = MP.sample_histograms(p, g, self.stride, self._offset)
                self.sub_pos += sp
                self.sub_neg += sn
                self._offset = MP.next_offset(self._offset, p.size, self.stride)
        if "loss_dec" in out:
            self.loss_dec_sum += float(out["loss_dec"].sum())
            self.loss_dec_n += len(idx)
            seg = out["segmented"]
            self.loss_seg_sum += float(out["loss_seg"][seg].sum())
            self.loss_seg_n += int(seg.sum())

    def check_complete(self) -> None:
        if not self.seen.all():
            missing = int((~self.seen).sum())
            raise DataError(f"{missing} of {self.n} samples were never returned by the dataset (check its 'index')")

    def check_finite(self, names: list[str]) -> None:
        bad = ~(np.isfinite(self.scores) & np.isfinite(self.max_prob))
        if bad.any():
            first = names[int(np.argmax(bad))]
            raise CrackError(f"the model produced NaN or infinite outputs on {int(bad.sum())} of {self.n} samples "
                             f"(first: {first}); its weights have diverged. Evaluate an earlier checkpoint "
                             f"(e.g. best.pth) or train again with a lower learning rate")

    def threshold_hists(self) -> tuple[np.ndarray, np.ndarray]:
        if self.stride > 1:
            return self.sub_pos, self.sub_neg
        return (self.hist_pos.sum(axis=0, dtype=np.int64), self.hist_neg.sum(axis=0, dtype=np.int64))

    def valid(self) -> np.ndarray:
        return MP.dice_valid(self.labels, self.segmented)


def dice_block(col: EvalCollector, seg_threshold: float, gate=None) -> tuple[dict, np.ndarray, np.ndarray, int]:
    k = MP.threshold_to_bin(seg_threshold)
    dice, iou = MP.dice_iou_from_hist(col.hist_pos, col.hist_neg, k, gate=gate)
    return MP.dice_stats(dice, iou, col.valid()), dice, iou, k


def choose_seg_threshold(col: EvalCollector, dice_threshold: int) -> tuple[float | None, float | None]:
    if int(dice_threshold) == 1:
        pos = col.labels == 1
        return MP.seg_threshold_min_max(col.max_prob[pos]), None
    if int(dice_threshold) == 2:
        hp, hn = col.threshold_hists()
        t, f1 = MP.seg_threshold_pr(hp, hn)
        return t, (f1 if t is not None else None)
    raise ConfigError(f"dice_threshold must be 1 (min of per-positive maxima) or 2 (pixel PR best F1), "
                      f"got {dice_threshold!r}")


# ----------------------------------------------------------------------------------------------------------------
