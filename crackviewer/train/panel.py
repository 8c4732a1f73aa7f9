"""Train tab: the run-parameter form, device and precision, Start / Stop / Resume, live progress, curves and log.

The form is generated from `trainer.config.DEFAULTS` and `KEY_DOCS` (group, what the key does, the published
run's value), so a new config key shows up here without GUI changes. Training runs in a worker process
(`crackviewer.train.training_process.TrainingProcess`); this panel only renders its events.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame, QGridLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit, QProgressBar,
                               QPushButton, QScrollArea, QSizePolicy, QSpinBox, QSplitter, QVBoxLayout, QWidget)

from crackviewer.train.live_plots import LivePlots
from crackviewer.train.training_process import DeviceProbe, TrainingProcess, tail_lines

GROUP_ORDER = ["Optimisation", "Loss", "Sampling", "Model", "Data", "Validation", "Report", "Run"]
PRESET_TITLES = {"published": "Published run", "quick": "Quick CPU"}
OWN_WIDGETS = {"device", "precision"}   # shown in the Run box, not in the generic groups

INT_RANGES = {
    "batch_size": (1, 4096), "epochs": (1, 100_000), "dilate": (1, 99), "validation_n_epochs": (1, 10_000),
    "dice_threshold_factor": (1, 64), "num_segmented": (-1, 10_000_000), "input_height": (64, 8192),
    "input_width": (64, 8192), "seed": (0, 2_147_483_647), "grad_accumulation": (1, 1024), "num_workers": (0, 64),
}
FLOAT_RANGES = {"learning_rate": (1e-7, 100.0), "delta_cls_loss": (0.0, 100.0), "weighted_seg_loss_p": (0.0, 20.0),
                "weighted_seg_loss_max": (0.0, 1000.0), "val_fraction": (0.01, 0.9)}

STATE_COLOURS = {"idle": "#7a828c", "starting": "#0072B2", "running": "#0072B2", "stopping": "#b5651d",
                 "evaluating": "#0072B2", "finished": "#00875a", "stopped": "#b5651d", "failed": "#b00020",
                 "crashed": "#b00020"}


def human_duration(s: float | None) -> str:
    if s is None or not math.isfinite(s) or s < 0:
        return "–"
    s = int(round(s))
    if s >= 3600:
        return f"{s // 3600} h {(s % 3600) // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"


def key_title(key: str) -> str:
    try:
        from trainer.config import REPORT_NAMES
    except ImportError:  # pragma: no cover
        REPORT_NAMES = {}
    special = {"weighted_seg_loss_p": "Weighted seg. loss p", "weighted_seg_loss_max": "Weighted seg. loss max",
               "num_segmented": "Segmented samples", "validation_n_epochs": "Validate every N epochs",
               "input_height": "Input height", "input_width": "Input width", "grad_accumulation":
               "Gradient accumulation", "num_workers": "Data-loader workers", "val_fraction": "Val fraction",
               "skip_bad_samples": "Skip bad samples", "save_images": "Save Dice pictures",
               "decision_pooling": "Decision pooling"}
    if key in special:
        return special[key]
    return REPORT_NAMES.get(key) or key.replace("_", " ").capitalize()


class FloatSpin(QDoubleSpinBox):
    """A float field that shows 1, 0.01 or 1e-05 instead of 1.000000."""

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt API
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text, pos):
        from PySide6.QtGui import QValidator

        t = text.strip()
        if t in ("", "-", ".", "e", "1e", "1e-"):
            return QValidator.State.Intermediate, text, pos
        try:
            float(t)
        except ValueError:
            if any(c.isdigit() for c in t) and t[-1] in "eE-+.":
                return QValidator.State.Intermediate, text, pos
            return QValidator.State.Invalid, text, pos
        return QValidator.State.Acceptable, text, pos


class ConfigForm(QWidget):
    """Every config key as a widget, grouped by KEY_DOCS group; changed() when any value changes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        from trainer import config as tc

        self.defaults: dict[str, Any] = dict(tc.DEFAULTS)
        self.docs = dict(tc.KEY_DOCS)
        self.choices = dict(getattr(tc, "_CHOICES", {}))
        self.widgets: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self.groups: dict[str, QGroupBox] = {}
        self._loading = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        by_group: dict[str, list[str]] = {}
        for key in self.defaults:
            if key in OWN_WIDGETS:
                continue
            group = self.docs.get(key, ("Other", "", ""))[0]
            by_group.setdefault(group, []).append(key)
        order = [g for g in GROUP_ORDER if g in by_group] + [g for g in by_group if g not in GROUP_ORDER]
        for group in order:
            box = QGroupBox(group)
            form = QFormLayout(box)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setHorizontalSpacing(10)
            form.setVerticalSpacing(5)
            for key in by_group[group]:
                w = self._make_widget(key)
                label = QLabel(key_title(key))
                label.setMinimumWidth(168)
                label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                tip = self.tooltip(key)
                label.setToolTip(tip)
                w.setToolTip(tip)
                w.setObjectName(f"cfg_{key}")
                self.widgets[key] = w
                self.labels[key] = label
                form.addRow(label, w)
            self.groups[group] = box
            lay.addWidget(box)
        self.extra_widgets: dict[str, QWidget] = {}
        self._update_markers()

    def tooltip(self, key: str) -> str:
        group, doc, published = self.docs.get(key, ("", "", ""))
        return (f"<b>{key}</b> — {doc}<br><br>Published run: <b>{published}</b><br>"
                f"Default here: <tt>{self.defaults[key]}</tt>")

    def _make_widget(self, key: str) -> QWidget:
        default = self.defaults[key]
        if key in self.choices:
            w = QComboBox()
            for c in self.choices[key]:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(self._on_change)
            return w
        if isinstance(default, bool):
            w = QCheckBox()
            w.toggled.connect(self._on_change)
            return w
        if isinstance(default, int):
            w = QSpinBox()
            lo, hi = INT_RANGES.get(key, (-1_000_000, 1_000_000))
            w.setRange(lo, hi)
            if key in ("input_height", "input_width"):
                w.setSingleStep(8)
                w.setSuffix(" px")
            if key == "num_segmented":
                w.setSpecialValueText("all positives")
            w.valueChanged.connect(self._on_change)
            return w
        if isinstance(default, float):
            w = FloatSpin()
            lo, hi = FLOAT_RANGES.get(key, (-1e9, 1e9))
            w.setRange(lo, hi)
            w.setDecimals(7)
            w.setSingleStep(0.01 if hi <= 1 else 0.1)
            w.valueChanged.connect(self._on_change)
            return w
        w = QLineEdit()
        w.textChanged.connect(self._on_change)
        return w

    def _on_change(self, *_):
        if self._loading:
            return
        self._update_markers()
        self.changed.emit()

    def _update_markers(self) -> None:
        for key, label in self.labels.items():
            try:
                differs = self.value(key) != self.defaults[key]
            except Exception:  # noqa: BLE001
                differs = False
            label.setStyleSheet("color:#0072B2; font-weight:600;" if differs else "")

    def value(self, key: str) -> Any:
        w = self.widgets[key]
        if isinstance(w, QComboBox):
            return w.currentData()
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QSpinBox):
            return int(w.value())
        if isinstance(w, QDoubleSpinBox):
            return float(w.value())
        return w.text()

    def set_value(self, key: str, value: Any) -> None:
        w = self.widgets.get(key)
        if w is None:
            return
        if isinstance(w, QComboBox):
            i = w.findData(value)
            if i < 0:
                i = w.findText(str(value))
            if i >= 0:
                w.setCurrentIndex(i)
        elif isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QSpinBox):
            w.setValue(int(value))
        elif isinstance(w, QDoubleSpinBox):
            w.setValue(float(value))
        else:
            w.setText(str(value))

    def values(self) -> dict[str, Any]:
        return {k: self.value(k) for k in self.widgets}

    def set_values(self, values: dict[str, Any]) -> None:
        self._loading = True
        try:
            for k, v in values.items():
                if k in self.widgets:
                    self.set_value(k, v)
        finally:
            self._loading = False
        self._update_markers()
        self.changed.emit()


class TrainingPanel(QWidget):
    """The Train tab."""

    runStarted = Signal(str)                # run dir
    runEnded = Signal(str, dict)            # run dir, outcome (see TrainingProcess.ended)
    stateChanged = Signal(str)
    openRunRequested = Signal(str)          # "show in Runs"
    inspectRequested = Signal(str)

    def __init__(self, settings=None, parent: QWidget | None = None, probe_devices: bool = True):
        super().__init__(parent)
        from trainer import config as tc

        self.settings = settings
        self.presets = {name: {**tc.DEFAULTS, **over} for name, over in tc.PRESETS.items()}
        self.data_path: Path | None = None
        self.run_dir: Path | None = None
        self.resume_target: Path | None = None
        self.state = "idle"
        self.worker = TrainingProcess(self)
        self.worker.eventsReceived.connect(self._on_events)
        self.worker.logLines.connect(self._on_log_lines)
        self.worker.ended.connect(self._on_ended)
        self.worker.started.connect(lambda: self._append_log([f"$ {' '.join(self.worker.command)}"]))
        self.last_outcome: dict | None = None
        self.last_step: dict | None = None
        self.last_evaluation: dict | None = None
        self.run_started_event: dict | None = None
        self.events_received = 0
        self._t_start: float | None = None

        root = QHBoxLayout(self)
        root.setContentsMargins(10, 8, 10, 8)
        root.setSpacing(10)

        # ---------------- left: parameters
        left = QWidget()
        left.setFixedWidth(390)
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.setSpacing(6)
        title = QLabel("Run parameters")
        title.setObjectName("pageTitle")
        lv.addWidget(title)

        run_box = QGroupBox("Run")
        rf = QFormLayout(run_box)
        rf.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        rf.setVerticalSpacing(5)
        self.dataset_label = QLabel("<i>no dataset open</i>")
        self.dataset_label.setWordWrap(True)
        self.dataset_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        rf.addRow("Dataset", self.dataset_label)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("automatic: preset-date-time")
        self.name_edit.setToolTip("Name of the run folder, created under WORKSPACE/runs/")
        rf.addRow("Run name", self.name_edit)
        self.preset_combo = QComboBox()
        for name in self.presets:
            self.preset_combo.addItem(PRESET_TITLES.get(name, name), name)
        self.preset_combo.addItem("Custom", "custom")
        self.preset_combo.setToolTip("Published run = the report's table (448×448, 50 epochs).\n"
                                     "Quick CPU = small input and few epochs: a CPU run in minutes.")
        self.preset_combo.activated.connect(self._on_preset_chosen)
        rf.addRow("Preset", self.preset_combo)
        self.device_combo = QComboBox()
        self.device_combo.addItem("Auto (GPU if present, else CPU)", "auto")
        self.device_combo.addItem("CPU", "cpu")
        self.device_combo.setToolTip(self._device_tip("checking which devices torch sees…"))
        rf.addRow("Device", self.device_combo)
        self.precision_combo = QComboBox()
        self.precision_combo.addItem("Auto (bf16 where supported)", "auto")
        self.precision_combo.addItem("bf16 mixed precision", "bf16")
        self.precision_combo.addItem("fp32 (as published)", "fp32")
        self.precision_combo.setToolTip("auto: bf16 autocast + channels_last when the hardware supports it "
                                        "(checked at run time), fp32 otherwise.\nPublished run: fp32.")
        rf.addRow("Precision", self.precision_combo)
        self.device_combo.currentIndexChanged.connect(self._on_form_changed)
        self.precision_combo.currentIndexChanged.connect(self._on_form_changed)
        lv.addWidget(run_box)

        self.form = ConfigForm()
        self.form.changed.connect(self._on_form_changed)
        scroll = QScrollArea()
        scroll.setObjectName("formScroll")
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        holder = QWidget()
        hv = QVBoxLayout(holder)
        hv.setContentsMargins(0, 0, 6, 0)
        hv.addWidget(self.form)
        hv.addStretch(1)
        scroll.setWidget(holder)
        lv.addWidget(scroll, 1)

        self.form_hint = QLabel("Blue labels differ from the published run. Hover any field for what it does.")
        self.form_hint.setObjectName("smallCaption")
        self.form_hint.setWordWrap(True)
        lv.addWidget(self.form_hint)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("primaryButton")
        self.start_button.setToolTip("Start a new run in a worker process (Ctrl+Return)")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("dangerButton")
        self.stop_button.setToolTip("Stop between two steps; the last completed epoch is kept for Resume.\n"
                                    "Press again while stopping to kill the worker at once.")
        self.stop_button.clicked.connect(self.stop)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the run from its last completed epoch (checkpoints/last.pth)")
        self.resume_button.clicked.connect(self.resume)
        buttons.addWidget(self.start_button, 2)
        buttons.addWidget(self.stop_button, 1)
        buttons.addWidget(self.resume_button, 1)
        lv.addLayout(buttons)
        root.addWidget(left)

        # ---------------- right: status, error, plots, log
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.setSpacing(8)
        rv.addWidget(self._build_status_card())
        rv.addWidget(self._build_error_banner())
        split = QSplitter(Qt.Orientation.Vertical)
        self.plots = LivePlots()
        split.addWidget(self.plots)
        self.log_view = QPlainTextEdit()
        self.log_view.setObjectName("logView")
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(5000)
        self.log_view.setPlaceholderText("The trainer's log appears here.")
        self.log_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        split.addWidget(self.log_view)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([560, 150])
        rv.addWidget(split, 1)
        root.addWidget(right, 1)

        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.start)

        self._elapsed_timer = QTimer(self)
        self._elapsed_timer.setInterval(1000)
        self._elapsed_timer.timeout.connect(self._tick)

        self.apply_preset("quick")
        self._restore_form()
        self._set_state("idle")
        self.probe = DeviceProbe(self)
        self.probe.probed.connect(self._on_probe)
        if probe_devices:
            QTimer.singleShot(300, self.probe.start)

    # ------------------------------------------------------------------------------------------- building
    def _build_status_card(self) -> QWidget:
        card = QFrame()
        card.setObjectName("statusCard")
        g = QGridLayout(card)
        g.setContentsMargins(14, 10, 14, 10)
        g.setHorizontalSpacing(18)
        g.setVerticalSpacing(4)
        top = QHBoxLayout()
        self.state_badge = QLabel("Idle")
        self.state_badge.setObjectName("stateBadge")
        self.state_badge.setFixedHeight(22)
        self.state_badge.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        top.addWidget(self.state_badge)
        top.addSpacing(6)
        self.run_label = QLabel("No run yet")
        self.run_label.setStyleSheet("font-weight:600; font-size:11pt;")
        self.run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.run_label, 1)
        self.device_label = QLabel("")
        self.device_label.setObjectName("smallCaption")
        top.addWidget(self.device_label)
        self.show_run_button = QPushButton("Show in Runs")
        self.show_run_button.clicked.connect(lambda: self.run_dir and self.openRunRequested.emit(str(self.run_dir)))
        self.inspect_button = QPushButton("Inspect")
        self.inspect_button.clicked.connect(lambda: self.run_dir and self.inspectRequested.emit(str(self.run_dir)))
        top.addWidget(self.show_run_button)
        top.addWidget(self.inspect_button)
        g.addLayout(top, 0, 0, 1, 6)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress.setTextVisible(False)
        self.progress.setProperty("thin", True)
        self.progress_label = QLabel("")
        self.progress_label.setMinimumWidth(260)
        self.progress_label.setStyleSheet("color:#2b3038;")
        prow = QHBoxLayout()
        prow.addWidget(self.progress, 1)
        prow.addSpacing(10)
        prow.addWidget(self.progress_label)
        g.addLayout(prow, 1, 0, 1, 6)
        self.stat_labels: dict[str, QLabel] = {}
        for col, (key, caption) in enumerate((("epoch", "epoch"), ("step", "step"), ("speed", "images / s"),
                                              ("eta", "time left (ETA)"), ("elapsed", "elapsed"),
                                              ("val", "best validation AP"))):
            v = QVBoxLayout()
            num = QLabel("–")
            num.setObjectName("bigNumber")
            cap = QLabel(caption)
            cap.setObjectName("smallCaption")
            v.addWidget(num)
            v.addWidget(cap)
            g.addLayout(v, 2, col)
            self.stat_labels[key] = num
        return card

    def _build_error_banner(self) -> QWidget:
        self.error_banner = QFrame()
        self.error_banner.setObjectName("errorBanner")
        v = QVBoxLayout(self.error_banner)
        v.setContentsMargins(12, 10, 12, 10)
        v.setSpacing(6)
        top = QHBoxLayout()
        self.error_title = QLabel("Training failed")
        self.error_title.setStyleSheet("font-weight:700; color:#8a0016; font-size:11pt;")
        top.addWidget(self.error_title, 1)
        self.error_resume = QPushButton("Resume from last checkpoint")
        self.error_resume.setObjectName("primaryButton")
        self.error_resume.clicked.connect(self.resume)
        self.error_toggle = QPushButton("Log tail")
        self.error_toggle.setCheckable(True)
        self.error_toggle.setChecked(True)
        self.error_dismiss = QPushButton("Dismiss")
        self.error_dismiss.clicked.connect(lambda: self.error_banner.setVisible(False))
        top.addWidget(self.error_resume)
        top.addWidget(self.error_toggle)
        top.addWidget(self.error_dismiss)
        v.addLayout(top)
        self.error_message = QLabel("")
        self.error_message.setWordWrap(True)
        self.error_message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_message.setStyleSheet("color:#4a0010;")
        v.addWidget(self.error_message)
        self.error_log = QPlainTextEdit()
        self.error_log.setObjectName("logView")
        self.error_log.setReadOnly(True)
        self.error_log.setMaximumHeight(150)
        self.error_log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.error_toggle.toggled.connect(self.error_log.setVisible)
        v.addWidget(self.error_log)
        self.error_banner.setVisible(False)
        return self.error_banner

    # ------------------------------------------------------------------------------------------- presets/form
    def apply_preset(self, name: str) -> None:
        values = self.presets[name]
        self.form.set_values(values)
        self._select_combo(self.device_combo, values.get("device", "auto"))
        self._select_combo(self.precision_combo, values.get("precision", "auto"))
        self._sync_preset_combo()

    def _on_preset_chosen(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if name in self.presets:
            self.apply_preset(name)

    @staticmethod
    def _select_combo(combo: QComboBox, data: Any) -> None:
        i = combo.findData(data)
        if i < 0 and isinstance(data, str) and data.startswith("cuda"):
            combo.addItem(data, data)
            i = combo.findData(data)
        if i >= 0:
            combo.setCurrentIndex(i)

    def config(self) -> dict[str, Any]:
        """The full config the form describes (every key)."""
        cfg = self.form.values()
        cfg["device"] = self.device_combo.currentData()
        cfg["precision"] = self.precision_combo.currentData()
        return cfg

    def set_config(self, cfg: dict[str, Any]) -> None:
        self.form.set_values({k: v for k, v in cfg.items() if k in self.form.widgets})
        if "device" in cfg:
            self._select_combo(self.device_combo, cfg["device"])
        if "precision" in cfg:
            self._select_combo(self.precision_combo, cfg["precision"])
        self._sync_preset_combo()

    def overrides(self) -> dict[str, Any]:
        """Keys that differ from the published defaults: passed as --set key=value."""
        from trainer.config import DEFAULTS

        return {k: v for k, v in self.config().items() if k in DEFAULTS and v != DEFAULTS[k]}

    def _sync_preset_combo(self) -> None:
        cfg = self.config()
        for name, values in self.presets.items():
            if all(cfg.get(k) == v for k, v in values.items()):
                self._select_combo(self.preset_combo, name)
                return
        self._select_combo(self.preset_combo, "custom")

    def _on_form_changed(self, *_):
        self._sync_preset_combo()
        if self.settings is not None:
            self.settings.set_json("train_form", self.config())

    def _restore_form(self) -> None:
        if self.settings is None:
            return
        saved = self.settings.get_json("train_form")
        if isinstance(saved, dict):
            from trainer.config import DEFAULTS

            self.set_config({k: v for k, v in saved.items() if k in DEFAULTS})

    # ------------------------------------------------------------------------------------------- devices
    @staticmethod
    def _device_tip(extra: str) -> str:
        return "Where the worker trains: auto picks the first CUDA GPU when there is one.<br>" + extra

    def _on_probe(self, info: dict) -> None:
        self.device_info = info
        current = self.device_combo.currentData()
        for dev in info.get("cuda") or []:
            data = f"cuda:{dev['index']}"
            text = f"GPU {dev['index']}: {dev['name']} ({dev.get('memory_gb', '?')} GB)"
            i = self.device_combo.findData(data)
            if i >= 0:
                self.device_combo.setItemText(i, text)
            else:
                self.device_combo.addItem(text, data)
        self._select_combo(self.device_combo, current)
        if info.get("error"):
            tip = f"Could not ask torch for devices: {info['error']}"
        elif info.get("cuda"):
            tip = f"torch {info.get('torch')} sees {len(info['cuda'])} CUDA device(s)."
        else:
            tip = (f"torch {info.get('torch')} sees no CUDA device: training runs on the CPU"
                   + (" (which supports bf16)." if info.get("bf16_cpu") else "."))
        self.device_combo.setToolTip(self._device_tip(tip))

    # ------------------------------------------------------------------------------------------- dataset
    def set_dataset(self, path: str | Path | None, summary: str = "") -> None:
        self.data_path = Path(path) if path else None
        if self.data_path is None:
            self.dataset_label.setText("<i>no dataset open — open one in the Dataset tab</i>")
        else:
            extra = f"<br><span style='color:#6b727b'>{summary}</span>" if summary else ""
            self.dataset_label.setText(f"<b>{self.data_path.name}</b>{extra}")
            self.dataset_label.setToolTip(str(self.data_path))
        self._update_buttons()

    # ------------------------------------------------------------------------------------------- runs
    def workspace_runs(self) -> Path:
        if self.settings is not None:
            return self.settings.runs_dir
        return Path.home() / "crackviewer-workspace" / "runs"

    def new_run_dir(self) -> Path:
        name = self.name_edit.text().strip()
        if not name:
            preset = self.preset_combo.currentData()
            prefix = preset if preset in self.presets else "custom"
            name = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
        safe = "".join(c if (c.isalnum() or c in "-_.") else "_" for c in name)
        return self.workspace_runs() / safe

    def start(self) -> bool:
        """Start a new run with the form's parameters. Returns False (and says why) when it cannot."""
        if self.worker.is_running():
            return False
        if self.data_path is None:
            self._show_error("No dataset", "Open a dataset in the Dataset tab first (or create the demo dataset).",
                             [], resumable=False)
            return False
        from trainer.config import load_config
        from trainer.errors import ConfigError
        from crackviewer.train.training_process import format_override

        try:
            load_config(None, [format_override(k, v) for k, v in self.overrides().items()])
        except ConfigError as exc:
            self._show_error("Invalid run parameters", exc.message, [], resumable=False)
            return False
        run_dir = self.new_run_dir()
        if (run_dir / "events.jsonl").exists() or (run_dir / "config.toml").exists():
            self._show_error("Run folder exists", f"{run_dir} already holds a run. Choose another run name, or "
                             "open that run in the Runs tab to resume it.", [], resumable=False)
            return False
        self.name_edit.clear()
        self._launch(run_dir, resume=False)
        return True

    def resume(self) -> bool:
        """Resume self.resume_target (or the current run) from its last checkpoint."""
        target = self.resume_target or self.run_dir
        if target is None or self.worker.is_running():
            return False
        data = self._run_data_path(target) or self.data_path
        if data is None:
            self._show_error("No dataset", f"Cannot tell which dataset {target} was trained on; open it in the "
                             "Dataset tab and press Resume again.", [], resumable=False)
            return False
        self.data_path = Path(data) if self.data_path is None else self.data_path
        self._launch(Path(target), resume=True, data=Path(data))
        return True

    def _run_data_path(self, run_dir: Path) -> Path | None:
        try:
            from trainer.runfolder import RunFolder

            p = RunFolder(run_dir).data_path
            return p if p and p.exists() else None
        except Exception:  # noqa: BLE001
            return None

    def _launch(self, run_dir: Path, resume: bool, data: Path | None = None) -> None:
        self.run_dir = run_dir
        self.resume_target = None
        self.error_banner.setVisible(False)
        self.last_outcome = None
        self.last_step = None
        self.last_evaluation = None
        self.run_started_event = None
        self.events_received = 0
        if resume:
            self.plots.load_run(run_dir)   # the curves so far; the new run_started truncates what gets replayed
            self._append_log([f"— resuming {run_dir} —"])
        else:
            self.plots.reset()
            self.plots.set_config(self.config())
            self.log_view.clear()
        self.run_label.setText(run_dir.name)
        self.run_label.setToolTip(str(run_dir))
        self._reset_stats()
        self._t_start = time.monotonic()
        self._elapsed_timer.start()
        self.worker.start(data or self.data_path, run_dir, None if resume else self.overrides(), resume=resume)
        self._set_state("starting")
        if self.settings is not None:
            self.settings.last_run = str(run_dir)
        self.runStarted.emit(str(run_dir))

    def stop(self) -> None:
        if not self.worker.is_running():
            return
        if self.state == "stopping":
            self._append_log(["crackviewer: killing the worker (second Stop)"])
            self.worker.kill()
            return
        self.worker.request_stop()
        self._set_state("stopping")

    def kill_worker(self) -> None:
        self.worker.kill()

    def set_resume_target(self, run_dir: str | Path | None) -> None:
        """Offer Resume for an earlier run (from the Runs tab); loads its config and curves."""
        if self.worker.is_running():
            return
        if run_dir is None:
            self.resume_target = None
            self._update_buttons()
            return
        run_dir = Path(run_dir)
        self.resume_target = run_dir
        self.run_dir = run_dir
        try:
            from trainer.runfolder import RunFolder

            rf = RunFolder(run_dir)
            cfg = rf.config_or_empty()
            if cfg:
                self.set_config(cfg)
            status = rf.status
        except Exception:  # noqa: BLE001
            status = "failed"
        self.plots.load_run(run_dir)
        self.run_label.setText(run_dir.name)
        self.run_label.setToolTip(str(run_dir))
        self.log_view.setPlainText("\n".join(tail_lines(run_dir / "log.txt", 200)))
        self._set_state(status if status in ("finished", "stopped", "failed") else "idle")
        self._update_buttons()

    # ------------------------------------------------------------------------------------------- events
    def _on_events(self, events: list[dict]) -> None:
        self.events_received += len(events)
        self.plots.add_events(events)
        for ev in events:
            kind = ev.get("event")
            if kind == "step":
                self.last_step = ev
            elif kind == "run_started":
                self.run_started_event = ev
                if self.state in ("starting", "idle"):
                    self._set_state("running")
                prec = ev.get("precision", "")
                cl = " + channels_last" if ev.get("channels_last") else ""
                params = ev.get("parameters")
                self.device_label.setText(f"{ev.get('device', '?')} · {prec}{cl}"
                                          + (f" · {params:,} parameters" if isinstance(params, int) else ""))
            elif kind == "epoch":
                self.last_step = dict(self.last_step or {}, epoch=ev.get("epoch"), epochs=ev.get("epochs"),
                                      step=(self.last_step or {}).get("steps", 1),
                                      steps=(self.last_step or {}).get("steps", 1))
            elif kind == "validation":
                self._update_best_ap()
            elif kind == "checkpoint" and ev.get("kind") == "final":
                if self.state == "running":
                    self._set_state("evaluating")
            elif kind == "evaluation":
                self.last_evaluation = ev
        self._update_progress()

    def _update_best_ap(self) -> None:
        vals = self.plots.val["ap"].values
        if vals:
            e, ap = max(vals.items(), key=lambda kv: kv[1])
            self.stat_labels["val"].setText(f"{ap:.4f}")
            self.stat_labels["val"].setToolTip(f"epoch {e}")

    def _update_progress(self) -> None:
        ev = self.last_step
        if not ev:
            return
        epoch, epochs = int(ev.get("epoch") or 0), int(ev.get("epochs") or 0)
        step, steps = int(ev.get("step") or 0), max(1, int(ev.get("steps") or 1))
        if epochs:
            frac = ((epoch - 1) + step / steps) / epochs
            self.progress.setValue(int(round(1000 * max(0.0, min(1.0, frac)))))
            self._progress_text(f"{100 * frac:.1f} %  ·  epoch {epoch} of {epochs}")
        self.stat_labels["epoch"].setText(f"{epoch} / {epochs}" if epochs else "–")
        self.stat_labels["step"].setText(f"{step} / {steps}")
        ips = ev.get("images_per_s")
        if isinstance(ips, (int, float)):
            self.stat_labels["speed"].setText(f"{ips:.1f}")
        eta = ev.get("eta_s")
        if self.state == "evaluating":
            self.stat_labels["eta"].setText("evaluating")
        elif isinstance(eta, (int, float)):
            self.stat_labels["eta"].setText(human_duration(eta))

    def _progress_text(self, text: str) -> None:
        self.progress.setFormat(text)
        self.progress_label.setText(text)

    def _tick(self) -> None:
        if self._t_start is not None:
            self.stat_labels["elapsed"].setText(human_duration(time.monotonic() - self._t_start))

    def _reset_stats(self) -> None:
        for lab in self.stat_labels.values():
            lab.setText("–")
        self.progress.setValue(0)
        self._progress_text("")
        self.device_label.setText("")

    def _on_log_lines(self, lines: list[str]) -> None:
        self._append_log(lines)

    def _append_log(self, lines: list[str]) -> None:
        if lines:
            self.log_view.appendPlainText("\n".join(lines))

    def _on_ended(self, outcome: dict) -> None:
        self._elapsed_timer.stop()
        self._tick()
        self.last_outcome = outcome
        status = outcome["status"]
        if status == "finished":
            self.progress.setValue(1000)
            ev = self.last_evaluation or {}
            parts = []
            for key, title in (("auc", "AUC"), ("ap", "AP"), ("dice_mean", "Dice"), ("iou_mean", "IoU")):
                if isinstance(ev.get(key), (int, float)):
                    parts.append(f"{title} {ev[key]:.4f}")
            self._progress_text("finished" + (" · test " + ", ".join(parts) if parts else ""))
            self.stat_labels["eta"].setText("done")
        elif status == "stopped":
            self._progress_text(self.progress.format().split("  ·")[0] + "  ·  stopped")
            self.stat_labels["eta"].setText("stopped")
        else:
            self.stat_labels["eta"].setText("–")
            title = "The training process crashed" if status == "crashed" else "Training failed"
            if outcome.get("error_kind") == "oom":
                title = "Training ran out of memory"
            tail = []
            if outcome.get("log_tail"):
                tail += [f"── {self.run_dir / 'log.txt' if self.run_dir else 'log.txt'} (last lines) ──"]
                tail += outcome["log_tail"][-20:]
            if outcome.get("stderr_tail"):
                tail += ["── worker output (last lines) ──"] + outcome["stderr_tail"][-20:]
            self._show_error(title, outcome["message"], tail, resumable=bool(outcome.get("resumable")))
        self.resume_target = Path(outcome["run_dir"]) if outcome.get("resumable") else None
        self._set_state(status)
        self._append_log([f"— {outcome['message'].splitlines()[0]} —"])
        self.runEnded.emit(str(self.run_dir) if self.run_dir else "", outcome)

    def _show_error(self, title: str, message: str, tail: list[str], resumable: bool) -> None:
        self.error_title.setText(title)
        self.error_message.setText(message)
        self.error_log.setPlainText("\n".join(tail))
        self.error_log.setVisible(bool(tail) and self.error_toggle.isChecked())
        self.error_toggle.setVisible(bool(tail))
        self.error_resume.setVisible(resumable)
        self.error_banner.setVisible(True)
        if tail:
            sb = self.error_log.verticalScrollBar()
            sb.setValue(sb.maximum())

    # ------------------------------------------------------------------------------------------- state
    def _set_state(self, state: str) -> None:
        self.state = state
        titles = {"idle": "Idle", "starting": "Starting…", "running": "Training", "stopping": "Stopping…",
                  "evaluating": "Evaluating test split", "finished": "Finished", "stopped": "Stopped",
                  "failed": "Failed", "crashed": "Crashed"}
        self.state_badge.setText(titles.get(state, state))
        self.state_badge.setStyleSheet(f"background:{STATE_COLOURS.get(state, '#7a828c')};")
        self._update_buttons()
        self.stateChanged.emit(state)

    def _update_buttons(self) -> None:
        running = self.worker.is_running()
        self.start_button.setEnabled(not running and self.data_path is not None)
        self.stop_button.setEnabled(running)
        self.stop_button.setText("Kill now" if self.state == "stopping" else "Stop")
        target = self.resume_target
        can_resume = (not running and target is not None
                      and (Path(target) / "checkpoints" / "last.pth").is_file())
        self.resume_button.setEnabled(can_resume)
        self.form.setEnabled(not running)
        for w in (self.preset_combo, self.device_combo, self.precision_combo, self.name_edit):
            w.setEnabled(not running)
        has_run = self.run_dir is not None
        self.show_run_button.setEnabled(has_run)
        self.inspect_button.setEnabled(has_run and self.state == "finished")

    def is_training(self) -> bool:
        return self.worker.is_running()

    def shutdown(self, timeout_ms: int = 15_000) -> None:
        """Stop the worker (it saves its last completed epoch), waiting up to timeout_ms, then kill it."""
        if self.worker.is_running():
            self.worker.request_stop(grace_s=timeout_ms / 1000)
            if not self.worker.wait(timeout_ms):
                self.worker.kill()
                self.worker.wait(5000)
