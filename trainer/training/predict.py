"""A run's model for inference, and the prediction of one image file into a mask (and a probability map).

Two ways an image becomes input (the run's ``input_mode``):

* ``resize`` (the published behaviour): the image is resized to the run's ``input_height x input_width``, predicted
  in one pass, and the probability map is resized back to the image's size (bilinear).
* ``tiles``: blended sliding windows of ``input_height x input_width`` over the image at native resolution, or at
  the run's ``tile_scale`` (:func:`trainer.training.sliding.sliding_predict`), strip by strip: the mask and the
  probability map are streamed to 8-bit PNGs and the image is never held as float. The image score is the rule
  :data:`trainer.training.sliding.IMAGE_SCORE_RULE` (maximum of the window decision scores). Maps are at the
  scaled size when ``tile_scale != 1`` (the ``height``/``width`` columns of ``predictions.csv`` say which).

Backends: ``torch`` (the checkpoint) or ``onnxruntime`` (a file from ``crack-train export``); both are a
:data:`trainer.training.sliding.Predictor` (uint8 RGB windows in, window scores and probabilities out), so both
modes run on either. Every file goes through the checked, atomic writers (:mod:`trainer.atomic`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch

from trainer.atomic import write_png_checked
from trainer.config import load_config
from trainer.datasets.images import read_image
from trainer.errors import ConfigError
from trainer.limits import DEFAULT_MAX_MEGAPIXELS, check_checkpoint_input_size, check_image_megapixels
from trainer.runs import paths
from trainer.training.checkpoint import load_checkpoint, load_weights
from trainer.training.device import resolve_device, resolve_precision, set_cpu_threads
from trainer.training.map_writers import PngStripWriter, TeeWriter, to_uint8
from trainer.training.model import SegDecNet
from trainer.training.onnx_export import OnnxPredictor
from trainer.training.sliding import (IMAGE_SCORE_RULE, TorchPredictor, open_image_source, sliding_predict,
                                      window_starts)

CHECKPOINT_ORDER = ("best", "final", "last")
BACKENDS = ("torch", "onnxruntime")
STRIP_SOURCES = (".tif", ".tiff", ".npy")  # read in strips: no full decode, so no megapixel limit


def find_checkpoint(run: Path, checkpoint: str | None) -> Path:
    """A .pth path as given, or checkpoints/<checkpoint>.pth, or the first of best/final/last that exists."""
    if checkpoint and Path(checkpoint).suffix == ".pth":
        return Path(checkpoint)
    order = [checkpoint] if checkpoint else list(CHECKPOINT_ORDER)
    for name in order:
        p = paths.checkpoint_path(run, name)
        if p.is_file():
            return p
    raise ConfigError(f"no checkpoint ({', '.join(o + '.pth' for o in order)}) in {run / paths.CHECKPOINTS}", run)


def load_run_model(run: Path, checkpoint: str | None, device_name: str = "auto", local_rank: int | None = None):
    """The model of a run folder (best/final/last checkpoint or a path), its config and device/precision:
    ``(model, cfg, (height, width), device, precision, checkpoint path)``."""
    if not run.is_dir():
        raise ConfigError("run folder not found", run)
    ckpt_path = find_checkpoint(run, checkpoint)
    state = load_checkpoint(ckpt_path)
    cfg = load_config(run / paths.CONFIG) if (run / paths.CONFIG).is_file() else dict(state.get("config", {}))
    meta = state.get("meta", {})
    hw = check_checkpoint_input_size(meta, ckpt_path, cfg)  # before anything is allocated
    model = SegDecNet(architecture=meta.get("architecture", cfg["architecture"]),
                      decision_pooling=meta.get("decision_pooling", cfg["decision_pooling"]), in_channels=3,
                      input_height=hw[0], input_width=hw[1])
    load_weights(model, state, ckpt_path, f"{model.architecture} model for {hw[1]}x{hw[0]} (WxH) input")
    device = resolve_device(device_name if device_name != "auto" else cfg.get("device", "auto"), local_rank)
    if device.type == "cpu":
        set_cpu_threads()
    precision = resolve_precision(cfg.get("precision", "auto"), device)
    model.to(device).eval()
    if precision == "bf16":
        model.to(memory_format=torch.channels_last)
    return model, cfg, hw, device, precision, ckpt_path


def make_predictor(model, device, precision: str, backend: str = "torch", onnx: str | Path | None = None):
    """The window predictor of ``backend``: the torch model, or an onnxruntime session of the ``onnx`` file."""
    if backend == "torch":
        return TorchPredictor(model, device, precision)
    if backend != "onnxruntime":
        raise ConfigError(f"backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    if not onnx:
        raise ConfigError("--backend onnxruntime needs --onnx FILE (write one with crack-train export RUN --onnx FILE)")
    if not Path(onnx).is_file():
        raise ConfigError("ONNX file not found (write one with crack-train export RUN --onnx FILE)", onnx)
    return OnnxPredictor(onnx)


@dataclass
class PredictSettings:
    """How images become masks: the mode, window, overlap, scale, batch and the thresholds."""
    mode: str                     # "resize" or "tiles"
    hw: tuple[int, int]           # the run's input size = the window of tiles mode
    seg_threshold: float
    image_threshold: float
    gated: bool = False
    overlap: float = 0.25
    scale: float = 1.0
    batch_size: int = 4
    probs: bool = True            # also write the probability map
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS

    @classmethod
    def of_run(cls, cfg: dict, hw, seg_threshold: float, image_threshold: float, *, native: bool = False, **kw):
        """The settings of a run: its ``input_mode`` (``native`` forces tiles), ``tile_scale``, ``tile_overlap``."""
        mode = "tiles" if native or cfg.get("input_mode", "resize") == "tiles" else "resize"
        scale = float(cfg.get("tile_scale", 1.0)) if cfg.get("input_mode") == "tiles" else 1.0
        kw.setdefault("overlap", float(cfg.get("tile_overlap", 0.25)))
        kw.setdefault("max_megapixels", float(cfg.get("max_megapixels", DEFAULT_MAX_MEGAPIXELS)))
        return cls(mode=mode, hw=(int(hw[0]), int(hw[1])), seg_threshold=float(seg_threshold),
                   image_threshold=float(image_threshold), scale=scale, **kw)

    def windows(self, size: tuple[int, int] | None) -> int:
        """Windows an image of ``(width, height)`` takes (1 in resize mode or when the size is unknown)."""
        if self.mode == "resize" or size is None:
            return 1
        w, h = max(1, round(size[0] * self.scale)), max(1, round(size[1] * self.scale))
        return len(window_starts(h, self.hw[0], self.overlap)) * len(window_starts(w, self.hw[1], self.overlap))


def predict_resized(predictor, img: np.ndarray, hw: tuple[int, int]) -> tuple[float, np.ndarray]:
    """(crack score, probability map at the image's own size) of one RGB uint8 image resized to ``hw``."""
    h0, w0 = img.shape[:2]
    x = cv2.resize(img, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
    scores, probs = predictor(x[None])
    return float(np.asarray(scores).reshape(-1)[0]), cv2.resize(np.asarray(probs[0], np.float32), (w0, h0),
                                                                 interpolation=cv2.INTER_LINEAR)


def predict_image(model, img: np.ndarray, hw: tuple[int, int], device: torch.device, precision: str
                  ) -> tuple[float, np.ndarray]:
    """:func:`predict_resized` with the torch model."""
    return predict_resized(TorchPredictor(model, device, precision), img, hw)


def _blank_png(path: Path, height: int, width: int) -> None:
    w = PngStripWriter(path)
    w.begin(height, width)
    for y in range(0, height, 256):
        w.write(np.zeros((min(256, height - y), width), np.float32))
    w.close()


def predict_file(predictor, image: Path, mask_path: Path, prob_path: Path | None, s: PredictSettings,
                 progress: Callable[[int, int], None] | None = None, source=None) -> dict:
    """Predict ``image`` and write its mask (and probability map) checked and atomically; returns the row of
    ``predictions.csv`` (without the file names). Bad images raise :class:`DataError` naming the file. ``source``
    (tiles mode): a strip source to read instead of opening ``image`` (benchmarks)."""
    image = Path(image)
    if source is None and (s.mode == "resize" or image.suffix.lower() not in STRIP_SOURCES):
        check_image_megapixels(image, s.max_megapixels)  # from the header, before decoding
    if s.mode == "resize":
        score, prob = predict_resized(predictor, read_image(image), s.hw)
        decision = int(score >= s.image_threshold)
        mask = (prob >= s.seg_threshold).astype(np.uint8) * 255
        if s.gated and not decision:
            mask[:] = 0
        if prob_path is not None:
            write_png_checked(prob_path, to_uint8(prob))
        write_png_checked(mask_path, mask)
        if progress is not None:
            progress(1, 1)
        return dict(score=f"{score:.6f}", decision=decision, crack_pixels=int((mask > 0).sum()), height=mask.shape[0],
                    width=mask.shape[1], mode="resize", windows=1, score_rule="single")
    source = source if source is not None else open_image_source(image)
    mask_writer = PngStripWriter(mask_path, binary_threshold=s.seg_threshold)
    writer = TeeWriter(mask_writer, PngStripWriter(prob_path) if prob_path is not None else None)
    try:
        res = sliding_predict(source, predictor, s.hw, overlap=s.overlap, batch_size=s.batch_size, writer=writer,
                              scale=s.scale, progress=progress)
    finally:
        if hasattr(source, "close"):
            source.close()
    decision = int(res["score"] >= s.image_threshold)
    pixels = mask_writer.positives
    if s.gated and not decision and pixels:
        _blank_png(mask_path, res["height"], res["width"])
        pixels = 0
    return dict(score=f"{res['score']:.6f}", decision=decision, crack_pixels=pixels, height=res["height"],
                width=res["width"], mode="tiles", windows=res["windows"], score_rule=IMAGE_SCORE_RULE)
