"""SegDecNet: parameter counts, shapes, FeatureNorm maths, gradient-flow adjustment, precision, bad sizes."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainer.errors import ConfigError
from trainer.training.layers import FeatureNorm, GradientMultiply, GradientMultiplyLayer, feature_norm_reference
from trainer.training.model import SegDecNet
from trainer.training.summary import count_parameters, flops_per_image, model_summary

# most tests use 64x64 inputs to stay fast; the decision-extractor warning for them is tested once, explicitly
pytestmark = pytest.mark.filterwarnings("ignore:SegDecNet.*single pixel:UserWarning")


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(old)


def _losses(cls, seg, label=1.0):
    target_cls = torch.full_like(cls, label)
    target_seg = torch.zeros_like(seg)
    target_seg[..., seg.shape[-2] // 4: seg.shape[-2] // 2, :] = label
    return (F.binary_cross_entropy_with_logits(cls, target_cls),
            F.binary_cross_entropy_with_logits(seg, target_seg))


# ---------------------------------------------------------------------------------------------------------------
# parameter counts (spec section 1.5)
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("architecture, expected", [("original", 15_638_813), ("upsampling", 16_151_837)])
def test_parameter_count_matches_spec(architecture, expected):
    model = SegDecNet(architecture, input_height=64, input_width=64)
    assert count_parameters(model) == expected
    # counts do not depend on the input size or the decision pooling
    assert count_parameters(SegDecNet(architecture, "max", input_height=448, input_width=232)) == expected


def test_parameter_count_parts():
    orig = SegDecNet("original", input_height=64, input_width=64)
    encoder = sum(count_parameters(getattr(orig, s)) for s in ("stage1", "stage2", "stage3", "stage4"))
    assert encoder == 15_416_608
    assert orig.stage4[1].conv.weight.numel() == 14_745_600  # the 15x15 64->1024 conv
    assert count_parameters(orig.seg_head) == 1_026
    assert count_parameters(orig.decision) == 221_112
    assert count_parameters(orig.fc) == 67
    up = SegDecNet("upsampling", input_height=64, input_width=64)
    assert [count_parameters(getattr(up, n)) for n in ("up1", "up2", "up3", "seg_head")] == [441_648, 57_744,
                                                                                             14_456, 202]
    assert count_parameters(SegDecNet("upsampling", skip_convs=True)) == 16_151_837 + 9_536


def test_conv_init_is_xavier_normal_and_featurenorm_starts_at_identity():
    model = SegDecNet("original", input_height=64, input_width=64)
    w = model.stage4[1].conv.weight  # 1024 x 64 x 15 x 15: big enough for a stable std
    fan_in, fan_out = 64 * 225, 1024 * 225
    assert w.std().item() == pytest.approx((2.0 / (fan_in + fan_out)) ** 0.5, rel=0.02)
    assert abs(w.mean().item()) < 1e-4
    norm = model.stage4[1].norm
    assert torch.equal(norm.scale, torch.ones(1, 1024, 1, 1)) and torch.equal(norm.bias, torch.zeros(1, 1024, 1, 1))


# ---------------------------------------------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("architecture", ["original", "upsampling"])
@pytest.mark.parametrize("hw", [(64, 64), (96, 64), (64, 128)])
def test_output_shapes(architecture, hw):
    h, w = hw
    model = SegDecNet(architecture, input_height=h, input_width=w)
    cls, seg = model(torch.rand(2, 3, h, w))
    assert cls.shape == (2,)
    expected = (2, 1, h, w) if architecture == "upsampling" else (2, 1, h // 8, w // 8)
    assert seg.shape == expected
    assert cls.dtype == seg.dtype == torch.float32
    assert torch.isfinite(cls).all() and torch.isfinite(seg).all()


def test_single_channel_input():
    model = SegDecNet("original", in_channels=1, input_height=64, input_width=64)
    cls, seg = model(torch.rand(1, 1, 64, 64))
    assert cls.shape == (1,) and seg.shape == (1, 1, 8, 8)


def test_batch_items_are_independent():
    """FeatureNorm has no batch statistics: a sample's outputs do not depend on the other samples in the batch."""
    model = SegDecNet("upsampling", input_height=64, input_width=64)
    x = torch.rand(3, 3, 64, 64)
    cls_b, seg_b = model(x)
    cls_1, seg_1 = model(x[1:2])
    torch.testing.assert_close(cls_b[1:2], cls_1, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(seg_b[1:2], seg_1, rtol=1e-4, atol=1e-4)


def test_model_summary_rows():
    model = SegDecNet("upsampling", input_height=448, input_width=448)
    rows = model_summary(model, (448, 448))
    by_name = {r["name"]: r for r in rows}
    assert set(rows[0]) == {"name", "type", "out_shape", "params"}
    assert rows[0]["out_shape"] == (1, 3, 448, 448)
    assert by_name["stage4"]["out_shape"] == (1, 1024, 56, 56)
    assert by_name["up1"]["out_shape"] == (1, 16, 112, 112)
    assert by_name["up3"]["out_shape"] == (1, 8, 448, 448)
    assert by_name["seg_pool"]["out_shape"] == (1, 1, 56, 56)
    assert by_name["decision"]["out_shape"] == (1, 32, 7, 7)
    assert by_name["seg_logits"]["out_shape"] == (1, 1, 448, 448)
    assert sum(r["params"] for r in rows) == 16_151_837
    orig = {r["name"]: r for r in model_summary(SegDecNet("original"), (96, 64))}
    assert orig["seg_head"]["out_shape"] == (1, 1, 12, 8)
    # the summary runs on a meta copy and leaves the model untouched
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_flops_per_image():
    model = SegDecNet("original", input_height=64, input_width=64)
    fwd = flops_per_image(model, (448, 448), train=False)
    # the 15x15 64->1024 conv at 56x56 dominates: 2 * 64*1024*225 * 56*56 FLOPs
    big = 2 * 64 * 1024 * 225 * 56 * 56
    assert big < fwd < 1.5 * big
    train = flops_per_image(model, (448, 448), train=True)
    assert 2.5 * fwd < train < 3.1 * fwd
    assert flops_per_image(SegDecNet("upsampling"), (448, 448), train=False) > fwd
    assert all(p.grad is None for p in model.parameters())


# ---------------------------------------------------------------------------------------------------------------
# FeatureNorm
# ---------------------------------------------------------------------------------------------------------------
def test_featurenorm_matches_hand_computation():
    torch.manual_seed(1)
    fn = FeatureNorm(3, eps=1e-3)
    with torch.no_grad():
        fn.scale.copy_(torch.tensor([0.5, 1.0, 2.0]).view(1, 3, 1, 1))
        fn.bias.copy_(torch.tensor([0.1, -0.2, 0.3]).view(1, 3, 1, 1))
    x = torch.randn(2, 3, 4, 5) * 3 + 1
    y = fn(x).detach()
    for b in range(2):
        for c in range(3):
            vals = [float(v) for v in x[b, c].flatten()]
            n = len(vals)
            mean = sum(vals) / n
            std = (sum((v - mean) ** 2 for v in vals) / (n - 1)) ** 0.5  # unbiased
            denom = (std + 1e-3) ** 0.5  # the reference's sqrt(std + eps) quirk
            for i, v in enumerate(vals):
                expected = float(fn.scale[0, c].detach()) * (v - mean) / denom + float(fn.bias[0, c].detach())
                assert float(y[b, c].flatten()[i]) == pytest.approx(expected, rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_featurenorm_forward_and_backward_match_plain_autograd(channels_last):
    torch.manual_seed(4)
    fn = FeatureNorm(3).double()
    with torch.no_grad():
        fn.scale.normal_()
        fn.bias.normal_()
    x = torch.randn(2, 3, 6, 5, dtype=torch.float64) * 2 + 0.5
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    y = fn(x)
    y_ref = feature_norm_reference(x, fn.scale, fn.bias)
    torch.testing.assert_close(y, y_ref, rtol=1e-10, atol=1e-10)
    dy = torch.randn_like(y)
    grads = torch.autograd.grad(y, (x, fn.scale, fn.bias), dy)
    grads_ref = torch.autograd.grad(y_ref, (x, fn.scale, fn.bias), dy)
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, rtol=1e-8, atol=1e-10)
    assert torch.autograd.gradcheck(lambda t: fn(t), (x,))


def test_featurenorm_single_pixel_is_finite_and_bf16_in_fp32():
    fn = FeatureNorm(2)
    y = fn(torch.randn(1, 2, 1, 1))
    assert torch.isfinite(y).all() and torch.equal(y, torch.zeros_like(y))  # x == mean -> bias
    x = torch.randn(1, 2, 8, 8) * 100 + 1000
    y16 = fn(x.to(torch.bfloat16))
    assert y16.dtype == torch.bfloat16
    ref = fn(x.to(torch.bfloat16).float())  # same input values, computed in fp32
    torch.testing.assert_close(y16.float(), ref, rtol=1e-2, atol=2e-2)
    assert FeatureNorm(1, return_fp32=True)(x[:, :1].to(torch.bfloat16)).dtype == torch.float32


# ---------------------------------------------------------------------------------------------------------------
# gradient multiply and gradient-flow adjustment (spec section 2.4)
# ---------------------------------------------------------------------------------------------------------------
def test_gradient_multiply_function():
    x = torch.randn(4, requires_grad=True)
    y = GradientMultiply.apply(x, 0.25)
    assert torch.equal(y, x)
    y.sum().backward()
    assert torch.equal(x.grad, torch.full((4,), 0.25))
    x.grad = None
    GradientMultiply.apply(x, 0.0).mul(float("inf")).sum().backward()  # a bad upstream grad never leaks through 0
    assert torch.equal(x.grad, torch.zeros(4))
    layer = GradientMultiplyLayer(3.0)
    x.grad = None
    layer(x).sum().backward()
    assert torch.equal(x.grad, torch.full((4,), 3.0))


def _grads_after(model, loss_kind):
    model.zero_grad(set_to_none=True)
    cls, seg = model(torch.rand(1, 3, 128, 64))
    loss_cls, loss_seg = _losses(cls, seg)
    (loss_cls if loss_kind == "cls" else loss_seg).backward()
    seg_grads = [p.grad for p in model.segmentation_parameters()]
    dec_grads = [p.grad for p in model.decision_parameters()]
    return seg_grads, dec_grads


def _is_zero(g):
    return g is None or not g.abs().sum().item()


@pytest.mark.parametrize("architecture", ["original", "upsampling"])
def test_gradient_adjustment_blocks_classification_gradient(architecture):
    model = SegDecNet(architecture, input_height=128, input_width=64)
    # the split of parameters covers all of them
    n_seg = sum(p.numel() for p in model.segmentation_parameters())
    n_dec = sum(p.numel() for p in model.decision_parameters())
    assert n_seg + n_dec == count_parameters(model) and n_dec == 221_112 + 67

    model.set_gradient_multiplier(0.0)
    seg_grads, dec_grads = _grads_after(model, "cls")
    assert all(_is_zero(g) for g in seg_grads), "classification loss reached the segmentation subnetwork"
    assert all(g is not None for g in dec_grads)
    for conv in (model.decision[1].conv, model.decision[3].conv, model.decision[5].conv, model.fc):
        assert conv.weight.grad.abs().sum().item() > 0

    model.set_gradient_multiplier(1.0)
    seg_grads, _ = _grads_after(model, "cls")
    enc = [model.stage1.conv.weight.grad, model.stage3[1].conv.weight.grad, model.stage4[1].conv.weight.grad]
    assert all(g is not None and g.abs().sum().item() > 0 for g in enc)
    assert sum(not _is_zero(g) for g in seg_grads) > len(seg_grads) // 2

    # the segmentation loss trains the encoder (and decoder) whatever the multiplier
    model.set_gradient_multiplier(0.0)
    seg_grads, dec_grads = _grads_after(model, "seg")
    assert model.stage1.conv.weight.grad.abs().sum().item() > 0
    assert model.seg_head.conv.weight.grad.abs().sum().item() > 0
    assert all(_is_zero(g) for g in dec_grads)


def test_gradient_multiplier_scales_classification_gradient():
    torch.manual_seed(2)
    model = SegDecNet("original", input_height=64, input_width=64)
    x = torch.rand(1, 3, 64, 64)
    grads = {}
    for m in (1.0, 0.5):
        model.zero_grad(set_to_none=True)
        model.set_gradient_multiplier(m)
        cls, _ = model(x)
        F.binary_cross_entropy_with_logits(cls, torch.ones_like(cls)).backward()
        grads[m] = model.stage2[1].conv.weight.grad.clone()
    assert model.gradient_multiplier == 0.5
    torch.testing.assert_close(grads[0.5], 0.5 * grads[1.0], rtol=1e-4, atol=1e-9)


# ---------------------------------------------------------------------------------------------------------------
# pooling, precision, memory format
# ---------------------------------------------------------------------------------------------------------------
def test_decision_pooling_max_and_avg_differ():
    x = torch.rand(1, 3, 128, 64)
    torch.manual_seed(5)
    avg = SegDecNet("upsampling", "avg", input_height=128, input_width=64)
    torch.manual_seed(5)
    mx = SegDecNet("upsampling", "max", input_height=128, input_width=64)
    assert isinstance(avg.seg_pool, torch.nn.AvgPool2d) and isinstance(mx.seg_pool, torch.nn.MaxPool2d)
    seen = {}
    for name, model in (("avg", avg), ("max", mx)):
        hook = model.decision.register_forward_hook(lambda mod, inp, out, _n=name: seen.__setitem__(_n, inp[0]))
        seen[name + "_out"] = model(x)
        hook.remove()
    seg_a, seg_m = seen["avg_out"][1], seen["max_out"][1]
    torch.testing.assert_close(seg_a, seg_m)  # same weights: same full-resolution segmentation
    # the decision branch gets [1024 features, seg logits pooled by 8 with the chosen pooling]
    assert seen["avg"].shape == (1, 1025, 16, 8)
    torch.testing.assert_close(seen["avg"][:, 1024:], F.avg_pool2d(seg_a, 8))
    torch.testing.assert_close(seen["max"][:, 1024:], F.max_pool2d(seg_m, 8))
    torch.testing.assert_close(seen["avg"][:, :1024], seen["max"][:, :1024])
    assert not torch.allclose(seen["avg"][:, 1024:], seen["max"][:, 1024:])
    for model in (avg, mx):
        cls, seg = model(x)
        sum(_losses(cls, seg)).backward()
        assert model.decision[1].conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("architecture", ["original", "upsampling"])
def test_bf16_autocast_channels_last_forward_backward(architecture):
    torch.manual_seed(3)
    model = SegDecNet(architecture, input_height=64, input_width=64).to(memory_format=torch.channels_last)
    model.set_gradient_multiplier(0.0)
    x = torch.rand(2, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        cls, seg = model(x)
        loss_cls, loss_seg = _losses(cls, seg)
        loss = loss_seg + 0.01 * loss_cls
    assert cls.dtype == torch.float32 and seg.dtype == torch.float32
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in model.parameters())
    assert model.stage4[1].conv.weight.grad.abs().sum() > 0
    before = model.fc.weight.detach().clone()
    opt.step()
    assert not torch.equal(before, model.fc.weight)
    # close to the fp32 result on the same weights
    with torch.no_grad():
        cls32, seg32 = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            cls16, seg16 = model(x)
    assert torch.corrcoef(torch.stack([seg32.flatten(), seg16.flatten()]))[0, 1] > 0.95


# ---------------------------------------------------------------------------------------------------------------
# bad configuration
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("h, w, words", [(100, 64, "divisible by 8"), (64, 450, "divisible by 8"),
                                         (56, 64, "too small"), (64, 32, "too small")])
def test_bad_input_size_raises_config_error(h, w, words):
    with pytest.raises(ConfigError, match=words):
        SegDecNet("upsampling", input_height=h, input_width=w)


def test_tiny_input_warns_that_the_decision_extractor_is_degenerate():
    with pytest.warns(UserWarning, match="single pixel"):
        model = SegDecNet("original", input_height=64, input_width=96)
    model.set_gradient_multiplier(1.0)
    cls, _ = model(torch.rand(1, 3, 64, 96))
    cls.sum().backward()
    assert model.decision[1].conv.weight.grad.abs().sum() == 0  # the 1x1 map normalises to a constant
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SegDecNet("original", input_height=128, input_width=64)


def test_bad_options_raise_config_error():
    with pytest.raises(ConfigError, match="architecture"):
        SegDecNet("unet", input_height=64, input_width=64)
    with pytest.raises(ConfigError, match="decision_pooling"):
        SegDecNet("upsampling", "median", input_height=64, input_width=64)
    model = SegDecNet("original", input_height=64, input_width=64)
    with pytest.raises(ConfigError, match="divisible by 8"):
        model(torch.rand(1, 3, 68, 64))
    with pytest.raises(ConfigError, match="input channels"):
        model(torch.rand(1, 1, 64, 64))
    with pytest.raises(ConfigError, match="input_hw"):
        model_summary(model, (63, 64))
