"""Two evaluations of the same split compared sample by sample (Qt-free): per-sample Dice of A and B, wins/losses/
ties, outcome changes (:class:`Comparison`), and the difference map of two predicted masks (:func:`diff_map_bgra`)."""
from __future__ import annotations

import numpy as np

from crackviewer.inspect.threshold_model import ThresholdModel
from figures import colors

TIE_EPS = 0.01          # |Dice B - Dice A| below this is a tie
WIN = colors.WIN
LOSS = colors.LOSS
TIE = (150, 150, 150)
BOTH_WRONG = (120, 120, 120)


def diff_map_bgra(pred_a: np.ndarray, pred_b: np.ndarray, gt: np.ndarray, alpha: int = 255) -> np.ndarray:
    """Premultiplied BGRA difference map: WIN where only B is right, LOSS where only A is right, grey where both are
    wrong, transparent where both are right."""
    a_ok = pred_a.astype(bool) == gt.astype(bool)
    b_ok = pred_b.astype(bool) == gt.astype(bool)
    code = np.zeros(gt.shape, np.uint8)
    code[b_ok & ~a_ok] = 1
    code[a_ok & ~b_ok] = 2
    code[~a_ok & ~b_ok] = 3
    table = np.zeros((4, 4), np.uint8)
    for k, c in ((1, WIN), (2, LOSS), (3, BOTH_WRONG)):
        a = alpha if k != 3 else alpha // 2
        table[k] = [c[2] * a // 255, c[1] * a // 255, c[0] * a // 255, a]
    return table[code]


class Comparison:
    """Qt-free pairing of two models on their common samples."""

    def __init__(self, a: ThresholdModel, b: ThresholdModel):
        self.a, self.b = a, b
        names_b = {n: i for i, n in enumerate(b.names)}
        ia, ib = [], []
        for i, n in enumerate(a.names):
            j = names_b.get(n)
            if j is not None:
                ia.append(i)
                ib.append(j)
        self.ia = np.asarray(ia, np.int64)
        self.ib = np.asarray(ib, np.int64)
        self.only_a = a.n - len(ia)
        self.only_b = b.n - len(ib)

    @property
    def n(self) -> int:
        return int(self.ia.size)

    def names(self) -> list[str]:
        return [self.a.names[i] for i in self.ia]

    def dice(self) -> tuple[np.ndarray, np.ndarray]:
        return self.a.dice[self.ia], self.b.dice[self.ib]

    def delta(self) -> np.ndarray:
        da, db = self.dice()
        return db - da

    def verdict(self) -> np.ndarray:
        """Per pair: 1 B wins, -1 B loses, 0 tie, 2 no Dice (weak label)."""
        d = self.delta()
        out = np.zeros(d.shape, np.int8)
        with np.errstate(invalid="ignore"):
            out[d > TIE_EPS] = 1
            out[d < -TIE_EPS] = -1
        out[np.isnan(d)] = 2
        return out

    def summary(self) -> dict:
        da, db = self.dice()
        v = self.verdict()
        pos = self.a.positive[self.ia]
        ok = v != 2

        def counts(sel):
            return dict(wins=int(((v == 1) & sel).sum()), losses=int(((v == -1) & sel).sum()),
                        ties=int(((v == 0) & sel).sum()))

        oa = self.a.outcome[self.ia]
        ob = self.b.outcome[self.ib]
        correct_a = (oa == 0) | (oa == 3)
        correct_b = (ob == 0) | (ob == 3)
        d = db - da
        order = np.argsort(np.where(ok, d, 0.0))
        gains = [int(k) for k in order[::-1] if ok[k] and d[k] > TIE_EPS][:8]
        losses = [int(k) for k in order if ok[k] and d[k] < -TIE_EPS][:8]
        return dict(
            n=self.n, only_a=self.only_a, only_b=self.only_b,
            dice_a=float(np.nanmean(da[ok])) if ok.any() else None,
            dice_b=float(np.nanmean(db[ok])) if ok.any() else None,
            all=counts(ok), positives=counts(ok & pos), negatives=counts(ok & ~pos),
            fixed=int((~correct_a & correct_b).sum()), broken=int((correct_a & ~correct_b).sum()),
            correct_a=int(correct_a.sum()), correct_b=int(correct_b.sum()),
            gains=gains, losses=losses,
        )
