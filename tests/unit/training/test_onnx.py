"""ONNX export with dynamic height and width: torch and onnxruntime agree within 1e-4.

CI exports a small network built from SegDecNet's own layers (FeatureNorm, gradient multiply, the float32 logit head,
pooling and upsampling) in seconds; the real SegDecNet on real crack images takes minutes to export on a CPU and runs
only with ``CRACKVIEWER_SLOW=1``."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="onnxruntime is the optional extra 'onnx' (pip install crackviewer[onnx])")
pytest.importorskip("onnxscript", reason="the torch.export ONNX exporter needs onnxscript")

from trainer.datasets.images import read_image  # noqa: E402
from trainer.training.layers import ConvBlock, GradientMultiplyLayer, LogitHead  # noqa: E402
from trainer.training.model import SegDecNet  # noqa: E402
from trainer.training.onnx_export import OnnxPredictor, check_onnx, export_onnx  # noqa: E402

slow = pytest.mark.skipif(os.environ.get("CRACKVIEWER_SLOW") != "1",
                          reason="the real SegDecNet export takes minutes on a CPU: set CRACKVIEWER_SLOW=1")


class SmallNet(torch.nn.Module):
    """SegDecNet's pieces in miniature: (decision logit [B], segmentation logits [B, 1, H, W])."""

    def __init__(self):
        super().__init__()
        self.a, self.b = ConvBlock(3, 4, 3), ConvBlock(4, 4, 3)
        self.head, self.grad = LogitHead(4, 3), GradientMultiplyLayer(0.0)

    def forward(self, x):
        f = self.a(x)
        g = torch.nn.functional.interpolate(self.b(torch.nn.functional.max_pool2d(f, 2)), size=x.shape[-2:],
                                            mode="bilinear", align_corners=False)
        seg = self.head(f + g)
        return self.grad(g).mean(dim=(1, 2, 3)) + seg.amax(dim=(1, 2, 3)), seg


def test_small_network_exports_with_dynamic_size_and_agrees(tmp_path):
    torch.manual_seed(0)
    model = SmallNet().eval()
    path = export_onnx(model, tmp_path / "small.onnx", (64, 64))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.onnx"]  # one file, no temp left
    assert check_onnx(model, path, (64, 96)) <= 1e-4
    img = np.random.default_rng(0).integers(0, 255, (3, 120, 200, 3), np.uint8)
    x = img.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    with torch.inference_mode():
        cls, seg = model(torch.from_numpy(x))
    ocls, oseg = OnnxPredictor(path).raw(x)
    np.testing.assert_allclose(oseg, seg.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(ocls, cls.numpy(), atol=1e-4, rtol=0)
from trainer.training.sliding import ArraySource, ArrayWriter, TorchPredictor, sliding_predict  # noqa: E402


# the real data beside the project (../shared/data/cracks), or where CRACKVIEWER_CRACKS points (a git worktree)
CRACKS = Path(os.environ.get("CRACKVIEWER_CRACKS", Path(__file__).resolve().parents[3].parent / "shared/data/cracks"))


@pytest.fixture(scope="module")
def real_images():
    folder = CRACKS / "images"
    paths = sorted(folder.iterdir())[:3] if folder.is_dir() else []
    if len(paths) < 3:
        pytest.skip(f"needs 3 real crack images in {folder} (set CRACKVIEWER_CRACKS to the dataset folder)")
    return [read_image(p) for p in paths]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    model = SegDecNet(input_height=128, input_width=128).eval()  # the real architecture, untrained
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "model.onnx", (128, 128))
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.onnx"]  # one file, the weights inside
    assert path.stat().st_size > 4 * sum(p.numel() for p in model.parameters()) * 0.9
    return model, OnnxPredictor(path)


def _crop(img, h, w):
    if img.shape[0] < h or img.shape[1] < w:
        pytest.skip(f"real image {img.shape[1]}x{img.shape[0]} is smaller than {w}x{h}")
    return img[:h, :w]


@slow
@pytest.mark.parametrize("hw", [(128, 128), (192, 256)])
def test_torch_and_onnxruntime_agree_on_real_images(real_images, exported, hw):
    model, ort_pred = exported
    x = np.stack([_crop(im, *hw) for im in real_images]).transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    with torch.inference_mode():
        cls, seg = model(torch.from_numpy(x))
    ocls, oseg = ort_pred.raw(x)
    assert oseg.shape == tuple(seg.shape) and ocls.shape == tuple(cls.shape)
    np.testing.assert_allclose(ocls, cls.numpy(), atol=1e-4, rtol=0)
    np.testing.assert_allclose(oseg, seg.numpy(), atol=1e-4, rtol=0)


@slow
def test_onnxruntime_backend_runs_the_sliding_predictor(real_images, exported):
    model, ort_pred = exported
    img = _crop(real_images[0], 300, 400)
    a = sliding_predict(ArraySource(img), TorchPredictor(model), (128, 128), writer=ArrayWriter(np.float32))
    b = sliding_predict(ArraySource(img), ort_pred, (128, 128), writer=ArrayWriter(np.float32))
    np.testing.assert_allclose(b["writer"].array, a["writer"].array, atol=1e-4, rtol=0)
    assert b["score"] == pytest.approx(a["score"], abs=1e-4)


def test_export_command_wants_an_onnx_file_name(tmp_path, capsys):
    from trainer.cli import main

    assert main(["export", str(tmp_path), "--onnx", str(tmp_path / "model.txt")]) == 1
    assert "must end in .onnx" in capsys.readouterr().err


@slow
def test_export_command_writes_a_checked_onnx_file(tmp_path, capsys):
    from trainer.cli import main
    from trainer.config import DEFAULTS, save_config
    from trainer.training.checkpoint import save_checkpoint

    torch.manual_seed(0)
    run = tmp_path / "run"
    cfg = dict(DEFAULTS, input_height=128, input_width=128, device="cpu", precision="fp32")
    model = SegDecNet(input_height=128, input_width=128)
    save_checkpoint(run / "checkpoints" / "final.pth", {"model": model.state_dict(), "config": cfg,
                                                         "meta": {"input_height": 128, "input_width": 128}})
    save_config(cfg, run / "config.toml")
    assert main(["export", str(run), "--onnx", str(tmp_path / "m.onnx")]) == 0
    assert "onnxruntime agrees with torch within" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "run"]
