"""What the Inspect viewer shows for the selected sample, kept in step with the model: the image and overlays at the
current threshold, its uncertainty map (``crack-train eval --tta``), its measured cracks (the "Cracks" tab, only
while the measurement layer or that tab is shown), the pixel read-out under the cursor and the calibrate tool."""
from __future__ import annotations

from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtWidgets import QMessageBox

from crackviewer.inspect.calibrate import CalibrateTool, ask_and_save
from crackviewer.inspect.measure_panel import MeasurePanel
from crackviewer.inspect.threshold_model import ThresholdModel
from crackviewer.inspect.viewer_pane import ViewerPane
from crackviewer.qt.tasks import LatestTask
from trainer.errors import CrackError
from trainer.limits import opens_in_background
from trainer.measure.scale import load_scale


class SampleController(QObject):
    message = Signal(str)

    def __init__(self, model: ThresholdModel, viewer: ViewerPane, measure: MeasurePanel, parent=None):
        super().__init__(parent)
        self.model, self.viewer, self.measure = model, viewer, measure
        self.store = None
        self.sample = None
        self.scale = None
        self.measure_tab_visible = False
        self.ask_length = None          # tests: replaces the calibrate dialog
        self._loader = LatestTask(self)          # large images are decoded here
        model.events.current.connect(lambda **_: self.load_current())
        model.events.thresholds.connect(self._on_thresholds)
        for v in (viewer.view.right, viewer.view.left):
            v.hovered.connect(self._on_hover)
        viewer.overlayToggled.connect(self._on_overlay)
        measure.measured.connect(viewer.view.set_measurement)
        measure.crackChosen.connect(self.zoom_to)
        measure.calibrate_btn.clicked.connect(self.start_calibrate)

    def set_store(self, store) -> None:
        self.store = store
        self._loader.cancel()
        self.scale = None
        if store is not None and store.data_path is not None:
            try:
                self.scale = load_scale(store.data_path)
            except CrackError as exc:
                self.message.emit(str(exc))
        self.viewer.set_uncertainty_available(store is not None and store.has_uncertainty())

    # ------------------------------------------------------------------ sample
    def load_current(self) -> None:
        i = self.model.current
        if i is None or self.store is None:
            self._loader.cancel()
            self.sample = None
            self.viewer.info.show_info(None)
            return
        rec = self.store.record(i)
        large, mp = opens_in_background(rec.image_path) if rec is not None else (False, 0.0)
        if large:                        # decode on a worker; the window stays responsive and says so
            self.sample = None
            self.viewer.info.label.setText(f"Opening <b>{self.model.names[i]}</b> ({mp:.0f} MP)…")
            store = self.store
            self._loader.start(i, lambda: store.load(i), self.show_sample,
                               lambda msg: self.viewer.info.show_info(self.model.sample_info(i), msg))
            return
        self._loader.cancel()
        self.show_sample(self.store.load(i))

    @property
    def loading(self) -> bool:
        """A large image is being decoded on a worker thread."""
        return self._loader.key is not None

    def show_sample(self, s) -> None:
        i = s.index
        self.sample = s
        self.viewer.view.set_sample(s.image, s.gt, s.prob8, s.gt_eval, threshold=self.model.seg_bin,
                                    gated=self.model.mask_blanked(i))
        self.viewer.view.set_uncertainty(self.store.uncertainty8(i))
        self.viewer.info.show_info(self.model.sample_info(i), s.problem)
        mpp = self.scale.mm_per_px(s.name) if self.scale is not None else None
        self.measure.set_scale(mpp, "scale.json / manifest" if mpp is not None else "")
        self.remeasure()

    def _on_thresholds(self, **_):
        i = self.model.current
        if i is None or self.sample is None:
            return
        v = self.viewer.view
        v.set_threshold(self.model.seg_bin)
        v.set_gated(self.model.mask_blanked(i))
        self.viewer.info.show_info(self.model.sample_info(i), self.sample.problem)
        self.remeasure()

    # ------------------------------------------------------------------ measurements
    @property
    def measuring(self) -> bool:
        return self.measure_tab_visible or self.viewer.view.overlay_visible("measure")

    def remeasure(self, now: bool = False) -> None:
        """Measure the current sample at the current threshold (background thread unless ``now``)."""
        s = self.sample
        if s is None or not self.measuring:
            return
        args = (s.prob8, self.model.seg_threshold, s.image.shape[:2], self.model.mask_blanked(s.index))
        if now:
            return self.measure.measure_now(*args) if s.prob8 is not None else None
        self.measure.request(*args)

    def _on_overlay(self, name: str, on: bool) -> None:
        if name == "measure" and on:
            self.remeasure()

    def zoom_to(self, bbox) -> None:
        x, y, w, h = bbox
        pad = max(w, h) * 0.25 + 8
        v = self.viewer.view.right
        v.fitInView(QRectF(x - pad, y - pad, w + 2 * pad, h + 2 * pad), Qt.KeepAspectRatio)
        v._fit_mode = False
        self.viewer.view.measure_item.select(bbox)

    # ------------------------------------------------------------------ calibrate
    def start_calibrate(self) -> None:
        if self.store is None or self.store.data_path is None:
            self.message.emit("no dataset: the scale is written beside the dataset")
            return
        self.viewer.view.right.set_tool(CalibrateTool(self.finish_calibrate))
        self.message.emit("Calibrate: drag a line over a feature of known length")

    def finish_calibrate(self, length_px: float) -> None:
        try:
            out = ask_and_save(self.viewer, self.store.data_path, length_px, ask=self.ask_length)
        except CrackError as exc:
            QMessageBox.warning(self.viewer, "Could not save the scale", str(exc))
            return
        if out is None:
            return
        mpp, path = out
        self.message.emit(f"scale {mpp:.5g} mm/px written to {path}")
        self.set_store(self.store)
        self.load_current()

    # ------------------------------------------------------------------ read-out
    def _on_hover(self, x: int, y: int) -> None:
        s = self.sample
        if s is None or x < 0:
            self.viewer.readout.setText("")
            return
        text = f"x {x:4d} y {y:4d}"
        if s.prob8 is not None:
            h, w = s.image.shape[:2]
            ph, pw = s.prob8.shape[:2]
            px, py = min(int(x * pw / w), pw - 1), min(int(y * ph / h), ph - 1)
            text += f" · p {s.prob8[py, px] / 255.0:.3f}"
            if s.gt_eval is not None:
                text += " · GT crack" if s.gt_eval[py, px] else " · GT bg"
        self.viewer.readout.setText(text)
