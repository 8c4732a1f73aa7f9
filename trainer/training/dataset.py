"""CrackDataset: the lazy torch dataset over sample records (images, masks, seg weights at input size)."""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from trainer.datasets.images import _decode, _read_mask_gray, distance_weight
from trainer.datasets.maskcheck import DEFAULT_MASK_RULE
from trainer.datasets.records import CHANNEL_ORDER, SampleRecord
from trainer.errors import DataError


class CrackDataset(Dataset):
    """Lazy torch dataset over records: nothing is read in ``__init__``.

    ``input_hw`` = (height, width). ``dilate`` > 1 dilates masks with a k x k ones kernel before resizing.
    ``num_segmented``: how many positives with masks get the segmentation loss (-1 = all; picked with ``seed``
    independently of record order; applies only when ``train=True`` -- for evaluation every positive with a mask is
    segmented). ``weighted`` = ``(p, max)`` gives distance-transform seg-loss weights (:func:`distance_weight`),
    ``None`` all ones.

    Items: ``dict(image=float32 [3,H,W] RGB in [0,1], mask=float32 [1,H,W] in {0,1}, seg_weight=float32 [1,H,W],
    is_segmented=bool tensor, label=float32 tensor, index=int)``. Weak positives get an all-zero mask (the trainer
    masks their seg loss out); negatives an all-zero mask.
    """

    channel_order = CHANNEL_ORDER

    def __init__(self, records, input_hw, dilate: int = 1, num_segmented: int = -1, seed: int = 1337,
                 weighted=None, train: bool = True, mask_rule: str = DEFAULT_MASK_RULE):
        self.mask_rule = mask_rule
        self.records: list[SampleRecord] = list(records)
        self.input_hw = (int(input_hw[0]), int(input_hw[1]))
        if self.input_hw[0] < 1 or self.input_hw[1] < 1:
            raise DataError(f"input size must be positive, got {input_hw}")
        self.dilate = int(dilate)
        self.weighted = None if weighted in (None, False) else (float(weighted[0]), float(weighted[1]))
        self.train = bool(train)
        self.warnings: list[str] = []
        self.labels = np.array([r.label for r in self.records], dtype=np.int64)
        seg = np.array([r.label == 0 or r.has_mask for r in self.records], dtype=bool)
        cand = [i for i, r in enumerate(self.records) if r.label == 1 and r.has_mask]
        n = len(cand) if (num_segmented is None or num_segmented < 0 or not self.train) else int(num_segmented)
        if n < len(cand):
            cand_sorted = sorted(cand, key=lambda i: self.records[i].name)
            perm = np.random.default_rng(seed).permutation(len(cand_sorted))
            keep = {cand_sorted[j] for j in perm[:n]}
            for i in cand:
                seg[i] = i in keep
        elif self.train and num_segmented is not None and num_segmented > len(cand):
            self.warnings.append(f"num_segmented = {num_segmented} but only {len(cand)} positives have masks; "
                                 "all of them are segmented")
        self.is_segmented = seg

    def __len__(self) -> int:
        return len(self.records)

    def load_mask(self, i: int, image_shape) -> np.ndarray:
        """The binarised {0,1} uint8 mask of sample i at input size (zeros for negatives and weak positives)."""
        h, w = self.input_hw
        rec = self.records[i]
        if rec.label == 0 or not self.is_segmented[i]:
            return np.zeros((h, w), np.uint8)
        m = _read_mask_gray(rec.mask_path, image_shape, image_path=rec.image_path, rule=self.mask_rule)
        if self.dilate > 1:
            m = cv2.dilate(m, np.ones((self.dilate, self.dilate), np.uint8))
        if m.shape[:2] != (h, w):
            m = cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA)
        return (m > 127).astype(np.uint8)

    def __getitem__(self, i: int) -> dict:
        i = int(i)
        rec = self.records[i]
        h, w = self.input_hw
        raw = _decode(rec.image_path, cv2.IMREAD_COLOR)
        shape = raw.shape
        img = cv2.cvtColor(raw, cv2.COLOR_BGR2RGB)
        if img.shape[:2] != (h, w):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        mask = self.load_mask(i, shape)
        if self.weighted is not None and rec.label == 1 and self.is_segmented[i]:
            weight = distance_weight(mask, *self.weighted)
        else:
            weight = np.ones((h, w), np.float32)
        image = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float().div_(255.0)
        return {
            "image": image,
            "mask": torch.from_numpy(mask.astype(np.float32))[None],
            "seg_weight": torch.from_numpy(weight)[None],
            "is_segmented": torch.tensor(bool(self.is_segmented[i])),
            "label": torch.tensor(float(rec.label), dtype=torch.float32),
            "index": i,
        }
