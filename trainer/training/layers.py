"""SegDecNet's building blocks: FeatureNorm, gradient multiply, conv blocks, logit heads, up blocks, input-size check."""
from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
from torch import nn
import torch.nn.functional as F

from trainer.errors import ConfigError
from trainer.schema import KEYS


MIN_INPUT_SIZE = KEYS["input_height"].min


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
