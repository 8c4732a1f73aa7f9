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

import contextlib
import copy
import math
import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from trainer.errors import ConfigError

__all__ = [
    "ARCHITECTURES",
    "DECISION_POOLINGS",
    "FeatureNorm",
    "feature_norm_reference",
    "GradientMultiply",
    "GradientMultiplyLayer",
    "ConvBlock",
    "SegDecNet",
    "count_parameters",
    "model_summary",
    "flops_per_image",
]

ARCHITECTURES = ("upsampling", "original")
DECISION_POOLINGS = ("avg", "max")
MIN_INPUT_SIZE = 64


# --------------------------------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------------------------------
def _hw_sum(t: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Sum over H and W, keepdim -> [N, C, 1, 1], accumulated in ``dtype``; reads channels_last tensors in order."""
    n, c = t.shape[0], t.shape[1]
    if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
        return t.permute(0, 2, 3, 1).reshape(n, -1, c).sum(dim=1, dtype=dtype).view(n, c, 1, 1)
    return t.sum(dim=(2, 3), keepdim=True, dtype=dtype)


def _hw_sqsum(t: torch.Tensor) -> torch.Tensor:
    """Sum of squares over H and W of a float32/float64 tensor, keepdim -> [N, C, 1, 1]."""
    n, c = t.shape[0], t.shape[1]
    if t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last):
        flat = t.permute(0, 2, 3, 1).reshape(n, -1, c)  # vector_norm over a strided dim is slow here
        return flat.square().sum(dim=1).view(n, c, 1, 1)
    return torch.linalg.vector_norm(t, 2, dim=(2, 3), keepdim=True).square_()


class _FeatureNormFunction(torch.autograd.Function):
    """Fused FeatureNorm: float32 statistics (float64 for float64 input; two-pass), hand-written backward; saves only
    the input and [N, C] statistics.

    About 2-4x fewer memory passes than composing std_mean/sub/div/mul under autograd, and no float32 copy of the
    activation is kept for the backward pass.
    """

    @staticmethod
    def forward(ctx, x, scale, bias, eps: float, out_fp32: bool):  # type: ignore[override]
        ct = torch.float64 if x.dtype == torch.float64 else torch.float32  # compute dtype
        n = x.shape[-2] * x.shape[-1]
        dof = max(n - 1, 1)  # unbiased; a single pixel uses n (std = 0) instead of giving NaN
        mean = _hw_sum(x, ct).div_(n)
        xhat = x.to(ct) - mean  # a new float tensor, same memory format as x
        std = _hw_sqsum(xhat).div_(dof).sqrt_()
        rs = torch.rsqrt(std + eps)  # 1 / sqrt(std + eps): the reference's quirk
        a = scale.to(ct) * rs
        y = xhat.mul_(a).add_(bias.to(ct))
        ctx.save_for_backward(x, scale, mean, std, rs)
        ctx.dof, ctx.n = dof, n
        return y if (out_fp32 or x.dtype == ct) else y.to(x.dtype)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, dy):  # type: ignore[override]
        x, scale, mean, std, rs = ctx.saved_tensors
        ct = mean.dtype
        a = scale.to(ct) * rs
        xhat = x.to(ct) - mean
        g_bias_nc = _hw_sum(dy, ct)  # dL/dbias per sample and channel
        g_a_nc = _hw_sum(dy * xhat, ct)  # dL/da, a = scale / sqrt(std + eps)
        # y = xhat * a + bias, a depends on std, std on x:  d std / dx_i = xhat_i / (dof * std)
        # dL/dx = a * (dy - mean(dy)) + k * xhat,  k = g_a * scale * (-1/2) (std + eps)^(-3/2) / (dof * std)
        safe_std = torch.where(std > 0, std, torch.ones_like(std))
        k = torch.where(std > 0, g_a_nc * a * (-0.5) * rs * rs / (safe_std * ctx.dof), torch.zeros_like(std))
        gx = xhat.mul_(k).sub_(a * g_bias_nc / ctx.n).addcmul_(dy, a)
        g_scale = (g_a_nc * rs).sum(dim=0, keepdim=True).to(scale.dtype)
        g_bias = g_bias_nc.sum(dim=0, keepdim=True)
        return gx.to(x.dtype), g_scale, g_bias.to(scale.dtype), None, None


def feature_norm_reference(x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, eps: float = 1e-3):
    """Plain autograd FeatureNorm (float32 statistics, float64 for float64 input): the definition the fused version is
    tested against."""
    xf = x if x.dtype == torch.float64 else x.float()
    n = xf.shape[-2] * xf.shape[-1]
    std, mean = torch.std_mean(xf, dim=(2, 3), correction=1 if n > 1 else 0, keepdim=True)
    return scale * (xf - mean) / torch.sqrt(std + eps) + bias


class FeatureNorm(nn.Module):
    """Per-sample, per-channel normalisation over H x W.

    ``y = scale * (x - mean) / sqrt(std + eps) + bias`` with the *unbiased* std. The square root of the std (rather
    than a division by the std) is a quirk of the reference network, kept for parity. There are no running statistics:
    training and evaluation behave the same and the batch size does not matter.

    The statistics are always computed in float32, also under bf16/fp16 autocast. The result is returned in the input
    dtype (so activations stay small under autocast) unless ``return_fp32`` is set, which the logit heads use.
    The computation is a fused autograd function (see :func:`feature_norm_reference` for the plain definition).

    A map with a single pixel has no unbiased std; there the population std (= 0) is used instead of NaN.
    """

    def __init__(self, num_features: int, eps: float = 1e-3, return_fp32: bool = False):
        super().__init__()
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.return_fp32 = bool(return_fp32)
        self.scale = nn.Parameter(torch.ones(1, self.num_features, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, self.num_features, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"FeatureNorm expects [N, C, H, W], got {tuple(x.shape)}")
        if not x.dtype.is_floating_point:
            x = x.float()
        return _FeatureNormFunction.apply(x, self.scale, self.bias, self.eps, self.return_fp32)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}"


class GradientMultiply(torch.autograd.Function):
    """Identity in the forward pass; the backward pass multiplies the incoming gradient by ``m``.

    With ``m == 0`` the gradient is replaced by zeros (not ``grad * 0``), so a NaN/inf in the decision branch can
    never leak into the segmentation subnetwork.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, m: float) -> torch.Tensor:  # type: ignore[override]
        ctx.m = float(m)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        m = ctx.m
        if m == 0.0:
            return torch.zeros_like(grad), None
        if m == 1.0:
            return grad, None
        return grad * m, None


class GradientMultiplyLayer(nn.Module):
    """Module wrapper around :class:`GradientMultiply` with a settable multiplier (a plain float, not a parameter)."""

    def __init__(self, multiplier: float = 1.0):
        super().__init__()
        self.multiplier = float(multiplier)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return GradientMultiply.apply(x, self.multiplier)

    def extra_repr(self) -> str:
        return f"multiplier={self.multiplier}"


def _init_conv(conv: nn.Conv2d) -> None:
    nn.init.xavier_normal_(conv.weight)
    if conv.bias is not None:
        fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1] // conv.groups
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(conv.bias, -bound, bound)


class ConvBlock(nn.Module):
    """Conv2d (no bias, 'same' padding, Xavier-normal init) -> FeatureNorm -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False)
        self.norm = FeatureNorm(out_channels)
        _init_conv(self.conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.norm(self.conv(x)), inplace=True)


class LogitHead(nn.Module):
    """Conv2d (no bias) -> FeatureNorm(1) producing float32 segmentation logits (no ReLU).

    The head is tiny (1 output channel), so it always runs in float32, also under autocast: the logits feed
    thresholds with 4096 bins, and a bf16 conv output would quantise them.
    """

    def __init__(self, in_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 1, kernel_size, padding=kernel_size // 2, bias=False)
        self.norm = FeatureNorm(1, return_fp32=True)
        _init_conv(self.conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with _autocast_off(x):
            return self.norm(self.conv(x.float()))


def _autocast_off(x: torch.Tensor):
    """A context that disables autocast on ``x``'s device (a no-op context for devices without autocast)."""
    dev = x.device.type
    if dev not in ("cpu", "cuda", "xpu", "mps", "hpu"):
        return contextlib.nullcontext()
    try:
        enabled = torch.is_autocast_enabled(dev)
    except TypeError:  # torch < 2.4: no device argument
        enabled = torch.is_autocast_cpu_enabled() if dev == "cpu" else torch.is_autocast_enabled()
    return torch.autocast(device_type=dev, enabled=False) if enabled else contextlib.nullcontext()


def _match_size(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Centre-crop or zero-pad ``x`` to ``height`` x ``width``: pad floor(d/2) before and d - floor(d/2) after."""
    dh = height - x.shape[-2]
    dw = width - x.shape[-1]
    if dh == 0 and dw == 0:
        return x
    return F.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2))


class UpBlock(nn.Module):
    """ConvTranspose (k5, s2, no padding) -> crop/pad to the skip size -> concat [skip, up] -> conv blocks."""

    def __init__(self, in_channels: int, up_channels: int, skip_channels: int, out_channels: int, n_extra: int,
                 skip_conv: bool = False):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, up_channels, kernel_size=5, stride=2)
        self.skip_conv = ConvBlock(skip_channels, skip_channels, kernel_size=1) if skip_conv else None
        blocks = [ConvBlock(skip_channels + up_channels, out_channels)]
        blocks += [ConvBlock(out_channels, out_channels) for _ in range(n_extra)]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        up = _match_size(self.up(x), skip.shape[-2], skip.shape[-1])
        if self.skip_conv is not None:
            skip = self.skip_conv(skip)
        if up.dtype != skip.dtype:
            up = up.to(skip.dtype)
        return self.blocks(torch.cat([skip, up], dim=1))


# --------------------------------------------------------------------------------------------------------------------
# The network
# --------------------------------------------------------------------------------------------------------------------
def _check_input_size(height: Any, width: Any, where: str = "SegDecNet") -> tuple[int, int]:
    for name, v in (("input_height", height), ("input_width", width)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{where}: {name} must be an integer, got {v!r}")
        if v < MIN_INPUT_SIZE:
            raise ConfigError(f"{where}: {name} = {v} is too small; the network pools by 64 in total, "
                              f"so use at least {MIN_INPUT_SIZE} (and a multiple of 8)")
        if v % 8 != 0:
            lo, hi = v - v % 8, v - v % 8 + 8
            raise ConfigError(f"{where}: {name} = {v} is not divisible by 8 "
                              f"(the encoder downsamples by 8); use {lo} or {hi}")
    return int(height), int(width)


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
        if (self.input_height // 64) * (self.input_width // 64) < 2:
            warnings.warn(
                f"SegDecNet: at {self.input_height}x{self.input_width} the decision extractor's last block sees a "
                f"single pixel, so its 32 features are constant and the classifier only uses the segmentation "
                f"max/mean; use at least 128 in one dimension (e.g. 128x64) for a working decision branch",
                UserWarning, stacklevel=2)
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

    def seg_output_size(self, height: int, width: int) -> tuple[int, int]:
        if self.architecture == "original":
            return height // 8, width // 8
        return height, width

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


# --------------------------------------------------------------------------------------------------------------------
# Helpers: parameters, summary, FLOPs
# --------------------------------------------------------------------------------------------------------------------
def _unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside a DistributedDataParallel / torch.compile wrapper."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all of them, or only those with requires_grad)."""
    return sum(p.numel() for p in _unwrap(model).parameters() if p.requires_grad or not trainable_only)


def _shape_of(out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        return [_shape_of(o) for o in out]
    return None


def _check_hw(input_hw: Any) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in input_hw)
    except (TypeError, ValueError):
        raise ConfigError(f"input_hw must be (height, width), got {input_hw!r}") from None
    return _check_input_size(h, w, where="input_hw")


def _meta_copy(model: nn.Module) -> nn.Module:
    """A copy of the model on the meta device: shape-only, costs no compute or weight memory."""
    model = _unwrap(model)
    if isinstance(model, SegDecNet):
        with torch.device("meta"):
            m = SegDecNet(**model.config)
        m.set_gradient_multiplier(model.gradient_multiplier)
    else:
        m = copy.deepcopy(model).to("meta")
    m.train(model.training)
    return m


def model_summary(model: nn.Module, input_hw: tuple[int, int], batch_size: int = 1) -> list[dict]:
    """One row per top-level stage/block, in execution order, traced on a dummy input.

    Rows: ``{"name", "type", "out_shape", "params"}``. The first row is the input, the last the output vector of the
    decision branch (``cls_logit``) and the segmentation output. Runs on the meta device (no compute).
    """
    h, w = _check_hw(input_hw)
    m = _meta_copy(model)
    in_channels = getattr(m, "in_channels", 3)
    rows: list[dict] = [{"name": "input", "type": "Input", "out_shape": (batch_size, in_channels, h, w),
                         "params": 0}]
    handles = []
    for name, child in m.named_children():
        if isinstance(child, GradientMultiplyLayer):
            continue

        def hook(mod, inp, out, _name=name):
            rows.append({"name": _name, "type": type(mod).__name__, "out_shape": _shape_of(out),
                         "params": sum(p.numel() for p in mod.parameters())})

        handles.append(child.register_forward_hook(hook))
    try:
        with torch.no_grad():
            cls, seg = m(torch.zeros(batch_size, in_channels, h, w, device="meta"))
    finally:
        for hd in handles:
            hd.remove()
    # the fc row is preceded by the 66-vector; give the two outputs their own rows
    rows.append({"name": "cls_logit", "type": "Output", "out_shape": tuple(cls.shape), "params": 0})
    rows.append({"name": "seg_logits", "type": "Output", "out_shape": tuple(seg.shape), "params": 0})
    return rows


def flops_per_image(model: nn.Module, input_hw: tuple[int, int], train: bool = True) -> int:
    """FLOPs (multiply-add = 2) for one image: forward, plus backward w.r.t. the parameters when ``train``.

    Counted with ``torch.utils.flop_counter.FlopCounterMode`` on a meta-device copy, so it costs no compute and
    leaves the model (and its .grad) untouched. Only convolutions and matrix products are counted.
    """
    from torch.utils.flop_counter import FlopCounterMode

    h, w = _check_hw(input_hw)
    m = _meta_copy(model)
    m.train(bool(train))
    in_channels = getattr(m, "in_channels", 3)
    x = torch.zeros(1, in_channels, h, w, device="meta")
    counter = FlopCounterMode(display=False)
    with counter:
        if train:
            cls, seg = m(x)
            loss = cls.sum() + seg.sum()
            params = [p for p in m.parameters() if p.requires_grad]
            torch.autograd.grad(loss, params, allow_unused=True)
        else:
            with torch.no_grad():
                m(x)
    return int(counter.get_total_flops())
