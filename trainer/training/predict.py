"""A run's model for inference: load it from a run folder's checkpoint, and predict one image."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from trainer.config import load_config
from trainer.errors import ConfigError
from trainer.runs import paths
from trainer.limits import check_checkpoint_input_size
from trainer.training.checkpoint import load_checkpoint, load_weights
from trainer.training.device import autocast, resolve_device, resolve_precision, set_cpu_threads
from trainer.training.model import SegDecNet

CHECKPOINT_ORDER = ("best", "final", "last")


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


def load_run_model(run: Path, checkpoint: str | None, device_name: str = "auto"):
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
    device = resolve_device(device_name if device_name != "auto" else cfg.get("device", "auto"))
    if device.type == "cpu":
        set_cpu_threads()
    precision = resolve_precision(cfg.get("precision", "auto"), device)
    model.to(device).eval()
    if precision == "bf16":
        model.to(memory_format=torch.channels_last)
    return model, cfg, hw, device, precision, ckpt_path


def predict_image(model, img: np.ndarray, hw: tuple[int, int], device: torch.device, precision: str
                  ) -> tuple[float, np.ndarray]:
    """(crack score, probability map at the image's own size) of one RGB uint8 image."""
    h0, w0 = img.shape[:2]
    x = cv2.resize(img, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
    t = torch.from_numpy(x).permute(2, 0, 1).float().div(255).unsqueeze(0).to(device)
    if precision == "bf16":
        t = t.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode(), autocast(device, precision):
        cls_logit, seg_logits = model(t)
    score = float(torch.sigmoid(cls_logit.float()).view(-1)[0])
    prob = torch.sigmoid(seg_logits.float())[0, 0].cpu().numpy()
    return score, cv2.resize(prob, (w0, h0), interpolation=cv2.INTER_LINEAR)
