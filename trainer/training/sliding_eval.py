"""Validation and evaluation of runs trained on tiles: every image at full resolution, through sliding windows.

:class:`FullImageDataset` is the validation/test dataset of an ``input_mode = "tiles"`` run: item ``i`` is the whole
image at the run's ``tile_scale`` (uint8 RGB) with its mask at the same size (dilated at native resolution, resized
with INTER_AREA and binarised > 127, as :class:`trainer.training.tiles.TileDataset` does). It names its own
inference pass (``inference_pass``), which :mod:`trainer.training.evaluate` uses in place of
:class:`trainer.training.inference.InferencePass`: :class:`SlidingInferencePass` runs
:func:`trainer.training.sliding.sliding_predict` on each image and yields one sample per step with the keys of
``InferencePass`` (``index, label, segmented, score, prob [1, H, W], gt [1, H, W]`` and, with ``losses``,
``loss_dec`` and ``loss_seg``), so the metrics, thresholds and probability maps of an evaluation folder are per image
at full resolution. The image score follows :data:`trainer.training.sliding.IMAGE_SCORE_RULE` (``image_score_rule``).
Losses are computed from the blended probabilities (clipped to [1e-7, 1 - 1e-7]), not from logits.
"""
from __future__ import annotations

import time

import cv2
import numpy as np
import torch

from trainer.datasets.images import _decode, _read_mask_gray
from trainer.errors import DataError
from trainer.training.device import resolve_device, resolve_precision
from trainer.training.sliding import IMAGE_SCORE_RULE, ArraySource, ArrayWriter, TorchPredictor, sliding_predict
from trainer.training.tiles import scale_image

_EPS = 1e-7


class FullImageDataset:
    """Whole images (and masks) of ``records`` at ``scale``, for sliding-window validation and evaluation."""

    image_score_rule = IMAGE_SCORE_RULE

    def __init__(self, records, window, *, overlap: float = 0.25, scale: float = 1.0, dilate: int = 1,
                 batch_size: int = 4):
        self.records = list(records)
        self.window = (int(window[0]), int(window[1]))
        self.overlap, self.scale, self.dilate = float(overlap), float(scale), int(dilate)
        self.batch_size = int(batch_size)
        self.labels = np.array([r.label for r in self.records], np.int64)
        self.is_segmented = np.array([r.label == 0 or r.has_mask for r in self.records], bool)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict:
        rec = self.records[int(i)]
        raw = _decode(rec.image_path, cv2.IMREAD_COLOR)
        img = scale_image(cv2.cvtColor(raw, cv2.COLOR_BGR2RGB), self.scale)
        if rec.label == 1 and rec.has_mask:
            m = _read_mask_gray(rec.mask_path, raw.shape, image_path=rec.image_path)
            if self.dilate > 1:
                m = cv2.dilate(m, np.ones((self.dilate, self.dilate), np.uint8))
            mask = (scale_image(m, self.scale, mask=True) > 127).astype(np.uint8)
        else:
            mask = np.zeros(img.shape[:2], np.uint8)
        return {"image": img, "mask": mask, "label": float(rec.label), "index": int(i),
                "is_segmented": bool(self.is_segmented[int(i)])}

    @property
    def inference_pass(self):
        return SlidingInferencePass


class SlidingInferencePass:
    """The :class:`trainer.training.inference.InferencePass` of a :class:`FullImageDataset` (same arguments, same
    yielded keys and timings), one image per step."""

    def __init__(self, model, dataset, *, device, precision, channels_last=False, batch_size=1, num_workers=0,
                 losses=False):
        if len(dataset) == 0:
            raise DataError("the split to evaluate has no samples")
        self.model, self.dataset, self.losses = model, dataset, bool(losses)
        self.dev = resolve_device(device)
        self.precision = resolve_precision(precision, self.dev)
        self.t_load = self.t_forward = self.t_post = 0.0
        self.n_forward = 0

    def __iter__(self):
        model, ds = self.model, self.dataset
        was_training = model.training
        model.eval()
        predictor = TorchPredictor(model, self.dev, self.precision)
        try:
            for i in range(len(ds)):
                t0 = time.perf_counter()
                item = ds[i]
                t1 = time.perf_counter()
                res = sliding_predict(ArraySource(item["image"], str(ds.records[i].image_path)), predictor,
                                      ds.window, overlap=ds.overlap, batch_size=ds.batch_size,
                                      writer=ArrayWriter(np.float32))
                t2 = time.perf_counter()
                self.t_load += t1 - t0
                self.t_forward += t2 - t1
                self.n_forward += 1
                out = self._post(item, res)
                self.t_post += time.perf_counter() - t2
                yield out
        finally:
            if was_training:
                model.train()

    def _post(self, item: dict, res: dict) -> dict:
        prob = res["writer"].array
        gt = item["mask"] > 0
        out = dict(index=np.array([item["index"]], np.int64), label=np.array([item["label"]], np.float32),
                   segmented=np.array([item["is_segmented"]]), score=np.array([res["score"]], np.float32),
                   prob=prob[None], gt=gt[None])
        if self.losses:
            s = min(max(float(res["score"]), _EPS), 1 - _EPS)
            out["loss_dec"] = np.array([-np.log(s) if item["label"] > 0.5 else -np.log(1 - s)], np.float32)
            p = torch.from_numpy(np.clip(prob, _EPS, 1 - _EPS))
            bce = torch.nn.functional.binary_cross_entropy(p, torch.from_numpy(gt.astype(np.float32)))
            out["loss_seg"] = np.array([float(bce)], np.float32)
        return out
