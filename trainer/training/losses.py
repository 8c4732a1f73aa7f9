"""The training losses: per-sample BCE (segmentation with distance weights, decision), the dynamic balance λ and
mixed supervision (reference-model.md §2.3).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def loss_weights(epoch: int, epochs: int, dyn_balanced: bool, delta: float,
                 constant: float | None = None) -> tuple[float, float]:
    """(weight of L_seg, weight of L_cls) at 0-based `epoch`: λ = epoch/epochs (reference-model.md §2.3), or λ =
    ``constant`` every epoch (lambda_mode = "constant", for a short fine-tune)."""
    if not dyn_balanced:
        return 1.0, delta
    lam = epoch / epochs if constant is None else float(constant)
    return 1.0 - lam, delta * lam


def combine_losses(seg_l: torch.Tensor, dec_l: torch.Tensor, is_segmented: torch.Tensor, w_seg: float,
                   w_dec: float) -> torch.Tensor:
    """Per-sample total loss. Mixed supervision: a weakly labelled positive (is_segmented 0) gets only w_dec·L_cls."""
    return w_seg * seg_l * is_segmented + w_dec * dec_l


def downsize_to_eighth(x: torch.Tensor) -> torch.Tensor:
    """The upstream 1/8 soft targets: reflection-pad by 8, average-pool with kernel 17 and stride 8."""
    return F.avg_pool2d(F.pad(x, (8, 8, 8, 8), mode="reflect"), kernel_size=17, stride=8)


def sample_losses(cls_logit: torch.Tensor, seg_logits: torch.Tensor, batch: dict, original: bool):
    """Per-sample (seg loss [B], dec loss [B]) in fp32: BCE means over pixels (over the valid pixels when the batch
    has ``valid``: tiles with padding) and the image label."""
    mask = batch["mask"]
    weight = batch["seg_weight"]
    valid = batch.get("valid")  # tiles: 0 on padding, which adds nothing and is not counted
    if original:
        mask = downsize_to_eighth(mask)
        weight = downsize_to_eighth(weight)
        valid = downsize_to_eighth(valid) if valid is not None else None
    seg = F.binary_cross_entropy_with_logits(seg_logits.float(), mask, reduction="none")
    if valid is None:
        seg = (seg * weight).flatten(1).mean(1)
    else:
        seg = (seg * weight).flatten(1).sum(1) / valid.flatten(1).sum(1).clamp_min(1e-6)
    dec = F.binary_cross_entropy_with_logits(cls_logit.float().view(-1), batch["label"].view(-1), reduction="none")
    return seg, dec
