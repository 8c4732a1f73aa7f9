"""trainer.training.evaluate: the evaluation folder (results.csv, samples.npz, probs/, metrics.json) and compute_validation."""
from __future__ import annotations

import csv
import json
import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainer.metrics import image as MI
from trainer.metrics import pixels as MP
from trainer.training.evaluate import compute_validation, evaluate_split
from trainer.runs.evaluation import load_samples
from trainer.runs.paths import prob_png_name, uncertainty_png_path
from trainer.metrics import centreline as C, crack_record as CR, tolerance as T, uncertainty as U

torch.set_num_threads(1)

H = W = 64


class TinyNet(nn.Module):
    """Same output contract as SegDecNet: (cls_logit [B], seg_logits [B,1,h,w]); ``scale=8`` mimics the 1/8 head."""

    def __init__(self, scale: int = 1, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.conv = nn.Conv2d(3, 1, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g) * 2)
            self.conv.bias.fill_(-1.0)
        self.scale = scale

    def forward(self, x):
        seg = self.conv(x)
        if self.scale > 1:
            seg = F.avg_pool2d(seg, self.scale)
        cls = seg.mean(dim=(1, 2, 3)) * 3 + seg.amax(dim=(1, 2, 3))
        return cls, seg


class _Rec:
    def __init__(self, name, label, split="test"):
        self.name, self.label, self.split = name, label, split


class FakeDataset(torch.utils.data.Dataset):
    """Same item contract as trainer.datasets.CrackDataset (random images, band-shaped cracks)."""

    def __init__(self, labels, segmented=None, seed=0, names=None):
        rng = np.random.default_rng(seed)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.is_segmented = np.ones(len(labels), bool) if segmented is None else np.asarray(segmented, bool)
        names = names or [f"img_{i:03d}" for i in range(len(labels))]
        self.records = [_Rec(n, int(lab)) for n, lab in zip(names, self.labels)]
        self.images, self.masks = [], []
        for lab, seg in zip(self.labels, self.is_segmented):
            img = rng.random((3, H, W)).astype(np.float32) * 0.5
            m = np.zeros((1, H, W), np.float32)
            if lab:
                r = int(rng.integers(8, H - 8))
                img[:, r - 2:r + 2, :] += 0.5
                if seg:
                    m[0, r - 2:r + 2, :] = 1
            self.images.append(img)
            self.masks.append(m)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return dict(image=torch.from_numpy(self.images[i]), mask=torch.from_numpy(self.masks[i]),
                    seg_weight=torch.ones(1, H, W), is_segmented=torch.tensor(bool(self.is_segmented[i])),
                    label=torch.tensor(float(self.labels[i])), index=i)


def _direct_probs(model, ds):
    """Reference computation without evaluate.py: fp32 forward, sigmoid, bilinear upsampling to H,W."""
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(len(ds)):
            cls, seg = model(ds[i]["image"][None])
            p = torch.sigmoid(seg.float())
            if p.shape[-2:] != (H, W):
                p = F.interpolate(p, size=(H, W), mode="bilinear", align_corners=False)
            out.append((float(torch.sigmoid(cls.float())[0]), p[0, 0].numpy()))
    return out


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_evaluate_split_writes_a_consistent_folder(tmp_path):
    labels = [1, 0, 1, 1, 0, 1, 0, 1]
    names = [f"test_positive/{i}" if lab else f"test_negative/{i}" for i, lab in enumerate(labels)]
    ds = FakeDataset(labels, names=names, seed=1)
    model = TinyNet()
    out = tmp_path / "ev"
    m = evaluate_split(model, ds, out, seg_threshold=0.3, device="cpu", precision="fp32",
                       honest=dict(image_threshold=0.55, seg_threshold=0.62), checkpoint="ckpt/best.pth")

    for f in ("results.csv", "samples.npz", "metrics.json"):
        assert (out / f).is_file(), f
    assert not list(out.glob("*.tmp*")), "temporary files left behind"
    # probs/<name>.png with '/' -> '__', 8-bit, input resolution, = round(p*255)
    direct = _direct_probs(model, ds)
    for name, (score, p) in zip(names, direct):
        png = out / "probs" / prob_png_name(name)
        assert png.name == name.replace("/", "__") + ".png" and png.is_file()
        img = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint8 and img.shape == (H, W)
        assert np.abs(img.astype(int) - np.rint(p * 255).astype(int)).max() <= 1

    s = load_samples(out)
    assert s["names"].tolist() == names
    assert s["labels"].dtype == np.int8 and s["labels"].tolist() == labels
    assert s["scores"].dtype == np.float32 and s["segmented"].dtype == bool
    assert s["hist_pos"].dtype == np.uint32 and s["hist_pos"].shape == (8, MP.B) == s["hist_neg"].shape
    assert s["hist_neg"].dtype == np.uint32 and s["max_prob"].dtype == np.float32
    assert np.all(s["hist_pos"].sum(1) + s["hist_neg"].sum(1) == H * W)
    for i, (score, p) in enumerate(direct):
        assert s["scores"][i] == pytest.approx(score, abs=1e-6)
        assert s["max_prob"][i] == pytest.approx(p.max(), abs=1e-6)
        gt = ds.masks[i][0] > 0.5
        hp, hn = MP.sample_histograms(p, gt)
        assert s["hist_pos"][i].sum() == gt.sum()
        # same histograms as a direct computation
        assert np.array_equal(hp, s["hist_pos"][i]) and np.array_equal(hn, s["hist_neg"][i])

    rows = _read_csv(out / "results.csv")
    assert list(rows[0].keys()) == ["name", "label", "score", "decision", "dice", "iou", "max_prob", "gt_pixels",
                                    "pred_pixels", "segmented", *CR.RESULTS_COLUMNS]
    k = MP.threshold_to_bin(0.3)
    dice, iou = MP.dice_iou_from_hist(s["hist_pos"], s["hist_neg"], k)
    for i, r in enumerate(rows):
        assert r["name"] == names[i] and int(r["label"]) == labels[i]
        assert float(r["dice"]) == pytest.approx(dice[i], rel=1e-8, abs=1e-12)
        assert float(r["iou"]) == pytest.approx(iou[i], rel=1e-8, abs=1e-12)
        assert int(r["gt_pixels"]) == int(s["hist_pos"][i].sum())
        assert int(r["pred_pixels"]) == int(s["hist_pos"][i, k:].sum() + s["hist_neg"][i, k:].sum())
        assert int(r["decision"]) == int(float(r["score"]) >= m["decision_threshold"])

    mj = json.loads((out / "metrics.json").read_text())
    assert mj == json.loads(json.dumps(m))
    for key in ("split", "n", "auc", "ap", "ap_sklearn", "best_threshold", "f_measure", "tp", "fp", "fn", "tn",
                "seg_threshold", "dice_mean", "dice_std", "iou_mean", "iou_std", "honest", "input_hw", "checkpoint",
                "undefined"):
        assert key in mj, key
    assert mj["split"] == "test" and mj["n"] == 8 and mj["input_hw"] == [H, W] and mj["checkpoint"] == "ckpt/best.pth"
    im = MI.image_metrics(s["labels"], s["scores"])
    for key in ("auc", "ap", "ap_sklearn", "best_threshold", "f_measure", "tp", "fp", "fn", "tn"):
        assert mj[key] == pytest.approx(im[key]), key
    assert mj["seg_threshold"] == 0.3 and mj["seg_threshold_applied"] == k / MP.B
    assert mj["dice_mean"] == pytest.approx(dice.mean()) and mj["dice_std"] == pytest.approx(np.std(dice))
    assert mj["iou_mean"] == pytest.approx(iou.mean()) and mj["iou_std"] == pytest.approx(np.std(iou))
    assert mj["decision_threshold"] == pytest.approx(im["best_threshold"])    # no image_threshold given
    assert mj["undefined"] == []
    # honest point: thresholds from validation applied here
    hm = MI.image_metrics(s["labels"], s["scores"], threshold=0.55)
    hd, hi = MP.dice_iou_from_hist(s["hist_pos"], s["hist_neg"], MP.threshold_to_bin(0.62))
    h = mj["honest"]
    assert h["image_threshold"] == 0.55 == h["decision_threshold"] and h["seg_threshold"] == 0.62
    assert (h["tp"], h["fp"], h["fn"], h["tn"]) == (hm["tp"], hm["fp"], hm["fn"], hm["tn"])
    assert h["f_measure"] == pytest.approx(hm["f_measure"])
    assert h["dice_mean"] == pytest.approx(hd.mean()) and h["iou_std"] == pytest.approx(np.std(hi))
    # gated block: samples classified negative predict nothing
    gate = s["scores"] >= mj["decision_threshold"]
    gd, _ = MP.dice_iou_from_hist(s["hist_pos"], s["hist_neg"], k, gate=gate)
    assert mj["gated"]["dice_mean"] == pytest.approx(gd.mean())
    assert "NaN" not in (out / "metrics.json").read_text()


def test_one_class_split_and_weak_positives(tmp_path):
    # only negatives: image metrics undefined (null), Dice still defined
    ds = FakeDataset([0, 0, 0], seed=2)
    m = evaluate_split(TinyNet(), ds, tmp_path / "neg", seg_threshold=0.5, write_maps=False)
    txt = (tmp_path / "neg" / "metrics.json").read_text()
    mj = json.loads(txt)
    assert "NaN" not in txt and mj["auc"] is None and mj["ap"] is None and mj["best_threshold"] is None
    assert {"auc", "ap", "ap_sklearn", "best_threshold"} <= set(mj["undefined"])
    assert mj["undefined_reason"] == "undefined: split has only negatives"
    assert mj["tp"] + mj["fp"] + mj["tn"] + mj["fn"] == 3 and mj["decision_threshold"] == 0.5
    assert mj["dice_mean"] is not None and not (tmp_path / "neg" / "probs").exists()
    assert m["n_negatives"] == 3

    # a weak positive (no mask) has no Dice: empty cells, excluded from the statistics
    ds = FakeDataset([1, 1, 0, 1], segmented=[True, False, True, True], seed=3)
    m = evaluate_split(TinyNet(), ds, tmp_path / "weak", seg_threshold=0.4, write_maps=False)
    rows = _read_csv(tmp_path / "weak" / "results.csv")
    assert rows[1]["dice"] == "" and rows[1]["iou"] == "" and rows[1]["segmented"] == "0"
    vals = [float(r["dice"]) for r in rows if r["dice"]]
    assert m["dice_n"] == 3 and m["dice_mean"] == pytest.approx(np.mean(vals))


def test_original_architecture_maps_are_upsampled(tmp_path):
    ds = FakeDataset([1, 0, 1], seed=4)
    model = TinyNet(scale=8)
    m = evaluate_split(model, ds, tmp_path / "o", seg_threshold=0.4, batch_size=2)
    s = load_samples(tmp_path / "o")
    assert np.all(s["hist_pos"].sum(1) + s["hist_neg"].sum(1) == H * W)
    direct = _direct_probs(model, ds)
    for i, (_, p) in enumerate(direct):
        img = cv2.imread(str(tmp_path / "o" / "probs" / prob_png_name(f"img_{i:03d}")), cv2.IMREAD_UNCHANGED)
        assert img.shape == (H, W)
        assert np.abs(img.astype(int) - np.rint(p * 255).astype(int)).max() <= 1
    assert m["input_hw"] == [H, W]


def test_compute_validation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ds = FakeDataset([1, 0, 1, 1, 0, 1], segmented=[True, True, True, False, True, True], seed=5)
    model = TinyNet()
    model.train()
    v2 = compute_validation(model, ds, dice_threshold=2, dice_threshold_factor=1)
    assert model.training, "training mode must be restored"
    assert list(tmp_path.iterdir()) == [], "compute_validation writes no files"
    direct = _direct_probs(model, ds)
    model.train()
    gts = [ds.masks[i][0] > 0.5 for i in range(len(ds))]
    hp = sum(MP.sample_histograms(p, g)[0] for (_, p), g in zip(direct, gts))
    hn = sum(MP.sample_histograms(p, g)[1] for (_, p), g in zip(direct, gts))
    t, f1 = MP.seg_threshold_pr(hp, hn)
    assert v2["seg_threshold"] == pytest.approx(t, abs=1.5 / MP.B) and v2["seg_f1"] == pytest.approx(f1, abs=1e-3)
    im = MI.image_metrics(ds.labels, [sc for sc, _ in direct])
    assert v2["ap"] == pytest.approx(im["ap"]) and v2["threshold"] == pytest.approx(im["best_threshold"], abs=1e-6)
    for key in ("auc", "ap", "ap_sklearn", "threshold", "f_measure", "tp", "fp", "fn", "tn", "seg_threshold",
                "dice_mean", "dice_std", "iou_mean", "iou_std", "val_loss_seg", "val_loss_dec", "val_loss"):
        assert key in v2 and v2[key] is not None, key
    # losses: unweighted BCE, seg over segmented samples only
    with torch.no_grad():
        model.eval()
        ls, ld = [], []
        for i in range(len(ds)):
            it = ds[i]
            cls, seg = model(it["image"][None])
            ld.append(float(F.binary_cross_entropy_with_logits(cls, it["label"][None])))
            if ds.is_segmented[i]:
                ls.append(float(F.binary_cross_entropy_with_logits(seg, it["mask"][None])))
        model.train()
    assert v2["val_loss_seg"] == pytest.approx(np.mean(ls), rel=1e-5)
    assert v2["val_loss_dec"] == pytest.approx(np.mean(ld), rel=1e-5)
    assert v2["val_loss"] == pytest.approx(np.mean(ls) + np.mean(ld), rel=1e-5)
    # Dice at the chosen threshold, all samples but the weak positive
    ks = MP.threshold_to_bin(v2["seg_threshold"])
    d = [MP.dice_iou_from_hist(*MP.sample_histograms(p, g), ks)[0] for (_, p), g in zip(direct, gts)]
    valid = MP.dice_valid(ds.labels, ds.is_segmented)
    assert v2["dice_mean"] == pytest.approx(np.mean(np.array(d)[valid]), abs=1e-3)

    # dice_threshold = 1: min over positives of the per-image maximum
    v1 = compute_validation(model, ds, dice_threshold=1)
    mins = min(p.max() for (sc, p), lab in zip(direct, ds.labels) if lab)
    assert v1["seg_threshold"] == pytest.approx(MP.bin_to_threshold(int(MP.prob_to_bin(mins))), abs=1.5 / MP.B)
    # pixel subsampling stride
    v10 = compute_validation(model, ds, dice_threshold=2, dice_threshold_factor=10)
    allp = np.concatenate([p.ravel() for _, p in direct])[::10]
    allg = np.concatenate([g.ravel() for g in gts])[::10]
    t10, _ = MP.seg_threshold_pr(*MP.sample_histograms(allp, allg))
    assert v10["seg_threshold"] == pytest.approx(t10, abs=1.5 / MP.B)
    with pytest.raises(Exception, match="dice_threshold"):
        compute_validation(model, ds, dice_threshold=3)


def test_with_crackdataset_and_segdecnet(tmp_path, synthetic_dataset):
    from trainer.training.dataset import CrackDataset
    from trainer.datasets.layouts import open_dataset
    from trainer.training.model import SegDecNet

    torch.manual_seed(0)
    index = open_dataset(synthetic_dataset)
    hw = (128, 64)     # the smallest size where SegDecNet's decision branch works
    ds = CrackDataset(index.split("test"), hw, train=False)
    model = SegDecNet(architecture="upsampling", input_height=hw[0], input_width=hw[1])
    m = evaluate_split(model, ds, tmp_path / "ev", seg_threshold=0.5, precision="bf16", channels_last=True,
                       batch_size=2)
    s = load_samples(tmp_path / "ev")
    assert s["names"].tolist() == [r.name for r in ds.records]
    assert s["labels"].tolist() == [r.label for r in ds.records]
    assert len(list((tmp_path / "ev" / "probs").glob("*.png"))) == len(ds)
    assert m["precision"] == "bf16" and m["n"] == len(ds) and m["split"] == "test" and m["input_hw"] == [128, 64]
    assert np.all(s["hist_pos"].sum(1) + s["hist_neg"].sum(1) == 128 * 64)
    assert all(math.isfinite(x) for x in s["scores"])
    v = compute_validation(model, ds, dice_threshold=2, precision="bf16")
    assert v["n"] == len(ds) and v["val_loss_dec"] > 0


def test_diverged_model_gives_a_clear_error(tmp_path):
    from trainer.errors import CrackError

    class NaNNet(TinyNet):
        def forward(self, x):
            cls, seg = super().forward(x)
            return cls * float("nan"), seg

    ds = FakeDataset([1, 0], seed=6)
    evaluate_split(TinyNet(), ds, tmp_path / "nan", seg_threshold=0.5, write_maps=False)
    assert (tmp_path / "nan" / "metrics.json").exists()
    with pytest.raises(CrackError, match="NaN or infinite outputs on 2 of 2 samples"):
        evaluate_split(NaNNet(), ds, tmp_path / "nan", seg_threshold=0.5, write_maps=False)
    # metrics.json marks a complete folder: the previous one is gone, no half-new folder looks complete
    assert not (tmp_path / "nan" / "metrics.json").exists()
    with pytest.raises(CrackError, match="diverged"):
        compute_validation(NaNNet(), ds)


def test_prob_png_name_and_load_samples_errors(tmp_path):
    from trainer.errors import DataError

    assert prob_png_name("train_positive/12") == "train_positive__12.png"
    assert prob_png_name("a\\b") == "a__b.png" and prob_png_name("crack 1") == "crack 1.png"
    with pytest.raises(DataError, match="no samples.npz"):
        load_samples(tmp_path)
    (tmp_path / "samples.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="samples.npz"):
        load_samples(tmp_path)


def _brute_tolerance_prf(p, gt, t, tol):
    """Tolerance precision/recall by explicit distances (independent of the histogram route)."""
    pred = MP.prob_to_bin(p) >= MP.threshold_to_bin(t)
    gy, gx = np.nonzero(gt)
    py, px = np.nonzero(pred)
    if len(gy) == 0 or len(py) == 0:
        return None
    d = np.sqrt((py[:, None] - gy[None]) ** 2 + (px[:, None] - gx[None]) ** 2)
    precision = float((d.min(axis=1) <= tol).mean())
    recall = float((d.min(axis=0) <= tol).mean())
    return precision, recall


def test_crack_metrics_in_the_evaluation_folder(tmp_path):
    labels = [1, 0, 1, 1, 0, 1]
    ds = FakeDataset(labels, seed=3)
    model = TinyNet(seed=2)
    out = tmp_path / "ev"
    m = evaluate_split(model, ds, out, seg_threshold=0.4, device="cpu", precision="fp32", tolerance_px=2,
                       temperature=dict(image=2.0, pixel=0.5, fitted_on="val"))
    s = load_samples(out)
    CR.check_samples(s)                         # crack arrays present and shaped like hist_pos
    for key in CR.METRICS_KEYS:
        assert key in m, key
    assert m["tolerance_px"] == 2 and m["cldice_threshold"] == MP.snap_threshold(0.4)
    assert 0 <= m["ods_f1"] <= 1 and 0 <= m["ois_f1"] <= 1 and m["ois_f1"] >= m["ods_f1"] - 1e-9
    assert m["temperature"]["image"] == 2.0 and m["ece_image"] != m["ece_image_raw"]
    assert set(m["reliability"]) == {"image", "pixel"}
    rows = _read_csv(out / "results.csv")
    direct = _direct_probs(model, ds)
    for i, (row, (_, p)) in enumerate(zip(rows, direct)):
        gt = ds.masks[i][0] > 0.5
        bf = _brute_tolerance_prf(p, gt, 0.4, 2)
        if bf is not None:
            assert float(row["precision_tol"]) == pytest.approx(bf[0], abs=1e-9)
            assert float(row["recall_tol"]) == pytest.approx(bf[1], abs=1e-9)
        if gt.any():
            assert float(row["cldice"]) == pytest.approx(C.cldice(p, gt, 0.4), abs=1e-9)
        if not gt.any() and int(row["pred_pixels"]) == 0:
            assert float(row["dice_empty_ok"]) == 1.0
        if int(row["pred_pixels"]) and not (MP.prob_to_bin(p)[gt] >= MP.threshold_to_bin(0.4)).any():
            assert row["dice"] in ("0.0", "")          # no TP: exactly 0, never 4.76e-17


def test_flip_tta_writes_uncertainty_maps(tmp_path):
    ds = FakeDataset([1, 0, 1], seed=4)
    model = TinyNet(seed=5)
    out = tmp_path / "ev"
    m = evaluate_split(model, ds, out, seg_threshold=0.5, device="cpu", precision="fp32", tta=True, cldice=False)
    assert m["tta"] is True
    s = load_samples(out)
    assert s["uncertainty"].shape == (3,) and s["uncertainty"].dtype == np.float32
    model.eval()
    for i in range(3):
        img = ds[i]["image"].numpy()
        with torch.no_grad():
            r = U.flip_tta(img, predict_batch=lambda v: torch.sigmoid(model(torch.from_numpy(v))[1])[:, 0].numpy(),
                           hw_axes=(-2, -1))
        png = uncertainty_png_path(out, ds.records[i].name)
        assert png.parent.name == "uncertainty" and png.is_file()
        u8 = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        assert u8.dtype == np.uint8 and np.abs(u8.astype(int) - U.uncertainty_to_u8(r.uncertainty).astype(int)).max() <= 1
        assert s["uncertainty"][i] == pytest.approx(U.uncertainty_score(r.uncertainty), abs=1e-5)
        prob = cv2.imread(str(out / "probs" / prob_png_name(ds.records[i].name)), cv2.IMREAD_UNCHANGED)
        assert np.abs(prob.astype(int) - np.rint(r.mean * 255).astype(int)).max() <= 1
    assert "uncertainty" in _read_csv(out / "results.csv")[0]
