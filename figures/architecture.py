"""The architecture figure: SegDecNet's layers as a QPainter diagram (from trainer.training.summary.model_summary rows).
"""
from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QImage, QPainter, QPainterPath, QPen, QPolygonF

from figures import colors
from figures.plots import TEXT, font


ROLE_COLOURS = {
    "input/output": (170, 170, 170),
    "encoder": colors.CURVE_A,
    "decoder": colors.PRED,
    "decision": colors.WIN,
    "other": colors.FP,
}


def _role(row: dict) -> str:
    name, typ = str(row.get("name", "")).lower(), str(row.get("type", "")).lower()
    if typ in ("input", "output") or name in ("input", "output", "cls_logit", "seg_logits"):
        return "input/output"
    if any(k in name for k in ("decision", "fc", "pool", "cls")) or typ in ("linear",):
        return "decision"
    if any(k in name for k in ("up", "head", "dec", "seg")):
        return "decoder"
    if any(k in name for k in ("stage", "enc", "conv", "block", "layer")):
        return "encoder"
    return "other"


def _dims(shape: Any) -> tuple[int, ...]:
    """Drop the batch dimension: (1, C, H, W) -> (C, H, W); (1, 1) -> (1,); (1,) -> (1,)."""
    if shape is None:
        return ()
    s = tuple(int(v) for v in shape)
    return s[1:] if len(s) >= 2 else s


def _fmt_params(n: int) -> str:
    if n <= 0:
        return "no parameters"
    if n < 1000:
        return f"{n} params"
    if n < 1_000_000:
        return f"{n / 1000:.1f} k params"
    return f"{n / 1e6:.2f} M params"


PER_LINE = 4
"""Stages per line of the architecture figure."""


def architecture_figure(summary_rows: list[dict], title: str | None = None, subtitle: str | None = None) -> QImage:
    """The model's stages, in execution order, as boxes: height ∝ √(spatial size), width ∝ log(channels), coloured
    by role (encoder, decoder, decision, input/output); under each its name, type, output shape and parameters.
    Rows are `trainer.training.model.model_summary()` dicts: name, type, out_shape, params."""
    rows = list(summary_rows)
    n = len(rows)
    if n == 0:
        raise ValueError("architecture_figure: no rows")
    dims = [_dims(r.get("out_shape")) for r in rows]
    hs = [d[1] if len(d) >= 3 else 1 for d in dims]
    cs = [d[0] if len(d) >= 1 else 1 for d in dims]
    hmax, cmax = max(hs + [2]), max(cs + [2])
    # at most PER_LINE stages a line, large text: the figure stays readable when shown scaled down (the in-app
    # report fits it to the window width)
    n_lines = math.ceil(n / PER_LINE)
    per_row = math.ceil(n / n_lines)
    col_w, box_area, text_h, gap = 200, 190, 104, 34
    margin, head_h, legend_h = 26, 96 if subtitle else 60, 74
    width = margin * 2 + per_row * col_w + (14 if n_lines > 1 else 0)
    height = head_h + n_lines * (box_area + text_h) + (n_lines - 1) * gap + legend_h + margin
    img = QImage(width, height, QImage.Format_RGB32)
    img.fill(QColor("white"))
    p = QPainter(img)
    p.setRenderHint(QPainter.Antialiasing, True)
    p.setRenderHint(QPainter.TextAntialiasing, True)
    total = sum(int(r.get("params", 0) or 0) for r in rows)
    p.setPen(QColor(TEXT))
    p.setFont(font(18, True))
    p.drawText(QRectF(margin, 10, width - 2 * margin, 34), Qt.AlignLeft | Qt.AlignVCenter,
               title or f"Model architecture: {total:,} parameters")
    if subtitle:
        p.setFont(font(12))
        p.setPen(QColor(90, 90, 90))
        p.drawText(QRectF(margin, 46, width - 2 * margin, 46), Qt.AlignLeft | Qt.AlignTop | Qt.TextWordWrap,
                   subtitle)
    boxes: list[QRectF] = []
    for i, r in enumerate(rows):
        line, col = divmod(i, per_row)
        x0 = margin + col * col_w
        y0 = head_h + line * (box_area + text_h + gap)
        bh = 22 + (box_area - 30) * math.sqrt(hs[i] / hmax)
        bw = 18 + 92 * math.log2(cs[i] + 1) / math.log2(cmax + 1)
        rect = QRectF(x0 + (col_w - bw) / 2, y0 + (box_area - bh) / 2, bw, bh)
        boxes.append(rect)
        rgb = ROLE_COLOURS[_role(r)]
        p.setPen(QPen(QColor(*rgb).darker(140), 1.6))
        p.setBrush(QBrush(QColor(*rgb, 200)))
        p.drawRoundedRect(rect, 5, 5)
        ty = y0 + box_area + 2
        p.setPen(QColor(TEXT))
        p.setFont(font(13, True))
        fm = QFontMetrics(p.font())
        p.drawText(QRectF(x0, ty, col_w, 24), Qt.AlignHCenter | Qt.AlignTop,
                   fm.elidedText(str(r.get("name", "")), Qt.ElideRight, col_w - 6))
        p.setFont(font(11.5))
        fm = QFontMetrics(p.font())
        p.setPen(QColor(90, 90, 90))
        p.drawText(QRectF(x0, ty + 24, col_w, 22), Qt.AlignHCenter | Qt.AlignTop,
                   fm.elidedText(str(r.get("type", "")), Qt.ElideRight, col_w - 6))
        p.setPen(QColor(TEXT))
        shape = "×".join(str(v) for v in dims[i]) or "?"
        p.drawText(QRectF(x0, ty + 46, col_w, 22), Qt.AlignHCenter | Qt.AlignTop, shape)
        p.drawText(QRectF(x0, ty + 68, col_w, 22), Qt.AlignHCenter | Qt.AlignTop,
                   _fmt_params(int(r.get("params", 0) or 0)))
    # arrows
    p.setPen(QPen(QColor(110, 110, 110), 1.6))
    p.setBrush(QBrush(QColor(110, 110, 110)))
    for i in range(n - 1):
        a, b = boxes[i], boxes[i + 1]
        if (i + 1) % per_row:
            y = head_h + (i // per_row) * (box_area + text_h + gap) + box_area / 2
            _arrow(p, [QPointF(a.right() + 3, y), QPointF(b.left() - 3, y)])
        else:  # wrap to the next line: elbow down the right margin, back left above the next line
            y = head_h + (i // per_row) * (box_area + text_h + gap) + box_area / 2
            y_next = y + box_area + text_h + gap
            x_right = margin + per_row * col_w + 6
            y_mid = y + box_area / 2 + text_h + gap / 2 - 4
            x_left = margin + 6
            _arrow(p, [QPointF(a.right() + 3, y), QPointF(x_right, y), QPointF(x_right, y_mid),
                       QPointF(x_left, y_mid), QPointF(x_left, y_next), QPointF(b.left() - 3, y_next)])
    # legend
    ly = height - legend_h - margin / 2 + 8
    x = margin
    p.setFont(font(12))
    fm = QFontMetrics(p.font())
    used = [k for k in ROLE_COLOURS if any(_role(r) == k for r in rows)]
    for role in used:
        rgb = ROLE_COLOURS[role]
        p.setPen(QPen(QColor(*rgb).darker(140), 1.2))
        p.setBrush(QBrush(QColor(*rgb, 200)))
        p.drawRoundedRect(QRectF(x, ly + 4, 18, 14), 3, 3)
        p.setPen(QColor(TEXT))
        p.drawText(QPointF(x + 24, ly + 16), role)
        x += 24 + fm.horizontalAdvance(role) + 22
    p.setPen(QColor(110, 110, 110))
    p.drawText(QPointF(margin, ly + 44),
               "execution order; box height ∝ √(spatial size), width ∝ log(channels); shapes C×H×W")
    p.end()
    return img


def _arrow(p: QPainter, pts: list[QPointF]) -> None:
    path = QPainterPath(pts[0])
    for q in pts[1:]:
        path.lineTo(q)
    p.save()
    p.setBrush(Qt.NoBrush)
    p.drawPath(path)
    p.restore()
    a, b = pts[-2], pts[-1]
    dx, dy = b.x() - a.x(), b.y() - a.y()
    ln = math.hypot(dx, dy) or 1.0
    ux, uy = dx / ln, dy / ln
    s = 8.0
    head = QPolygonF([b, QPointF(b.x() - s * ux + s * 0.5 * uy, b.y() - s * uy - s * 0.5 * ux),
                      QPointF(b.x() - s * ux - s * 0.5 * uy, b.y() - s * uy + s * 0.5 * ux)])
    p.drawPolygon(head)
