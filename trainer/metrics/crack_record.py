"""The crack metrics' part of an evaluation folder: what goes into ``samples.npz``, ``results.csv`` and
``metrics.json``, the collector evaluation feeds per batch, and the view the app reads at any threshold.

``samples.npz`` (beside ``hist_pos``/``hist_neg``; ``[N, B]`` arrays are uint32):

* ``tol_hist_gt``   bins of the maximum probability within the tolerance disk, over GT crack pixels;
* ``tol_hist_near`` bins of the probability over pixels within the tolerance of a GT crack pixel;
* ``skel_hist_gt``  bins of the probability over the GT skeleton (clDice's Tsens at every threshold);
* ``cldice_counts`` int64 ``[N, 4]``: :data:`centreline.CLDICE_COUNTS` at ``metrics.json``'s ``cldice_threshold``;
* ``uncertainty``   float32 ``[N]``, only with flip TTA: :func:`uncertainty.uncertainty_score` of each sample.

``results.csv``: :data:`RESULTS_COLUMNS` (+ ``uncertainty`` with TTA), at the evaluation's seg threshold.
``metrics.json``: :data:`METRICS_KEYS` plus the detail keys listed in :func:`split_metrics`.
"""
from __future__ import annotations

import numpy as np

from trainer.errors import DataError
from trainer.metrics import pixels as metrics_pixels
from trainer.metrics import calibration as K, centreline as C, overlap as O, tolerance as T

SAMPLES_KEYS = ("tol_hist_gt", "tol_hist_near", "skel_hist_gt", "cldice_counts")
SAMPLES_KEY_UNCERTAINTY = "uncertainty"
RESULTS_COLUMNS = ("precision_tol", "recall_tol", "f1_tol", "cldice", "dice_empty_ok", "iou_empty_ok")
RESULTS_COLUMN_UNCERTAINTY = "uncertainty"
METRICS_KEYS = ("ods_f1", "ods_threshold", "ois_f1", "pixel_ap", "cldice_mean", "tolerance_px", "ece_image",
                "ece_pixel", "temperature")


def check_samples(samples: dict, file=None) -> None:
    """:class:`DataError` naming ``file`` when the crack arrays of a ``samples.npz`` dict are missing or do not
    match ``hist_pos`` (``[N, B]``); ``skel_hist_gt``/``cldice_counts``/``uncertainty`` are optional."""
    hp = samples.get("hist_pos")
    if hp is None or np.ndim(hp) != 2 or np.shape(hp)[1] != metrics_pixels.B:
        raise DataError(f"hist_pos must be [N, {metrics_pixels.B}], got {None if hp is None else np.shape(hp)}", file)
    n = np.shape(hp)[0]
    want = {"tol_hist_gt": (n, metrics_pixels.B), "tol_hist_near": (n, metrics_pixels.B), "skel_hist_gt": (n, metrics_pixels.B), "cldice_counts": (n, 4),
            SAMPLES_KEY_UNCERTAINTY: (n,)}
    for key, shape in want.items():
        if key not in samples:
            if key in SAMPLES_KEYS[:2]:
                raise DataError(f"no {key}: evaluated before crack metrics existed; evaluate the split again", file)
            continue
        if np.shape(samples[key]) != shape:
            raise DataError(f"{key} has shape {np.shape(samples[key])}, expected {shape}", file)


class CrackCollector:
    """Per-sample crack histograms of one evaluation pass (flat memory: ``3 x B`` counts + 4 per sample).

    ``cldice_threshold`` = the operating seg threshold when known before the pass; when it is chosen after the pass
    (``None`` here), call :meth:`set_cldice` per sample afterwards (e.g. from ``probs/<name>.png``).
    ``cldice=False`` skips the skeletons (most of the cost): no ``skel_hist_gt`` / ``cldice_counts`` are written.
    """

    def __init__(self, n: int, tolerance: float = T.TOLERANCE_PX, cldice_threshold: float | None = None,
                 cldice: bool = True):
        T.tolerance_disk(tolerance)                       # validates
        self.n, self.tolerance, self.cldice = int(n), float(tolerance), bool(cldice)
        self.cldice_threshold = None if cldice_threshold is None else metrics_pixels.snap_threshold(cldice_threshold)
        self.tol_hist_gt = np.zeros((n, metrics_pixels.B), np.uint32)
        self.tol_hist_near = np.zeros((n, metrics_pixels.B), np.uint32)
        self.skel_hist_gt = np.zeros((n, metrics_pixels.B), np.uint32)
        self.cldice_counts = np.zeros((n, 4), np.int64)
        self.cldice_done = np.zeros(n, bool)
        self.uncertainty: np.ndarray | None = None

    def add(self, index, prob, gt) -> None:
        """One batch: ``index [b]``, ``prob [b, H, W]`` float, ``gt [b, H, W]`` bool."""
        idx = np.asarray(index).reshape(-1)
        p, g = np.asarray(prob), np.asarray(gt, dtype=bool)
        if p.ndim != 3 or p.shape != g.shape or p.shape[0] != idx.size:
            raise ValueError(f"batch of {idx.size}: probability {p.shape} and GT {g.shape} must be [b, H, W]")
        for j, i in enumerate(idx):
            bins = T.bin_image(p[j])
            hg, hn = T.sample_tolerance_histograms(p[j], g[j], self.tolerance, bins=bins)
            self.tol_hist_gt[i], self.tol_hist_near[i] = hg, hn
            if not self.cldice:
                continue
            sg = C.skeleton(g[j])
            self.skel_hist_gt[i] = C.skeleton_histogram(p[j], g[j], sg, bins=bins)
            if self.cldice_threshold is not None:
                self.set_cldice(i, C.cldice_counts(p[j], g[j], self.cldice_threshold, gt_skeleton=sg, bins=bins))

    def set_cldice(self, i: int, counts) -> None:
        self.cldice_counts[int(i)] = np.asarray(counts, dtype=np.int64)
        self.cldice_done[int(i)] = True

    def set_uncertainty(self, i: int, score: float) -> None:
        if self.uncertainty is None:
            self.uncertainty = np.full(self.n, np.nan, np.float32)
        self.uncertainty[int(i)] = score

    def arrays(self) -> dict:
        """The arrays to add to ``samples.npz``."""
        out = dict(tol_hist_gt=self.tol_hist_gt, tol_hist_near=self.tol_hist_near)
        if self.cldice:
            out["skel_hist_gt"] = self.skel_hist_gt
            if self.cldice_done.all():
                out["cldice_counts"] = self.cldice_counts
        if self.uncertainty is not None:
            out[SAMPLES_KEY_UNCERTAINTY] = self.uncertainty
        return out


def columns(samples: dict, k: int, gate=None) -> dict:
    """Per-sample :data:`RESULTS_COLUMNS` at edge ``k`` from a ``samples.npz``-like dict (``hist_pos``, ``hist_neg``
    and :data:`SAMPLES_KEYS`); ``cldice`` comes from ``cldice_counts`` (made at the cldice threshold). ``gate``
    (bool ``[N]``): samples classified negative predict nothing."""
    hg, hn = samples["tol_hist_gt"], samples["tol_hist_near"]
    hp, hneg = samples["hist_pos"], samples["hist_neg"]
    c = T.counts_at(hg, hn, hp, hneg, k)
    if gate is not None:
        keep = np.asarray(gate, dtype=bool)
        for key in ("recalled", "matched", "predicted"):
            c[key] = np.where(keep, c[key], 0)
    prf = T.prf_from_counts(**c)
    d, i = O.dice_iou_empty_ok_from_hist(hp, hneg, k, gate=gate)
    cl = (C.cldice_from_counts(*np.asarray(samples["cldice_counts"]).T)["cldice"] if "cldice_counts" in samples
          else np.full(np.shape(hp)[0], np.nan))
    out = dict(precision_tol=prf["precision"], recall_tol=prf["recall"], f1_tol=prf["f1"], cldice=cl,
               dice_empty_ok=d, iou_empty_ok=i)
    if SAMPLES_KEY_UNCERTAINTY in samples:
        out[RESULTS_COLUMN_UNCERTAINTY] = np.asarray(samples[SAMPLES_KEY_UNCERTAINTY])
    return out


def split_metrics(samples: dict, k: int, tolerance: float, cldice_threshold: float | None, valid=None,
                  temperature: dict | None = None) -> dict:
    """The crack entries of ``metrics.json`` for a split: :data:`METRICS_KEYS` plus ``ods_bin, ods_precision,
    ods_recall, ois_f1_pooled, ois_n, precision_tol, recall_tol, f1_tol`` (pooled at edge ``k``),
    ``dice_empty_ok_mean, iou_empty_ok_mean, cldice_threshold, reliability: {image, pixel}`` (lists, for the plot),
    ``ece_image_raw, ece_pixel_raw``. With ``temperature`` (its ``image``/``pixel`` values, fitted on validation) the
    reliability diagrams and ``ece_image``/``ece_pixel`` are those of the temperature-scaled probabilities; the
    ``_raw`` ECEs are always those before scaling.
    ``valid`` (bool ``[N]``): samples whose pixels count (e.g. :func:`trainer.metrics.dice_valid`).
    ``cldice_threshold``: the threshold ``cldice_counts`` were made at, ``None`` when they were not (no clDice)."""
    if "cldice_counts" not in samples:
        cldice_threshold = None
    hg, hn = np.asarray(samples["tol_hist_gt"]), np.asarray(samples["tol_hist_near"])
    hp, hneg = np.asarray(samples["hist_pos"]), np.asarray(samples["hist_neg"])
    v = np.ones(hp.shape[0], bool) if valid is None else np.asarray(valid, dtype=bool)
    o = T.ods(hg, hn, hp, hneg, v)
    s = T.ois(hg, hn, hp, hneg, v)
    curve = T.split_curve(hg, hn, hp, hneg, v)
    cols = columns(samples, k)
    rel_img = K.reliability_scores(samples["labels"], samples["scores"])
    rel_px = K.reliability_pixels(hp[v], hneg[v])
    raw = dict(ece_image_raw=rel_img["ece"], ece_pixel_raw=rel_px["ece"])
    t_img, t_px = (temperature or {}).get("image"), (temperature or {}).get("pixel")
    if t_img is not None:
        rel_img = K.reliability_scores(samples["labels"], K.apply_temperature_scores(samples["scores"], t_img))
    if t_px is not None:
        rel_px = K.reliability_pixels(K.apply_temperature_hist(hp[v], t_px), K.apply_temperature_hist(hneg[v], t_px))

    def mean(a):
        a = np.asarray(a, dtype=np.float64)[v]
        return float(a.mean()) if a.size else None

    def listed(r):
        return {key: (np.asarray(val, dtype=np.float64).tolist() if key != "ece" else val) for key, val in r.items()}

    return dict(
        tolerance_px=float(tolerance), **o, ois_f1=s["ois_f1"], ois_f1_pooled=s["ois_f1_pooled"], ois_n=s["ois_n"],
        pixel_ap=O.pixel_ap(hp[v], hneg[v]),
        precision_tol=float(curve["precision"][k]), recall_tol=float(curve["recall"][k]),
        f1_tol=float(curve["f1"][k]) if curve["gt"] > 0 else None,
        cldice_mean=mean(cols["cldice"]) if cldice_threshold is not None else None,
        cldice_threshold=None if cldice_threshold is None else metrics_pixels.snap_threshold(cldice_threshold),
        dice_empty_ok_mean=mean(cols["dice_empty_ok"]), iou_empty_ok_mean=mean(cols["iou_empty_ok"]),
        ece_image=rel_img["ece"], ece_pixel=rel_px["ece"],
        reliability=dict(image=listed(rel_img), pixel=listed(rel_px)),
        temperature=temperature, **raw,
    )


class CrackView:
    """Every crack metric of every sample at any threshold edge in O(N), for the app's threshold slider.

    Built once from a ``samples.npz`` dict: reverse cumulative tables ``[B + 1, N]`` (uint16 when the counts fit,
    else int32) of ``tol_hist_gt``, ``tol_hist_near``, ``skel_hist_gt`` and of all pixels; ``hist_pos``'s table is
    taken from a :class:`trainer.metrics.CumulativeHist` when given (``cum``) so it is not built twice.
    """

    def __init__(self, samples: dict, cum: metrics_pixels.CumulativeHist | None = None):
        cum = cum or metrics_pixels.CumulativeHist(samples["hist_pos"], samples["hist_neg"])
        self.cum = cum
        self._gt = self._table(samples["tol_hist_gt"])
        self._near = self._table(samples["tol_hist_near"])
        self._skel = self._table(samples["skel_hist_gt"]) if "skel_hist_gt" in samples else None
        self.gt_pixels = self._gt[0].astype(np.int64)
        self.skel_pixels = None if self._skel is None else self._skel[0].astype(np.int64)
        self.cldice_at_operating = (C.cldice_from_counts(*np.asarray(samples["cldice_counts"]).T)["cldice"]
                                    if "cldice_counts" in samples else None)
        self.curve = T.split_curve(samples["tol_hist_gt"], samples["tol_hist_near"], samples["hist_pos"],
                                   samples["hist_neg"])

    @staticmethod
    def _table(h) -> np.ndarray:
        h = np.asarray(h)
        top = int(h.sum(axis=1, dtype=np.int64).max()) if h.shape[0] else 0
        dtype = np.uint16 if top < 2 ** 16 else (np.int32 if top < 2 ** 31 else np.int64)
        c = np.cumsum(h[:, ::-1], axis=1, dtype=dtype)       # row-wise on contiguous rows, then one transpose
        out = np.zeros((metrics_pixels.B + 1, h.shape[0]), dtype=dtype)
        out[:metrics_pixels.B] = c.T[::-1]
        return out

    def at(self, k: int, image_threshold: float | None = None) -> dict:
        """Per-sample arrays ``precision_tol, recall_tol, f1_tol, tsens, dice_empty_ok, iou_empty_ok`` at edge ``k``
        (gated by ``image_threshold`` as :meth:`CumulativeHist.counts`); ``tsens`` is ``None`` without
        ``skel_hist_gt``. clDice itself is ``cldice_at_operating`` (made at the evaluation's threshold)."""
        tp, fp = self.cum.counts(k, image_threshold)
        rec, mat = self._gt[k], self._near[k]
        skel = None if self._skel is None else self._skel[k]
        if image_threshold is not None:
            keep = self.cum.scores >= float(image_threshold)
            rec, mat = np.where(keep, rec, 0), np.where(keep, mat, 0)
            skel = None if skel is None else np.where(keep, skel, 0)
        predicted = tp.astype(np.int64) + fp
        prf = T.prf_from_counts(rec, self.gt_pixels, mat, predicted)
        d, i = O.dice_iou_empty_ok(tp, fp, self.cum.gt)
        tsens = None if skel is None else np.divide(skel.astype(np.float64), self.skel_pixels,
                                                    out=np.ones(self.cum.n), where=self.skel_pixels > 0)
        return dict(precision_tol=prf["precision"], recall_tol=prf["recall"], f1_tol=prf["f1"], tsens=tsens,
                    dice_empty_ok=d, iou_empty_ok=i)
