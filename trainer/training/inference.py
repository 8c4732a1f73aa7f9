"""One inference pass over a dataset (torch): yields per-batch numpy results (scores, probabilities, ground
truth, optional losses) and keeps timings.

With ``tta=True`` each batch runs through the network as its four flips (one forward pass of ``4 b`` images, the
views of :func:`trainer.metrics.uncertainty.flip_views`); ``prob`` is then the mean of the flipped-back maps, ``score``
the mean of the four image scores, and ``uncertainty [b, H, W]`` their spread (:func:`uncertainty.combine`, std).
"""
from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from trainer.errors import DataError
from trainer.metrics import uncertainty as U
from trainer.training.device import resolve_device, resolve_precision


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


# ----------------------------------------------------------------------------------------------------------------
# the shared inference pass
# ----------------------------------------------------------------------------------------------------------------

class InferencePass:
    """One inference pass over a dataset: yields per-batch numpy results and keeps timings."""

    def __init__(self, model, dataset, *, device, precision, channels_last, batch_size, num_workers, losses, tta: bool = False):
        if len(dataset) == 0:
            raise DataError("the split to evaluate has no samples")
        self.model = model
        self.dataset = dataset
        self.dev = resolve_device(device)
        self.precision = resolve_precision(precision, self.dev)
        self.channels_last = bool(channels_last)
        self.batch_size = max(int(batch_size), 1)
        self.num_workers = max(int(num_workers), 0)
        self.losses = losses
        self.tta = bool(tta)
        if self.tta and losses:
            raise ValueError("flip TTA is for evaluation only (no losses)")
        self.t_load = 0.0
        self.t_forward = 0.0
        self.t_post = 0.0
        self.n_forward = 0

    def __iter__(self):
        model, dev = self.model, self.dev
        was_training = model.training
        model.eval()
        model.to(dev)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        loader = torch.utils.data.DataLoader(self.dataset, batch_size=self.batch_size, shuffle=False,
                                             num_workers=self.num_workers, pin_memory=dev.type == "cuda")
        autocast = torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")
        try:
            with torch.inference_mode():
                t0 = time.perf_counter()
                for batch in loader:
                    t1 = time.perf_counter()
                    self.t_load += t1 - t0
                    x = batch["image"].to(dev, non_blocking=True)
                    if self.channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    xin = torch.cat([x, x.flip(-1), x.flip(-2), x.flip((-2, -1))]) if self.tta else x
                    with autocast:
                        cls_logit, seg_logits = model(xin)
                    _sync(dev)
                    t2 = time.perf_counter()
                    self.t_forward += t2 - t1
                    self.n_forward += 1
                    out = self._post(batch, x.shape[-2:], cls_logit, seg_logits)
                    t0 = time.perf_counter()
                    self.t_post += t0 - t2
                    yield out
                    t0 = time.perf_counter()   # time spent by the consumer is not "loading"
        finally:
            if was_training:
                model.train()

    def _post(self, batch, hw, cls_logit, seg_logits) -> dict:
        dev = self.dev
        H, W = int(hw[0]), int(hw[1])
        cls_logit = cls_logit.float().reshape(-1)
        seg_logits = seg_logits.float()
        if seg_logits.dim() == 3:
            seg_logits = seg_logits[:, None]
        prob = torch.sigmoid(seg_logits)
        if prob.shape[-2:] != (H, W):
            prob = F.interpolate(prob, size=(H, W), mode="bilinear", align_corners=False)
        score = torch.sigmoid(cls_logit).cpu().numpy().astype(np.float32)
        prob_np = prob[:, 0].contiguous().cpu().numpy()
        unc = None
        if self.tta:
            b = prob_np.shape[0] // 4
            views = prob_np.reshape(4, b, H, W)
            score = score.reshape(4, b).mean(axis=0).astype(np.float32)
            both = [U.combine(U.unflip(views[:, j])) for j in range(b)]
            prob_np = np.stack([m for m, _ in both])
            unc = np.stack([u for _, u in both])
        mask = batch["mask"].to(dev, non_blocking=True).float()
        if mask.dim() == 3:
            mask = mask[:, None]
        out = dict(
            index=np.asarray(batch["index"]).reshape(-1).astype(np.int64),
            label=batch["label"].float().reshape(-1).cpu().numpy(),
            segmented=np.asarray(batch["is_segmented"]).reshape(-1).astype(bool),
            score=score,
            prob=prob_np,
            gt=(mask[:, 0] > 0.5).cpu().numpy(),
        )
        if unc is not None:
            out["uncertainty"] = unc
        if self.losses:
            label = batch["label"].to(dev).float().reshape(-1)
            out["loss_dec"] = F.binary_cross_entropy_with_logits(cls_logit, label, reduction="none").cpu().numpy()
            target = mask
            if seg_logits.shape[-2:] != mask.shape[-2:]:   # 1/8 head: soft targets by area averaging
                target = F.adaptive_avg_pool2d(mask, seg_logits.shape[-2:])
            ls = F.binary_cross_entropy_with_logits(seg_logits, target, reduction="none").mean(dim=(1, 2, 3))
            out["loss_seg"] = ls.cpu().numpy()
        return out
