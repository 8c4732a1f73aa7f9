"""Export a SegDecNet to ONNX with dynamic batch, height and width, and run it with onnxruntime.

Exporter. torch 2.13's default exporter (``dynamo=True``, torch.export + onnxscript) is used: it exports this network
with dynamic shapes and agrees with torch within about 2e-5. The legacy TorchScript exporter (``dynamo=False``) was
tried and is NOT used: its trace bakes shape-dependent values and its output differs from torch by more than 1 on
the segmentation logits. The example input has batch 1 and named ``Dim`` objects for batch, height and width: an
export with ``Dim.AUTO`` for height/width and a batch-2 example ran but disagreed with torch by about 2 on the
segmentation logits (seen once on torch 2.13, not isolated further); the test below guards against it.

Speed. ``optimize=False`` skips onnxscript's graph optimiser: the export of SegDecNet (128x128 example) took 115 s
instead of 267 s (2 heavily shared CPU cores, torch 2.13). :func:`check_onnx` (run by ``crack-train export``) compares
every export with torch; the real-image comparison test runs with ``CRACKVIEWER_SLOW=1``.

Export copy. The network's training-only pieces are custom autograd functions (the fused FeatureNorm, the gradient
multiply); the export runs on a deep copy where FeatureNorm uses its plain definition
(:func:`trainer.training.layers.feature_norm_reference`, the same forward maths) and gradient multiply is the
identity it is in the forward pass. Inputs: ``image`` float32 [B, 3, H, W] RGB in [0, 1], H and W multiples of 8 and >= 64.
Outputs: ``cls_logit`` [B] and ``seg_logits`` [B, 1, h, w], as :meth:`SegDecNet.forward`.

onnxruntime is an optional extra (``pip install crackviewer[onnx]``); importing this module does not need it.
"""
from __future__ import annotations

import copy
import os
import types
from pathlib import Path

import numpy as np
import torch

from trainer import atomic
from trainer.errors import ConfigError
from trainer.training.layers import FeatureNorm, GradientMultiplyLayer, feature_norm_reference

__all__ = ["OPSET", "INPUT_NAME", "OUTPUT_NAMES", "AGREEMENT", "export_onnx", "check_onnx", "OnnxPredictor",
           "onnx_session"]

OPSET = 18
INPUT_NAME = "image"
OUTPUT_NAMES = ("cls_logit", "seg_logits")
AGREEMENT = 1e-4  # torch and onnxruntime logits agree within this


def _feature_norm_plain(self, x):
    return feature_norm_reference(x, self.scale, self.bias, self.eps)


def _identity(self, x):
    return x


def export_copy(model: torch.nn.Module) -> torch.nn.Module:
    """An eval-mode deep copy of ``model`` (unwrapped from DDP/compile) without custom autograd functions."""
    inner = getattr(model, "module", model)
    inner = getattr(inner, "_orig_mod", inner)
    m = copy.deepcopy(inner).float().eval()
    for mod in m.modules():
        if isinstance(mod, FeatureNorm):
            mod.forward = types.MethodType(_feature_norm_plain, mod)
        elif isinstance(mod, GradientMultiplyLayer):
            mod.forward = types.MethodType(_identity, mod)
    return m


def export_onnx(model: torch.nn.Module, path, input_hw=(448, 448)) -> Path:
    """Write ``model`` to ``path`` as one self-contained ONNX file (opset :data:`OPSET`, weights inside) with dynamic
    batch, height and width; the example input is ``input_hw``. Returns the path."""
    path = Path(path)
    h, w = int(input_hw[0]), int(input_hw[1])
    if h % 8 or w % 8 or h < 64 or w < 64:
        raise ConfigError(f"ONNX export: example size {h}x{w} must be multiples of 8 and at least 64")
    m = export_copy(model)
    x = torch.rand(1, getattr(m, "in_channels", 3), h, w)
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("height"), 3: torch.export.Dim("width")}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = atomic.temp_path(path)  # written beside the target, renamed when complete: never half a file
    try:
        torch.onnx.export(m, (x,), str(tmp), dynamo=True, opset_version=OPSET, input_names=[INPUT_NAME],
                          output_names=list(OUTPUT_NAMES), dynamic_shapes={"x": dims}, verbose=False,
                          external_data=False, optimize=False)  # one file: the weights are far below protobuf's 2 GB
        os.replace(tmp, path)
    except OSError as e:
        raise atomic.write_error(e, path) from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def check_onnx(model: torch.nn.Module, path, input_hw=(448, 448), seed: int = 0) -> float:
    """Largest absolute difference between torch and onnxruntime on the logits of a random batch of 2 at
    ``input_hw`` and at a different size (``+16`` each way: the dynamic axes); raises :class:`ConfigError` above
    :data:`AGREEMENT`."""
    m = export_copy(model)
    session = onnx_session(path)
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    for h, w in ((input_hw[0], input_hw[1]), (input_hw[0] + 16, input_hw[1] + 16)):
        x = torch.rand(2, getattr(m, "in_channels", 3), int(h), int(w), generator=g)
        with torch.inference_mode():
            ref = [t.numpy() for t in m(x)]
        got = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x.numpy()})
        worst = max([worst] + [float(np.max(np.abs(a - b))) for a, b in zip(ref, got)])
    if not worst <= AGREEMENT:
        raise ConfigError(f"the exported model differs from torch by {worst:.2e} (more than {AGREEMENT:g}); "
                          "it was written but should not be used", path)
    return worst


def onnx_session(path, threads: int | None = None):
    """An onnxruntime CPU session for ``path`` (clear message when onnxruntime is missing)."""
    try:
        import onnxruntime as ort  # optional extra [onnx]: missing -> the ConfigError below
    except ImportError:
        raise ConfigError("the onnxruntime backend needs the optional extra: pip install 'crackviewer[onnx]'") from None
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


class OnnxPredictor:
    """The sliding-window :data:`trainer.training.sliding.Predictor` backed by onnxruntime (same interface as
    :class:`trainer.training.sliding.TorchPredictor`)."""

    def __init__(self, path, threads: int | None = None):
        self.session = onnx_session(path, threads)

    def raw(self, x: np.ndarray):
        """(cls_logit [B], seg_logits [B, 1, h, w]) for float32 [B, 3, H, W] input."""
        cls, seg = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: np.ascontiguousarray(x, np.float32)})
        return cls, seg

    def __call__(self, batch: np.ndarray):
        x = batch.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0)
        cls, seg = self.raw(x)
        seg = seg[:, 0]
        if seg.shape[-2:] != x.shape[-2:]:  # architecture "original": 1/8 maps
            seg = np.stack([_resize_linear(s, x.shape[-2:]) for s in seg])
        return 1.0 / (1.0 + np.exp(-cls)), 1.0 / (1.0 + np.exp(-seg))


def _resize_linear(a: np.ndarray, hw) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(a))[None, None]
    return torch.nn.functional.interpolate(t, size=tuple(hw), mode="bilinear", align_corners=False)[0, 0].numpy()
