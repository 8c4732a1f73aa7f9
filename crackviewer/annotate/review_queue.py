"""Which sample to fix next: rank samples by how much the current model disagrees with their labels. Qt-free.

Input: the dataset's records (as edited) and one or more *evaluation folders* of the current model on this dataset
(``crack-train eval --run R --data D --split train --out E``; a run folder is itself the test split's evaluation
folder, and its ``evals/<split>/`` are picked up too). From each we use ``probs/<name>.png`` (the probability map),
``samples.npz`` / ``results.csv`` (image scores) and the thresholds.

Scores (every ``priority`` is in [0, 1]; higher = look at it first):

* **segmented** (crack with a mask): the mask is read from the dataset *now* (so edits count) and compared with the
  prediction at the segmentation threshold (resized to the mask). With ``tol`` = 2 px of slack on both sides:

  - *missed crack length* = pixels of the mask's centre line (Zhang-Suen thinning) farther than ``tol`` from any
    predicted pixel - a length in pixels, whatever the crack's width;
  - *false-positive area* = predicted pixels farther than ``tol`` from the mask;
  - ``priority = (missed + fp_len) / (gt_len + fp_len)`` where ``fp_len`` = false-positive area / mean crack width
    (the area expressed as a crack length). 0 = the model traces every crack and nothing else; 1 = it finds none of
    it or mostly invents cracks.
* **weak** (crack, no mask): how uncertain the model is. ``u(x, t) = 1 - |x - t| / max(t, 1 - t)`` is 1 at the
  threshold and 0 at 0 or 1; ``priority = max(u(score, image_threshold), u(max_prob, seg_threshold))``.
* **negative** (crack-free): a crack-free image the model calls a crack is a hard negative or a wrong label:
  ``priority = 0.5 + 0.5 * (score - t) / (1 - t)`` when ``score >= t``, else ``0.5 * u(score, t)``.

* **uncertainty**: when the evaluation ran with flip TTA (``samples.npz`` holds ``uncertainty``), the model's own
  uncertainty ranks weak and crack-free samples instead of the score guess, and can raise a segmented one's.

Thresholds are THE rule's (:func:`trainer.runs.thresholds.run_thresholds`), probability maps are found by
:func:`trainer.runs.paths.prob_png_path`. Samples that no evaluation folder covers are left out (``missing``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import cv2
import numpy as np

from trainer.datasets.records import SampleRecord
from trainer.datasets.images import read_mask
from trainer.errors import DataError
from trainer.metrics.crack_record import SAMPLES_KEY_UNCERTAINTY
from trainer.runs import paths
from trainer.runs.evaluation import load_samples, read_eval
from trainer.runs.thresholds import run_thresholds
_MAX_SIDE = 1024          # masks larger than this are compared at a reduced size (lengths scaled back)


# --------------------------------------------------------------------------------------------------------------------
# thinning

def _zs_luts() -> tuple[np.ndarray, np.ndarray]:
    """Deletion tables of the two Zhang-Suen sub-iterations, indexed by the 8-neighbour code.

    Bit i of the code is neighbour P(i+2) in the order N, NE, E, SE, S, SW, W, NW.
    """
    lut1 = np.zeros(256, bool)
    lut2 = np.zeros(256, bool)
    for code in range(256):
        p = [(code >> i) & 1 for i in range(8)]          # p[0]=P2 (N) ... p[7]=P9 (NW)
        b = sum(p)
        a = sum(1 for i in range(8) if p[i] == 0 and p[(i + 1) % 8] == 1)
        if not (2 <= b <= 6 and a == 1):
            continue
        p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
        lut1[code] = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
        lut2[code] = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
    return lut1, lut2


_LUT1, _LUT2 = _zs_luts()
# (dy, dx) of N, NE, E, SE, S, SW, W, NW
_NEIGH = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def thin(mask: np.ndarray, max_iter: int = 200) -> np.ndarray:
    """One-pixel-wide centre lines of a binary mask (Zhang-Suen thinning, vectorised over the image)."""
    img = np.pad((np.asarray(mask) > 0).astype(np.uint8), 1)
    h, w = img.shape[0] - 2, img.shape[1] - 2
    for _ in range(max_iter):
        changed = False
        for lut in (_LUT1, _LUT2):
            code = np.zeros((h, w), np.uint8)
            for bit, (dy, dx) in enumerate(_NEIGH):
                code |= img[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] << bit
            kill = lut[code] & (img[1:-1, 1:-1] > 0)
            if kill.any():
                img[1:-1, 1:-1][kill] = 0
                changed = True
        if not changed:
            break
    return img[1:-1, 1:-1]


def centreline_length(skel: np.ndarray) -> float:
    """Length in pixels of 1-px centre lines: straight links count 1, diagonal links sqrt(2) (not when an L-corner
    pixel already joins the two), and a pixel without neighbours counts 1."""
    s = np.asarray(skel) > 0
    if not s.any():
        return 0.0
    p = np.pad(s, 1)
    h, w = s.shape
    right, down = p[1:-1, 2:w + 2], p[2:h + 2, 1:-1]
    left = p[1:-1, 0:w]
    straight = np.count_nonzero(s & right) + np.count_nonzero(s & down)
    dr = s & p[2:h + 2, 2:w + 2] & ~right & ~down                    # down-right, no corner pixel
    dl = s & p[2:h + 2, 0:w] & ~left & ~down                        # down-left, no corner pixel
    isolated = np.count_nonzero(s & ~_has_neighbour(p))
    return float(straight) + float(np.count_nonzero(dr) + np.count_nonzero(dl)) * float(np.sqrt(2.0)) + float(isolated)


def _has_neighbour(p: np.ndarray) -> np.ndarray:
    h, w = p.shape[0] - 2, p.shape[1] - 2
    out = np.zeros((h, w), bool)
    for dy, dx in _NEIGH:
        out |= p[1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
    return out


# --------------------------------------------------------------------------------------------------------------------
# prediction source

@dataclass
class EvalInfo:
    dir: Path
    seg_threshold: float
    image_threshold: float
    scores: dict[str, float]
    max_probs: dict[str, float]
    split: str | None = None
    uncertainty: dict[str, float] = field(default_factory=dict)   # flip-TTA uncertainty per sample, when evaluated


class PredictionSource:
    """Probability maps and scores of the current model, from one or more evaluation folders.

    ``path`` is an evaluation folder (``samples.npz`` + ``probs/``) or a run folder (its own test evaluation plus every
    ``evals/<split>/``). Thresholds follow THE rule (:func:`trainer.runs.thresholds.run_thresholds`).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_dir():
            raise DataError("prediction source not found (give an evaluation or run folder)", file=self.path)
        dirs = [self.path] if (self.path / paths.SAMPLES).is_file() else []
        evals = self.path / paths.EVALS
        if evals.is_dir():
            dirs += sorted(d for d in evals.iterdir() if (d / paths.SAMPLES).is_file())
        if not dirs:
            raise DataError("no evaluation here: no samples.npz in the folder or in evals/<split>/ "
                            "(run crack-train eval --run RUN --data DATASET --split train --out FOLDER)",
                            file=self.path)
        run_dir = self.path if paths.is_run_dir(self.path) else None
        self.evals: list[EvalInfo] = []
        self._where: dict[str, EvalInfo] = {}
        for d in dirs:
            info = _eval_info(d, run_dir)
            self.evals.append(info)
            for n in info.scores:
                self._where.setdefault(n, info)

    @property
    def seg_threshold(self) -> float:
        return self.evals[0].seg_threshold

    @property
    def image_threshold(self) -> float:
        return self.evals[0].image_threshold

    def names(self) -> set[str]:
        return set(self._where)

    def covers(self, name: str) -> bool:
        return name in self._where

    def info(self, name: str) -> EvalInfo | None:
        return self._where.get(name)

    def prob_path(self, name: str) -> Path | None:
        info = self._where.get(name)
        return None if info is None else paths.prob_png_path(info.dir, name)

    def prob(self, name: str) -> np.ndarray | None:
        """The 8-bit probability map (model input resolution), or None when missing."""
        p = self.prob_path(name)
        if p is None or not p.is_file():
            return None
        return cv2.imdecode(np.fromfile(str(p), np.uint8), cv2.IMREAD_GRAYSCALE)

    def score(self, name: str) -> float | None:
        info = self._where.get(name)
        return None if info is None else info.scores.get(name)


def _eval_info(d: Path, run_dir: Path | None) -> EvalInfo:
    ev = read_eval(d)
    th = run_thresholds(d, run_dir if run_dir is not None and d != run_dir else None)
    scores = {n: float(s) for n, s in zip(ev["names"], ev["scores"].tolist())}
    maxp = {}
    for row in ev["results"]:
        v = row.get("max_prob")
        if isinstance(v, float) and np.isfinite(v):
            maxp[row["name"]] = v
    unc = load_samples(d / paths.SAMPLES).get(SAMPLES_KEY_UNCERTAINTY)
    uncertainty = {}
    if unc is not None and np.shape(unc) == (len(ev["names"]),):
        uncertainty = {n: float(u) for n, u in zip(ev["names"], np.asarray(unc, np.float64)) if np.isfinite(u)}
    return EvalInfo(d, float(th["seg_threshold"]), float(th["image_threshold"]), scores, maxp, ev.get("split"),
                    uncertainty)


# --------------------------------------------------------------------------------------------------------------------
# scoring

@dataclass
class ReviewItem:
    name: str
    kind: str                     # "segmented" | "weak" | "negative"
    priority: float               # 0..1, higher = fix first
    reason: str
    score: float | None = None    # the model's image score
    max_prob: float | None = None
    gt_length: float = 0.0        # centre-line length of the mask, pixels (mask resolution)
    missed_length: float = 0.0
    fp_area: float = 0.0          # pixels (mask resolution)
    extra: dict = field(default_factory=dict)


def uncertainty(x: float, t: float) -> float:
    t = min(max(float(t), 1e-6), 1 - 1e-6)
    return float(max(0.0, 1.0 - abs(float(x) - t) / max(t, 1.0 - t)))


def disagreement(gt: np.ndarray, prob: np.ndarray, seg_threshold: float, tol: int = 2) -> dict:
    """Missed centre-line length, false-positive area and priority of one segmented sample (module docstring).

    ``gt`` = {0,1} mask at its own resolution; ``prob`` = probability map (uint8 0..255 or float 0..1) at any size.
    """
    gt = (np.asarray(gt) > 0).astype(np.uint8)
    h, w = gt.shape
    scale = 1.0
    if max(h, w) > _MAX_SIDE:
        scale = max(h, w) / _MAX_SIDE
        sh, sw = max(1, int(round(h / scale))), max(1, int(round(w / scale)))
        gt = (cv2.resize(gt * 255, (sw, sh), interpolation=cv2.INTER_AREA) > 127).astype(np.uint8)
        h, w = sh, sw
    p = np.asarray(prob)
    p = p.astype(np.float32) / 255.0 if p.dtype == np.uint8 else p.astype(np.float32)
    if p.shape != (h, w):
        p = cv2.resize(p, (w, h), interpolation=cv2.INTER_LINEAR)
    pred = (p >= float(seg_threshold)).astype(np.uint8)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tol + 1, 2 * tol + 1))
    skel = thin(gt)
    gt_len = centreline_length(skel)
    near_pred = cv2.dilate(pred, k) > 0
    missed = centreline_length(skel.astype(bool) & ~near_pred)
    near_gt = cv2.dilate(gt, k) > 0
    fp_area = float(np.count_nonzero(pred.astype(bool) & ~near_gt))
    gt_area = float(gt.sum())
    width = max(1.0, gt_area / gt_len) if gt_len > 0 else 1.0
    fp_len = fp_area / width
    denom = gt_len + fp_len
    priority = (missed + fp_len) / denom if denom > 0 else 0.0
    return dict(gt_length=gt_len * scale, missed_length=missed * scale, fp_area=fp_area * scale * scale,
                width=width * scale, priority=float(min(1.0, max(0.0, priority))),
                max_prob=float(p.max()) if p.size else 0.0)


def score_sample(rec: SampleRecord, source: PredictionSource, *, mask: np.ndarray | None = None,
                 tol: int = 2) -> ReviewItem | None:
    """The review item of one sample, or None when the source has no prediction for it.

    ``mask``: the sample's current mask (e.g. the editor's), else it is read from the dataset.
    """
    info = source.info(rec.name)
    if info is None:
        return None
    score = info.scores.get(rec.name)
    t_img, t_seg = info.image_threshold, info.seg_threshold
    if rec.label == 1 and (rec.has_mask or mask is not None):
        prob = source.prob(rec.name)
        if prob is None:
            return None
        if mask is None:
            img_shape = _image_shape(rec)
            mask = read_mask(rec.mask_path, img_shape)
        d = disagreement(mask, prob, t_seg, tol)
        reason = (f"misses {d['missed_length']:.0f} of {d['gt_length']:.0f} px of crack line, "
                  f"{d['fp_area']:.0f} px false crack")
        return _with_uncertainty(info, ReviewItem(rec.name, "segmented", d["priority"], reason, score, d["max_prob"],
                                                  d["gt_length"], d["missed_length"], d["fp_area"],
                                                  {"width": d["width"]}))
    max_prob = info.max_probs.get(rec.name)
    if max_prob is None:
        prob = source.prob(rec.name)
        max_prob = float(prob.max()) / 255.0 if prob is not None and prob.size else None
    s = score if score is not None else 0.0
    if rec.label == 1:
        pr = uncertainty(s, t_img)
        if max_prob is not None:
            pr = max(pr, uncertainty(max_prob, t_seg))
        reason = f"weak: score {s:.2f} (threshold {t_img:.2f})" + \
            (f", max prob {max_prob:.2f}" if max_prob is not None else "")
        return _with_uncertainty(info, ReviewItem(rec.name, "weak", pr, reason, score, max_prob), replace=True)
    if s >= t_img:
        pr = 0.5 + 0.5 * (s - t_img) / max(1e-6, 1.0 - t_img)
        reason = f"crack-free but the model says crack (score {s:.2f} >= {t_img:.2f})"
    else:
        pr = 0.5 * uncertainty(s, t_img)
        reason = f"crack-free, score {s:.2f} (threshold {t_img:.2f})"
    return _with_uncertainty(info, ReviewItem(rec.name, "negative", float(min(1.0, pr)), reason, score, max_prob),
                             replace=True)


def _with_uncertainty(info: EvalInfo, item: ReviewItem, replace: bool = False) -> ReviewItem:
    """Rank by the model's own uncertainty (flip TTA, ``samples.npz`` ``uncertainty``) when the evaluation has it:
    it replaces the score-based guess for weak and crack-free samples and can only raise a segmented one's."""
    u = info.uncertainty.get(item.name)
    if u is None:
        return item
    u = float(min(1.0, max(0.0, u)))
    item.extra["uncertainty"] = u
    item.priority = u if replace else max(item.priority, u)
    item.reason += f"; model uncertainty {u:.2f}"
    return item


def _image_shape(rec: SampleRecord) -> tuple[int, int]:
    """(height, width) of a sample's image, read from the file header cheaply via a reduced decode when possible."""
    buf = np.fromfile(str(rec.image_path), np.uint8)
    img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise DataError("corrupt or unsupported image: OpenCV cannot decode it", file=rec.image_path)
    return img.shape[:2]


def rank(records: Iterable[SampleRecord], source: PredictionSource, *, kinds: Iterable[str] | None = None,
         tol: int = 2, progress: Callable[[int, int], None] | None = None) -> tuple[list[ReviewItem], list[str]]:
    """Review items of ``records`` sorted by priority (highest first, then name), and the names not covered.

    ``kinds`` limits the result (e.g. ``{"segmented", "weak"}``). A sample whose files cannot be read is skipped and
    listed in ``missing`` with the reason.
    """
    recs = list(records)
    want = set(kinds) if kinds is not None else None
    items, missing = [], []
    for i, rec in enumerate(recs):
        try:
            it = score_sample(rec, source, tol=tol)
        except DataError as e:
            missing.append(f"{rec.name}: {e.message}")
            it = None
        else:
            if it is None:
                missing.append(rec.name)
        if it is not None and (want is None or it.kind in want):
            items.append(it)
        if progress is not None:
            progress(i + 1, len(recs))
    items.sort(key=lambda it: (-it.priority, it.name))
    return items, missing
