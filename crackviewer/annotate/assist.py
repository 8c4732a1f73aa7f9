"""The model-assisted side of the Annotate tab: the tracer's and accept tool's host (`tracer()`, `predicted()`,
the component highlight) and "Predict this sample", which runs ``python -m trainer predict --run RUN IMAGE --out
TMP`` in a subprocess (the GUI never imports torch) and uses the probability map it writes beside the mask
(``<stem>_prob.png``) as the sample's prediction.

`AssistMixin` is the part of `AnnotatePanel` that owns this."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QProcess

from crackviewer.annotate.accept import PredictedCracks
from crackviewer.annotate.tracer import Tracer
from crackviewer.viewer.layers import mask_contours
from trainer.runs.predictions import PROB_SUFFIX
from trainer.runs.evaluation import find_eval_sources

TRAINER = [sys.executable, "-m", "trainer"]        # how the GUI runs the engine (tests put a stand-in here)


class AssistMixin:
    _source_run: tuple = (None, None)          # (prediction source, its run folder or None)

    # ============================================================== tracer and accept hosting
    @property
    def trace_width(self) -> float | None:
        """The width the tracer gives its line: the tool option, or None to measure it from the image."""
        v = float(self.trace_width_spin.value())
        return v if v > 0 else None

    @property
    def accept_threshold(self) -> float:
        return self.accept_slider.value() / 100.0

    def tracer(self) -> Tracer | None:
        """The current sample's tracer (its ridge cost is kept while the sample and its prediction stay)."""
        s = self.session
        if s is None:
            return None
        prob = self._prob()
        key = (s.name, id(prob))
        if self._tracer_cache is None or self._tracer_cache[0] != key:
            self._tracer_cache = (key, Tracer(s.image, prob, width=self.trace_width))
        return self._tracer_cache[1]

    def predicted(self) -> PredictedCracks | None:
        """The current sample's predicted cracks (binarised on demand at the mask's size), or None."""
        s = self.session
        prob = self._prob()
        if s is None or prob is None:
            return None
        if self._predicted_cache is None or self._predicted_cache[0] is not prob:
            self._predicted_cache = (prob, PredictedCracks(prob, s.model.shape))
        return self._predicted_cache[1]

    def highlight_component(self, pt) -> None:
        """Outline the predicted crack component under ``pt`` (x, y) at the accept threshold; None clears it."""
        pred = self.predicted() if pt is not None else None
        found = pred.component_at(self.accept_threshold, pt) if pred is not None else None
        if found is None:
            self.accept_item.set_contours([])
            return
        region, rect = found
        self.accept_item.set_contours([c + (rect.x, rect.y) for c in mask_contours(region)])

    def _on_accept_threshold(self, *_):
        self.accept_label.setText(f"{self.accept_threshold:.2f}")
        self.accept_item.set_contours([])

    # ============================================================== predict this sample
    def _predict_run(self) -> Path | None:
        """The run folder "Predict this sample" uses: the prediction source's run (else ``predict_run``)."""
        if self.source is not None:
            if self._source_run[0] is not self.source:            # read source.json once per source
                run = find_eval_sources(self.source.path)[0]
                self._source_run = (self.source, run.path if run is not None else None)
            if self._source_run[1] is not None:
                return self._source_run[1]
        return self.predict_run

    def predict_sample(self) -> bool:
        """Run the source's model on the current sample in a subprocess; its probability map becomes the
        sample's prediction when it ends. False when nothing could start."""
        s, run = self.session, self._predict_run()
        if s is None or run is None or self.predicting:
            return False
        out = Path(tempfile.mkdtemp(prefix="crackviewer-predict-"))
        image = self.store.record(s.name).image_path
        proc = QProcess(self)
        proc.setProcessChannelMode(QProcess.MergedChannels)
        proc.finished.connect(lambda code, _status, n=s.name, o=out, p=proc: self._predict_done(n, o, p, code))
        self._predict_proc = proc
        proc.start(TRAINER[0], [*TRAINER[1:], "predict", "--run", str(run), str(image), "--out", str(out)])
        self.flash(f"Predicting {s.name} with {run.name}…")
        self._update_enabled()
        return True

    @property
    def predicting(self) -> bool:
        p = getattr(self, "_predict_proc", None)
        return p is not None and p.state() != QProcess.NotRunning

    def _predict_done(self, name: str, out: Path, proc: QProcess, code: int) -> None:
        log = bytes(proc.readAll()).decode("utf-8", "replace").strip()
        self._predict_proc = None
        found = sorted(out.glob("*" + PROB_SUFFIX))
        prob = cv2.imdecode(np.fromfile(str(found[0]), np.uint8), cv2.IMREAD_GRAYSCALE) if found else None
        if code != 0 or prob is None:
            last = log.splitlines()[-1] if log else f"exit code {code}"
            self.flash(f"Predicting {name} failed: {last}", error=True)
            self._update_enabled()
            return
        self._predicted_here[name] = prob
        self._pred_cache = None
        self.list_model.refresh_name(name)
        if self.session is not None and self.session.name == name:
            self.pred_check.setChecked(True)
            self._update_prediction_outline()
        self._update_enabled()
        self.flash(f"Predicted {name}: R starts from it, A accepts its cracks, T traces along it.")
