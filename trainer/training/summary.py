"""Model helpers: parameter count, per-layer summary (meta device, no compute), FLOPs per image."""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from trainer.errors import ConfigError
from trainer.training.layers import GradientMultiplyLayer, _check_input_size
from trainer.training.model import SegDecNet


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
