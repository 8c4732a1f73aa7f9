"""Per-sample data of an evaluated split, read lazily from the evaluation folder and the dataset: image, ground
truth, 8-bit probability map (SampleStore.sample) and gallery thumbnails (SampleStore.thumbnail); Qt-free."""
from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from crackviewer.inspect.evaluation_folder import Evaluation
from trainer.datasets.images import read_image, read_mask
from trainer.datasets.layouts import open_dataset
from trainer.errors import DataError
from trainer.limits import VIEWER_MAX_MEGAPIXELS
from trainer.runs import paths


@dataclass
class SampleData:
    """What the viewer shows for one sample."""

    index: int
    name: str
    image: np.ndarray             # HxWx3 uint8 RGB (the probability map in grey when the image is unavailable)
    gt: np.ndarray | None         # HxW {0,1} at image resolution (None: no mask, e.g. weak positive)
    gt_eval: np.ndarray | None    # {0,1} at the map's resolution, as the evaluation used it (None: unknown)
    prob8: np.ndarray | None      # uint8 probability*255 at the model's input resolution (None: not written)
    problem: str | None = None    # why something is missing


@dataclass
class Thumbnail:
    index: int
    image: np.ndarray             # hxwx3 uint8
    prob8: np.ndarray | None      # hxw uint8 (max-pooled so thin cracks survive)
    gt: np.ndarray | None         # hxw bool (max-pooled)


def _max_pool_resize(a: np.ndarray, w: int, h: int) -> np.ndarray:
    """Downscale keeping thin bright structures (a 1-pixel crack stays visible in a thumbnail)."""
    fy, fx = a.shape[0] / h, a.shape[1] / w
    k = int(math.ceil(max(fx, fy)))
    if k > 1:
        a = cv2.dilate(a, np.ones((k, k), np.uint8))
    return cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA if k <= 1 else cv2.INTER_NEAREST)


class SampleStore:
    """Reads a sample's image, GT mask and probability map for an :class:`Evaluation`.

    The dataset is the run's (``source.json``/``run_started``); when it cannot be found the viewer still shows the
    probability maps and :attr:`problem` says why. Safe to call from worker threads.
    """

    def __init__(self, ev: Evaluation, data_path: str | Path | None = None):
        self.ev = ev
        self.data_path = Path(data_path) if data_path is not None else ev.data_path
        self.dilate = int(ev.config.get("dilate", 1) or 1)
        hw = (ev.metrics or {}).get("input_hw")
        self.input_hw = (int(hw[0]), int(hw[1])) if hw else None
        self._index = None
        self._opened = False
        self.problem: str | None = None
        self._lock = threading.Lock()

    # -- dataset
    def dataset(self):
        with self._lock:
            if not self._opened:
                self._opened = True
                if self.data_path is None:
                    self.problem = "the dataset of this evaluation is unknown (no source.json / run_started data)"
                elif not self.data_path.exists():
                    self.problem = f"dataset not found at {self.data_path}: showing probability maps only"
                else:
                    try:
                        seed = int(self.ev.config.get("seed", 1337))
                        vf = float(self.ev.config.get("val_fraction", 0.15))
                        self._index = open_dataset(self.data_path, val_fraction=vf, seed=seed, skip_bad=True)
                    except Exception as exc:  # noqa: BLE001 - shown to the user, the window keeps working
                        self.problem = f"cannot open the dataset {self.data_path}: {exc}"
            return self._index

    def set_data_path(self, path: str | Path) -> None:
        """Use another dataset folder (the original moved)."""
        with self._lock:
            self.data_path = Path(path)
            self._index = None
            self._opened = False
            self.problem = None

    def record(self, i: int):
        idx = self.dataset()
        if idx is None:
            return None
        try:
            return idx.sample_by_name(self.ev.names[i])
        except Exception:  # noqa: BLE001
            return None

    # -- pixels
    def prob_path(self, i: int) -> Path:
        return paths.prob_png_path(self.ev.dir, self.ev.names[i])

    def has_uncertainty(self) -> bool:
        """True when the evaluation wrote uncertainty maps (``crack-train eval --tta``)."""
        return (self.ev.dir / paths.UNCERTAINTY).is_dir()

    def uncertainty8(self, i: int) -> np.ndarray | None:
        """The sample's 8-bit uncertainty map (``crack-train eval --tta``), None when the evaluation has none."""
        p = paths.uncertainty_png_path(self.ev.dir, self.ev.names[i])
        return cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) if p.is_file() else None

    def prob8(self, i: int) -> np.ndarray | None:
        p = self.prob_path(i)
        if not p.is_file():
            return None
        a = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        return a

    def load(self, i: int) -> SampleData:
        """Everything the viewer needs for sample ``i`` (full resolution)."""
        i = int(i)
        name = self.ev.names[i]
        problems = []
        prob = self.prob8(i)
        if prob is None:
            problems.append(f"no probability map {self.prob_path(i).name} (evaluated with write_maps off?)")
        rec = self.record(i)
        image = gt = None
        if rec is None:
            problems.append(self.problem or f"sample {name!r} not in the dataset {self.data_path}")
        else:
            try:
                image = read_image(rec.image_path, max_megapixels=VIEWER_MAX_MEGAPIXELS)
            except DataError as exc:
                problems.append(str(exc))
            if image is not None:
                if rec.label == 0:
                    gt = np.zeros(image.shape[:2], np.uint8)
                elif rec.has_mask:
                    try:
                        gt = read_mask(rec.mask_path, image.shape)
                    except DataError as exc:
                        problems.append(str(exc))
        if image is None:
            base = prob if prob is not None else np.zeros(self.input_hw or (64, 64), np.uint8)
            image = np.repeat(base[..., None], 3, axis=2)
        gt_eval = None
        if prob is not None:
            ph, pw = prob.shape[:2]
            positive = bool(self.ev.labels[i] > 0)
            if not positive:
                gt_eval = np.zeros((ph, pw), np.uint8)
            elif gt is not None and self.ev.segmented[i]:
                m = gt.astype(np.uint8) * 255
                if self.dilate > 1:
                    m = cv2.dilate(m, np.ones((self.dilate, self.dilate), np.uint8))
                if m.shape != (ph, pw):
                    m = cv2.resize(m, (pw, ph), interpolation=cv2.INTER_AREA)
                gt_eval = (m > 127).astype(np.uint8)
        return SampleData(i, name, image, gt, gt_eval, prob, "; ".join(problems) or None)

    def thumbnail(self, i: int, size: int = 112) -> Thumbnail:
        """Small image + max-pooled probability map and GT (for the gallery's error-coloured tiles)."""
        d = self.load(i)
        h, w = d.image.shape[:2]
        s = size / max(h, w)
        tw, th = max(1, int(round(w * s))), max(1, int(round(h * s)))
        img = cv2.resize(d.image, (tw, th), interpolation=cv2.INTER_AREA)
        prob = _max_pool_resize(d.prob8, tw, th) if d.prob8 is not None else None
        gt = None
        if d.gt_eval is not None:
            gt = _max_pool_resize(d.gt_eval.astype(np.uint8) * 255, tw, th) > 127
        return Thumbnail(i, img, prob, gt)
