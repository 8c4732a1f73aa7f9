"""The Inspect tab's image view: a SampleViewer with the crack overlays (ground truth, prediction, error map,
probability heatmap, uncertainty map, measured skeletons coloured by width) at the current threshold.

Every map is a max-pooled :class:`~crackviewer.viewer.pyramid.Pyramid` (built once per sample, shared by the layers
and by both views) drawn tile by tile through a lookup table, so a threshold step only recolours the tiles on
screen, at any image size. Zoomed out, a tile pixel is predicted crack (or TP/FP/FN) when any pixel of the block
under it is."""
from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from figures import colors
from trainer.metrics import pixels as metrics_pixels
from crackviewer.viewer.layers import (CONTOUR_MAX_PIXELS, ContourItem, color_lut, lut_u32, mask_contours, mask_edges,
                                      premul_u32)
from crackviewer.viewer.pyramid import Pyramid
from crackviewer.viewer.measure_item import WidthSkeletonItem
from crackviewer.viewer.view import SampleViewer, ViewLink

OVERLAYS = ("gt", "pred", "heatmap", "errors", "uncertainty", "measure")
OVERLAY_TITLES = {"gt": "GT contour", "pred": "Predicted mask", "heatmap": "Probability heatmap",
                  "errors": "Error map (TP/FP/FN)", "uncertainty": "Uncertainty (flip TTA spread)",
                  "measure": "Measured cracks: skeletons coloured by width"}
MASK_COLOR = (240, 228, 66)
"""The predicted mask's colour: Okabe-Ito yellow, far from the TP blue of the error map (figures.colors.TP)."""
HEATMAP_COLORMAP = "inferno"
UNCERTAINTY_COLORMAP = "viridis"


def _as_bool(a: np.ndarray) -> np.ndarray:
    """A mask as bool: a {0,1} uint8 mask is viewed, not copied (400 MB saved per 20000x20000 mask)."""
    a = np.asarray(a)
    if a.dtype == bool:
        return a
    if a.dtype == np.uint8 and a.size and int(a.max()) <= 1:
        return a.view(bool)
    return a > 0


class CrackOverlayView(QWidget):
    """Image + GT contour + predicted mask + heatmap + TP/FP/FN error map, single or side by side (GT | prediction).

    Feed it a sample with :meth:`set_sample` (image, GT mask and 8-bit probability map, all at image resolution),
    then :meth:`set_threshold` (a histogram bin index ``k`` of ``trainer.metrics.pixels.B``: a pixel is predicted crack when
    ``bin(p) >= k``, exactly the rule of the evaluation histograms) and :meth:`set_gated`.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._bin_lut = metrics_pixels.prob8_bins()       # the histogram bin of each 8-bit probability
        self._heat_lut = lut_u32(color_lut(HEATMAP_COLORMAP))
        self._unc_lut = lut_u32(color_lut(UNCERTAINTY_COLORMAP, max_alpha=235, gamma=1.0))
        self._image: np.ndarray | None = None
        self._gt: np.ndarray | None = None
        self._gt_eval: np.ndarray | None = None
        self._prob: np.ndarray | None = None
        self._k = metrics_pixels.B // 2
        self._gated = False
        self._visible = {"gt": True, "pred": False, "heatmap": False, "errors": True, "uncertainty": False,
                         "measure": False}
        self._opacity = 0.7
        self._side_by_side = False
        self._pyr: dict[str, Pyramid] = {}
        self._codes: dict = {}
        self._pred_u32 = premul_u32(MASK_COLOR)
        self._tp_u32 = premul_u32(colors.TP)
        self._fp_u32 = premul_u32(colors.FP)
        self._fn_u32 = premul_u32(colors.FN)

        self.left = SampleViewer(self)
        self.right = SampleViewer(self)
        self._left_title = self._title_label("Ground truth")
        self._right_title = self._title_label("Prediction")
        for v in (self.left, self.right):
            v.add_layer("heatmap", z=1)
            v.add_layer("pred", z=2)
            v.add_layer("errors", z=3)
            v.add_layer("uncertainty", z=3.5)
            v.add_item("gt", ContourItem(colors.GT_CONTOUR), z=5)
            v.add_layer("gt_edge", z=5)          # the GT outline as pixels, for masks too large for vector contours
        self.measure_item = self.right.add_item("measure", WidthSkeletonItem(), z=6)
        self.left.add_layer("gt_fill", z=4)
        self._link = ViewLink([self.left, self.right])
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self._columns = []
        for title, view in ((self._left_title, self.left), (self._right_title, self.right)):
            box = QWidget(self)
            col = QVBoxLayout(box)
            col.setContentsMargins(0, 0, 0, 0)
            col.setSpacing(0)
            col.addWidget(title)
            col.addWidget(view, 1)
            lay.addWidget(box, 1)
            self._columns.append(box)
        self._apply_mode()

    @staticmethod
    def _title_label(text: str) -> QLabel:
        lab = QLabel(text)
        lab.setAlignment(Qt.AlignCenter)
        lab.setObjectName("darkTitle")
        return lab

    # -- inputs
    def set_sample(self, image: np.ndarray, gt: np.ndarray | None, prob8: np.ndarray | None,
                   gt_eval: np.ndarray | None = None, *, threshold: int | None = None,
                   gated: bool | None = None) -> None:
        """Show a sample.

        ``image``: HxWx3 uint8 RGB (full resolution). ``gt``: HxW {0,1} mask at image resolution, for the contour
        (None: no mask). ``prob8``: uint8 probability*255 map, at any resolution (the model's input size: it is
        stretched over the image). ``gt_eval``: the GT at the map's resolution as the evaluation used it, for the
        pixel error map (default: ``gt`` resized to the map with area averaging, > 0.5). ``threshold`` and
        ``gated``: as :meth:`set_threshold` / :meth:`set_gated`, applied before the first render.
        """
        if threshold is not None:
            self._k = int(threshold)
        if gated is not None:
            self._gated = bool(gated)
        self._image = image
        self._gt = None if gt is None else _as_bool(gt)
        self._prob = prob8
        if prob8 is not None:
            if gt_eval is None and self._gt is not None:
                ph, pw = prob8.shape[:2]
                g = self._gt.view(np.uint8)
                if g.shape != (ph, pw):
                    g = cv2.resize(g * np.uint8(255), (pw, ph), interpolation=cv2.INTER_AREA) > 127
                gt_eval = g
            self._gt_eval = None if gt_eval is None else _as_bool(gt_eval)
        else:
            self._gt_eval = None
        pyr = self._pyr = {"image": Pyramid(image, "mean")}
        self._codes: dict = {}         # per map tile: prob8 | gt << 8, made once per sample, not per threshold
        if self._gt is not None:
            pyr["gt"] = Pyramid(self._gt.view(np.uint8), "max")
        if prob8 is not None:
            pyr["prob"] = Pyramid(prob8, "max")
        if self._gt_eval is not None:
            pyr["gt_eval"] = Pyramid(self._gt_eval.view(np.uint8), "max")
        self.right.set_image(image, pyramid=pyr["image"])
        self.left.set_image(image, pyramid=pyr["image"])
        small = self._gt is not None and self._gt.size <= CONTOUR_MAX_PIXELS
        contours = mask_contours(self._gt) if small else []
        for v in (self.left, self.right):
            v.layer("gt").set_contours(contours)
            edge = v.layer("gt_edge")
            edge.set_source(None if small or self._gt is None else pyr["gt"], self._gt_edge_colour)
        if self._gt is not None:
            self.left.layer("gt_fill").set_source(pyr["gt"], self._gt_fill_colour)
        else:
            self.left.layer("gt_fill").clear()
        self._render_heatmap()
        self._render_prediction()

    _gt_fill_lut = np.array([0, premul_u32(colors.GT_CONTOUR, 150)], np.uint32)
    _gt_edge_lut = np.array([0, premul_u32(colors.GT_CONTOUR)], np.uint32)

    def _gt_fill_colour(self, tile: np.ndarray) -> np.ndarray:
        return self._gt_fill_lut[tile]

    def _gt_edge_colour(self, tile: np.ndarray) -> np.ndarray:
        return self._gt_edge_lut[mask_edges(tile)]

    def set_uncertainty(self, unc8: np.ndarray | None) -> None:
        """The sample's 8-bit uncertainty map (any resolution, stretched over the image), None when there is none."""
        layer = self.right.layer("uncertainty")
        lut = self._unc_lut
        layer.clear() if unc8 is None else layer.set_source(Pyramid(unc8, "max"), lambda t: lut[t])

    def set_measurement(self, m) -> None:
        """The measured cracks (:class:`crackviewer.inspect.measurement.SampleMeasurement`) or None."""
        self.measure_item.set_measurement(m)

    def set_threshold(self, k: int) -> None:
        k = int(k)
        if k != self._k:
            self._k = k
            self._render_prediction()

    def set_gated(self, gated: bool) -> None:
        gated = bool(gated)
        if gated != self._gated:
            self._gated = gated
            self._render_prediction()

    def set_overlay_visible(self, name: str, visible: bool) -> None:
        if name not in OVERLAYS:
            raise KeyError(name)
        self._visible[name] = bool(visible)
        self._apply_mode()

    def overlay_visible(self, name: str) -> bool:
        return self._visible[name]

    def toggle_overlay(self, name: str) -> bool:
        self.set_overlay_visible(name, not self._visible[name])
        return self._visible[name]

    def set_opacity(self, opacity: float) -> None:
        self._opacity = float(opacity)
        self._apply_mode()

    def opacity(self) -> float:
        return self._opacity

    def set_side_by_side(self, on: bool) -> None:
        self._side_by_side = bool(on)
        self._apply_mode()
        if on:
            self.left.set_view(self.right.scale_factor(), self.right.view_center())
            self.left._fit_mode = self.right._fit_mode

    def side_by_side(self) -> bool:
        return self._side_by_side

    def fit(self) -> None:
        self.right.fit()
        if self._side_by_side:
            self.left.fit()

    def zoom_1to1(self) -> None:
        self.right.zoom_1to1()

    # -- rendering
    def _render_heatmap(self) -> None:
        layer = self.right.layer("heatmap")
        lut = self._heat_lut
        if self._prob is None:
            layer.clear()
        else:
            layer.set_source(self._pyr["prob"], lambda t: lut[t])

    @property
    def pred_mask(self) -> np.ndarray | None:
        """The predicted mask shown (bool, at the map's resolution), or None without a map."""
        if self._prob is None:
            return None
        if self._gated:
            return np.zeros(self._prob.shape, bool)
        return (self._bin_lut >= self._k)[self._prob]

    def _luts(self) -> tuple[np.ndarray, np.ndarray]:
        """The predicted mask's and the error map's tables over ``prob8 | gt << 8`` at the current threshold."""
        pred_v = np.zeros(256, bool) if self._gated else (self._bin_lut >= self._k)
        pred = np.zeros(512, np.uint32)
        pred[:256][pred_v] = self._pred_u32
        pred[256:][pred_v] = self._pred_u32
        err = np.zeros(512, np.uint32)
        if self._gt_eval is None:
            # no ground truth (weakly labelled sample): nothing is an error, show the prediction itself
            err[:256][pred_v] = self._pred_u32
        else:
            err[:256][pred_v] = self._fp_u32
            err[256:][pred_v] = self._tp_u32
            err[256:][~pred_v] = self._fn_u32
        return pred, err

    def _render_prediction(self) -> None:
        """Predicted mask and error map for the current threshold: new tables, and the tiles on screen recoloured
        when they are next drawn (hidden layers draw nothing, so they cost nothing)."""
        r = self.right
        if self._prob is None or self._image is None:
            r.layer("pred").clear()
            r.layer("errors").clear()
            return
        pred_lut, err_lut = self._luts()
        prob = self._pyr["prob"]
        pred, errors = r.layer("pred"), r.layer("errors")
        if pred.sources != [prob]:
            pred.set_source(prob)
        pred.set_colour(lambda p: pred_lut[p])
        if "gt_eval" in self._pyr:
            srcs = [prob, self._pyr["gt_eval"]]
            codes = self._codes

            def colour(p, g):
                key = (p.__array_interface__["data"][0], p.shape)      # the same tile of the same level
                c = codes.get(key)
                if c is None:
                    if len(codes) >= 64:
                        codes.clear()
                    c = codes[key] = (g.astype(np.uint16) << 8) | p
                return err_lut[c]
        else:
            srcs, colour = [prob], (lambda p: err_lut[p])
        if errors.sources != srcs:
            errors.set_source(srcs)
        errors.set_colour(colour)
        # repaint the viewport in this update pass (an item update() would be processed by the scene in a later
        # event and cost a second repaint pass of the window)
        r.viewport().update()

    def _apply_mode(self) -> None:
        sbs = self._side_by_side
        self._columns[0].setVisible(sbs)
        self._left_title.setVisible(sbs)
        self._right_title.setVisible(sbs)
        op = self._opacity
        vis = self._visible
        # main (right) view: every overlay that is switched on
        r = self.right
        r.set_layer_visible("heatmap", vis["heatmap"])
        r.set_layer_opacity("heatmap", min(1.0, op + 0.15))
        r.set_layer_visible("pred", vis["pred"])
        r.set_layer_opacity("pred", op)
        r.set_layer_visible("errors", vis["errors"])
        r.set_layer_opacity("errors", op)
        r.set_layer_visible("gt", vis["gt"] and not sbs)
        r.set_layer_visible("gt_edge", vis["gt"] and not sbs)
        r.set_layer_visible("uncertainty", vis["uncertainty"])
        r.set_layer_opacity("uncertainty", min(1.0, op + 0.15))
        r.set_layer_visible("measure", vis["measure"])
        # left view in side-by-side: the GT only (filled + outline)
        lv = self.left
        lv.set_layer_visible("heatmap", False)
        lv.set_layer_visible("pred", False)
        lv.set_layer_visible("errors", False)
        lv.set_layer_visible("uncertainty", False)
        lv.set_layer_visible("gt_fill", True)
        lv.set_layer_opacity("gt_fill", op)
        lv.set_layer_visible("gt", True)
        lv.set_layer_visible("gt_edge", True)
