"""SegDecNet (mixed supervision) with FeatureNorm and gradient-multiply layers.

Two architectures (see docs/architecture.md and the spec in reference-model.md, sections 1 and 2.4):

* ``"original"``: the upstream network. Encoder -> 1x1 segmentation head at 1/8 resolution.
* ``"upsampling"``: the crack-segmentation fork. The same encoder with a U-Net-like decoder that produces
  full-resolution segmentation logits; the decision branch sees them pooled by 8 (avg or max).

Both share the decision subnetwork: [1024-ch features, 1-ch logits at 1/8] -> gradient multiply -> small conv
extractor -> global max/mean of its 32 features plus global max/mean of the segmentation logits (each through its
own gradient multiply) -> Linear(66 -> 1).

The module has no Qt dependency and imports only torch.
"""
from __future__ import annotations

import math
import warnings

import torch
from torch import nn

from trainer.errors import ConfigError
from trainer.schema import KEYS, input_size_warning
from trainer.training.layers import (MIN_INPUT_SIZE, ConvBlock, GradientMultiplyLayer, LogitHead, UpBlock,
                                     _autocast_off, _check_input_size)


ARCHITECTURES = KEYS["architecture"].choices
DECISION_POOLINGS = KEYS["decision_pooling"].choices


class SegDecNet(nn.Module):
    """SegDecNet with a segmentation and a decision subnetwork.

    ``forward(x)`` takes a float tensor [B, C, H, W] (H, W divisible by 8) and returns ``(cls_logit [B],
    seg_logits [B, 1, h, w])``, with h, w = H, W for ``architecture="upsampling"`` and H/8, W/8 for ``"original"``.
    Both outputs are float32 (also under autocast).
    """

    def __init__(self, architecture: str = "upsampling", decision_pooling: str = "avg", in_channels: int = 3,
                 input_height: int = 448, input_width: int = 448, skip_convs: bool = False):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ConfigError(f"SegDecNet: architecture must be one of {', '.join(ARCHITECTURES)}, "
                              f"got {architecture!r}")
        if decision_pooling not in DECISION_POOLINGS:
            raise ConfigError(f"SegDecNet: decision_pooling must be one of {', '.join(DECISION_POOLINGS)}, "
                              f"got {decision_pooling!r}")
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise ConfigError(f"SegDecNet: in_channels must be a positive integer, got {in_channels!r}")
        if skip_convs and architecture != "upsampling":
            raise ConfigError("SegDecNet: skip_convs only exists for architecture='upsampling'")
        self.input_height, self.input_width = _check_input_size(input_height, input_width)
        size_warning = input_size_warning(self.input_height, self.input_width)
        if size_warning:
            warnings.warn(f"SegDecNet: {size_warning}", UserWarning, stacklevel=2)
        self.architecture = architecture
        self.decision_pooling = decision_pooling
        self.in_channels = in_channels
        self.skip_convs = bool(skip_convs)

        # ---- segmentation subnetwork: encoder (the extra 32->32 block after stage 1 is left out, as upstream) ----
        self.stage1 = ConvBlock(in_channels, 32)
        self.stage2 = nn.Sequential(nn.MaxPool2d(2), ConvBlock(32, 64), ConvBlock(64, 64), ConvBlock(64, 64))
        self.stage3 = nn.Sequential(nn.MaxPool2d(2), *[ConvBlock(64, 64) for _ in range(4)])
        self.stage4 = nn.Sequential(nn.MaxPool2d(2), ConvBlock(64, 1024, kernel_size=15))

        if architecture == "original":
            self.seg_head = LogitHead(1024, kernel_size=1)
        else:
            self.up1 = UpBlock(1024, 16, 64, 16, n_extra=0, skip_conv=skip_convs)
            self.up2 = UpBlock(16, 16, 64, 16, n_extra=3, skip_conv=skip_convs)
            self.up3 = UpBlock(16, 8, 32, 8, n_extra=2, skip_conv=skip_convs)
            self.seg_head = LogitHead(8, kernel_size=5)
            pool = nn.AvgPool2d(8) if decision_pooling == "avg" else nn.MaxPool2d(8)
            self.seg_pool = pool  # full-res logits -> 1/8 for the decision branch

        # ---- decision subnetwork ----
        self.grad_volume = GradientMultiplyLayer()
        self.decision = nn.Sequential(
            nn.MaxPool2d(2), ConvBlock(1025, 8),
            nn.MaxPool2d(2), ConvBlock(8, 16),
            nn.MaxPool2d(2), ConvBlock(16, 32),
        )
        self.grad_seg_max = GradientMultiplyLayer()
        self.grad_seg_avg = GradientMultiplyLayer()
        self.fc = nn.Linear(66, 1)

    # -- configuration ------------------------------------------------------------------------------------------------
    @property
    def config(self) -> dict:
        return {"architecture": self.architecture, "decision_pooling": self.decision_pooling,
                "in_channels": self.in_channels, "input_height": self.input_height,
                "input_width": self.input_width, "skip_convs": self.skip_convs}

    def set_gradient_multiplier(self, m: float) -> None:
        """Set the three gradient-multiply layers between the subnetworks (0 = gradient adjustment on, 1 = off)."""
        m = float(m)
        if not math.isfinite(m):
            raise ConfigError(f"SegDecNet: gradient multiplier must be finite, got {m}")
        for layer in (self.grad_volume, self.grad_seg_max, self.grad_seg_avg):
            layer.multiplier = m

    @property
    def gradient_multiplier(self) -> float:
        return self.grad_volume.multiplier

    def segmentation_parameters(self):
        """Parameters of the segmentation subnetwork (encoder + decoder/seg head)."""
        for name, p in self.named_parameters():
            if not (name.startswith("decision.") or name.startswith("fc.")):
                yield p

    def decision_parameters(self):
        """Parameters of the decision subnetwork (extractor + final linear layer)."""
        for name, p in self.named_parameters():
            if name.startswith("decision.") or name.startswith("fc."):
                yield p


    # -- forward ------------------------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 4:
            raise ConfigError(f"SegDecNet: expected an input of shape [B, C, H, W], got {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ConfigError(f"SegDecNet: expected {self.in_channels} input channels, got {x.shape[1]}")
        h, w = x.shape[-2], x.shape[-1]
        if h % 8 or w % 8 or h < MIN_INPUT_SIZE or w < MIN_INPUT_SIZE:
            raise ConfigError(f"SegDecNet: input size {h}x{w} must be at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} "
                              f"and divisible by 8")

        v1 = self.stage1(x)
        v2 = self.stage2(v1)
        v3 = self.stage3(v2)
        v4 = self.stage4(v3)

        if self.architecture == "original":
            seg = self.seg_head(v4)  # [B,1,H/8,W/8], fp32
            seg_small = seg
        else:
            d = self.up1(v4, v3)
            d = self.up2(d, v2)
            d = self.up3(d, v1)
            seg = self.seg_head(d)  # [B,1,H,W], fp32
            seg_small = self.seg_pool(seg)

        volume = torch.cat([v4, seg_small.to(v4.dtype)], dim=1)
        volume = self.grad_volume(volume)
        feats = self.decision(volume)

        feat_max = torch.amax(feats, dim=(2, 3)).float()
        feat_avg = torch.mean(feats, dim=(2, 3)).float()
        seg_max = self.grad_seg_max(torch.amax(seg, dim=(2, 3)))
        seg_avg = self.grad_seg_avg(torch.mean(seg, dim=(2, 3)))
        vec = torch.cat([feat_max, feat_avg, seg_max, seg_avg], dim=1)  # [B, 66]
        with _autocast_off(vec):  # the classification logit is computed in float32
            cls = self.fc(vec).reshape(-1)
        return cls, seg
