"""The three linked views of a compared sample: A's and B's error maps and their difference map (Qt)."""
from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from crackviewer.inspect.compare_model import BOTH_WRONG, LOSS, WIN, Comparison, diff_map_bgra
from crackviewer.viewer.layers import CONTOUR_MAX_PIXELS, ContourItem, error_map_bgra, mask_contours
from crackviewer.viewer.pyramid import Pyramid
from crackviewer.viewer.view import SampleViewer, ViewLink
from figures import colors
from trainer.metrics import pixels as metrics_pixels


def _rgb(c) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


class PairViews(QWidget):
    """A, B and the difference, panning and zooming together, with a line about the sample and a legend."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.views = [SampleViewer(), SampleViewer(), SampleViewer()]
        self.view_titles = [QLabel("A"), QLabel("B"), QLabel("Difference")]
        for v in self.views:
            v.add_layer("overlay", z=2, opacity=0.8)
            v.add_item("gt", ContourItem(colors.GT_CONTOUR, 1.2), z=5)
        self._link = ViewLink(self.views)
        vrow = QHBoxLayout()
        vrow.setSpacing(3)
        for t, v in zip(self.view_titles, self.views):
            col = QVBoxLayout()
            col.setSpacing(0)
            t.setAlignment(Qt.AlignCenter)
            t.setObjectName("darkTitle")
            col.addWidget(t)
            col.addWidget(v, 1)
            vrow.addLayout(col, 1)
        legend = QLabel(
            f"<span style='color:{_rgb(colors.TP)}'>■</span> TP &nbsp; <span style='color:{_rgb(colors.FP)}'>■</span>"
            f" FP &nbsp; <span style='color:{_rgb(colors.FN)}'>■</span> FN &nbsp;&nbsp;│&nbsp;&nbsp; difference: "
            f"<span style='color:{_rgb(WIN)}'>■</span> B fixes A &nbsp; <span style='color:{_rgb(LOSS)}'>■</span> "
            f"B breaks A &nbsp; <span style='color:{_rgb(BOTH_WRONG)}'>■</span> both wrong &nbsp; "
            f"<span style='color:{_rgb(colors.GT_CONTOUR)}'>▬</span> GT contour")
        legend.setObjectName("legendText")
        self.pair_info = QLabel("Click a point of the scatter.")
        self.pair_info.setTextFormat(Qt.RichText)
        vl = QVBoxLayout(self)
        vl.setContentsMargins(0, 0, 0, 0)
        vl.setSpacing(3)
        vl.addWidget(self.pair_info)
        frame = QFrame()
        frame.setObjectName("darkFrame")
        frame.setLayout(vrow)
        vl.addWidget(frame, 1)
        vl.addWidget(legend)


    def show_pair(self, a, b, store_a, store_b, c: Comparison, k: int) -> None:
        """Show pair ``k`` of comparison ``c`` (models ``a``/``b`` give thresholds and numbers)."""
        ia, ib = int(c.ia[k]), int(c.ib[k])
        sa = store_a.load(ia) if store_a else None
        sb = store_b.load(ib) if store_b else None
        if sa is None or sb is None:
            return
        preds = []
        for model, s, i in ((a, sa, ia), (b, sb, ib)):
            if s.prob8 is None:
                preds.append(None)
                continue
            pred = metrics_pixels.prob_to_bin(s.prob8.astype(np.float64) / 255.0) >= model.seg_bin
            if model.mask_blanked(i):
                pred[:] = False
            preds.append(pred)
        gt = sa.gt_eval
        small = sa.gt is not None and sa.gt.size <= CONTOUR_MAX_PIXELS
        contours = mask_contours(sa.gt) if small else []
        image = Pyramid(sa.image, "mean")                 # one pyramid for the three views
        # B's map at A's resolution (two models may have different input sizes)
        if preds[1] is not None and preds[0] is not None and preds[1].shape != preds[0].shape:
            h, w = preds[0].shape
            preds[1] = cv2.resize(preds[1].astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        g = gt if gt is not None else (np.zeros_like(preds[0]) if preds[0] is not None else None)
        layers = [error_map_bgra(p, g) if p is not None and g is not None else None for p in preds[:2]]
        diff = diff_map_bgra(preds[0], preds[1], g) if all(x is not None for x in (preds[0], preds[1], g)) else None
        for v, lay in zip(self.views, layers + [diff]):
            v.set_image(sa.image, pyramid=image)
            v.layer("gt").set_contours(contours)
            if lay is None:
                v.layer("overlay").clear()
            else:
                v.layer("overlay").set_bgra(lay)
        ia_info, ib_info = a.sample_info(ia), b.sample_info(ib)
        self.view_titles[0].setText(f"A · Dice {_f(ia_info['dice'])} · {ia_info['outcome']}")
        self.view_titles[1].setText(f"B · Dice {_f(ib_info['dice'])} · {ib_info['outcome']}")
        d = (ib_info["dice"] - ia_info["dice"]) if ia_info["dice"] is not None and ib_info["dice"] is not None \
            else None
        self.view_titles[2].setText(f"Difference · Δ Dice {_signed(d)}")
        label = "crack" if ia_info["label"] else "crack-free"
        self.pair_info.setText(f"<b>{ia_info['name']}</b> ({label}) &nbsp; score A {ia_info['score']:.3f} → "
                               f"{ia_info['outcome']}, B {ib_info['score']:.3f} → {ib_info['outcome']} &nbsp; "
                               f"crack px GT {ia_info['gt_pixels']}, A {ia_info['pred_pixels']}, "
                               f"B {ib_info['pred_pixels']}")



def _f(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def _signed(v) -> str:
    return "—" if v is None else f"{v:+.3f}"
