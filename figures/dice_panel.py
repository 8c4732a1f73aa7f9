"""The per-sample Dice picture: image, ground truth and predicted mask side by side, drawn on a QImage.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QImage, QPainter, QPen
import cv2
import numpy as np

from figures import colors
from figures.plots import TEXT, font
from figures.qimage import array_to_qimage
from trainer.metrics.pixels import prob_to_bin, threshold_to_bin


def predicted_mask(prob: np.ndarray, threshold: float) -> np.ndarray:
    """bool mask with the evaluation contract's rule (trainer.metrics.pixels): crack when bin(p) >= k, the threshold
    snapped up to its bin edge. ``prob`` is float in [0,1] or uint8 (v/255)."""
    p = prob.astype(np.float64) / 255.0 if prob.dtype == np.uint8 else prob.astype(np.float64)
    return prob_to_bin(p) >= threshold_to_bin(threshold)


def _fit(a: np.ndarray, hw: tuple[int, int], nearest: bool) -> np.ndarray:
    if a.shape[:2] == hw:
        return a


    interp = cv2.INTER_NEAREST if nearest else (cv2.INTER_AREA if a.shape[0] > hw[0] else cv2.INTER_LINEAR)
    return cv2.resize(a, (hw[1], hw[0]), interpolation=interp)


def dice_panel(image_rgb: np.ndarray, gt: np.ndarray, prob: np.ndarray, threshold: float, dice: float | None,
               iou: float | None, header: str | None = None, panel: int | None = None) -> QImage:
    """Five panels of one sample: Image (caption "Threshold: t"), Groundtruth, Segmentation (probability, gray 0-1,
    caption IoU), Segmentation mask (caption Dice), Overlap (TP/FP/FN in colour-blind-safe colours, legend).

    Arrays are aligned to the probability map's size (the model input). `panel` = displayed long side in pixels
    (default: the map's size, clamped to 256..448, integer upscaling for small maps)."""
    p = prob.astype(np.float32) / 255.0 if prob.dtype == np.uint8 else np.clip(prob.astype(np.float32), 0, 1)
    if p.ndim == 3:
        p = p[..., 0]
    h, w = p.shape
    img = image_rgb
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = _fit(np.ascontiguousarray(img[..., :3]).astype(np.uint8), (h, w), nearest=False)
    g = _fit((np.asarray(gt) > 0).astype(np.uint8), (h, w), nearest=True) > 0
    pred = predicted_mask(prob if prob.dtype == np.uint8 else p, threshold)

    gray = (img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    over = np.repeat((150 + gray * (105 / 255)).astype(np.uint8)[..., None], 3, axis=2)  # pale image
    over[g & pred] = colors.TP
    over[pred & ~g] = colors.FP
    over[g & ~pred] = colors.FN
    gt_u8 = (g * 255).astype(np.uint8)
    prob_u8 = np.round(p * 255).astype(np.uint8)
    pred_u8 = (pred * 255).astype(np.uint8)
    panels = [
        ("Image", img, f"Threshold: {threshold:.4f}", True),
        ("Groundtruth", gt_u8, f"{int(g.sum())} crack pixels", False),
        ("Segmentation", prob_u8, f"IoU: {iou:.3f}" if iou is not None else "IoU: n/a", False),
        ("Segmentation mask", pred_u8, f"Dice: {dice:.3f}" if dice is not None else "Dice: n/a", False),
        ("Overlap", over, None, False),
    ]
    long_side = max(h, w)
    if panel is None:
        panel = long_side * max(1, math.ceil(256 / long_side)) if long_side < 256 else min(long_side, 448)
    s = panel / long_side
    pw, ph = max(1, round(w * s)), max(1, round(h * s))
    gap, margin = 14, 12
    head = 30 if header else 0
    title_h, cap_h = 28, 28
    W = margin * 2 + 5 * pw + 4 * gap
    H = margin + head + title_h + ph + cap_h + margin
    out = QImage(W, H, QImage.Format_RGB32)
    out.fill(QColor("white"))
    qp = QPainter(out)
    qp.setRenderHint(QPainter.TextAntialiasing, True)
    if header:
        qp.setPen(QColor(TEXT))
        qp.setFont(font(12, True))
        fm = QFontMetrics(qp.font())
        qp.drawText(QRectF(margin, margin - 4, W - 2 * margin, head), Qt.AlignLeft | Qt.AlignVCenter,
                    fm.elidedText(header, Qt.ElideRight, int(W - 2 * margin)))
    title_font, cap_font = font(12, True), font(11)
    y_img = margin + head + title_h
    for i, (title, arr, cap, smooth) in enumerate(panels):
        x = margin + i * (pw + gap)
        qp.setFont(title_font)
        qp.setPen(QColor(TEXT))
        qp.drawText(QRectF(x, margin + head, pw, title_h), Qt.AlignHCenter | Qt.AlignVCenter, title)
        qp.setRenderHint(QPainter.SmoothPixmapTransform, smooth and s < 1)
        qp.drawImage(QRectF(x, y_img, pw, ph), array_to_qimage(np.ascontiguousarray(arr)))
        qp.setPen(QPen(QColor(190, 190, 190), 1))
        qp.setBrush(Qt.NoBrush)
        qp.drawRect(QRectF(x - 0.5, y_img - 0.5, pw + 1, ph + 1))
        qp.setFont(cap_font)
        qp.setPen(QColor(TEXT))
        if cap is not None:
            qp.drawText(QRectF(x, y_img + ph, pw, cap_h), Qt.AlignHCenter | Qt.AlignVCenter, cap)
        else:  # legend under the overlap panel
            fm = QFontMetrics(cap_font)
            items = colors.ERROR_LEGEND
            total = sum(16 + 5 + fm.horizontalAdvance(lbl) + 12 for lbl, _ in items) - 12
            lx = x + (pw - total) / 2
            cy = y_img + ph + cap_h / 2
            for lbl, rgb in items:
                qp.setPen(QPen(QColor(*rgb).darker(130), 1))
                qp.setBrush(QBrush(QColor(*rgb)))
                qp.drawRect(QRectF(lx, cy - 6, 16, 12))
                qp.setPen(QColor(TEXT))
                qp.drawText(QPointF(lx + 21, cy + fm.ascent() / 2 - 1), lbl)
                lx += 16 + 5 + fm.horizontalAdvance(lbl) + 12
    qp.end()
    return out
