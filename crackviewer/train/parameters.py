"""The left side of the Train tab: the Run box (dataset, run name, preset, device, precision), the config form and
Start / Stop / Resume; presets, the form's config and the device probe's answer.

`ParametersMixin` is the part of `TrainingPanel` that owns this."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from crackviewer.runs.retrain import finetune_name, retrain_config
from crackviewer.train.form import ConfigForm
from trainer.config import DEFAULTS
from trainer.errors import CrackError


PRESET_TITLES = {"published": "Published run", "quick": "Quick CPU"}


class ParametersMixin:
    def _build_parameters(self) -> QWidget:
        """The left column: the Run box (dataset, name, preset, device, precision), the config form, the buttons."""
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
        rf.addRow("Weights", self._build_starts_from())
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
        self.nice_spin = QSpinBox()
        self.nice_spin.setRange(0, 19)
        self.nice_spin.setSpecialValueText("normal (as fast as the CLI)")
        self.nice_spin.setPrefix("nice ")
        self.nice_spin.setToolTip("CPU priority of the training worker. Normal trains as fast as crack-train in a "
                                  "terminal; a higher nice level (up to 19) keeps the app responsive on a machine "
                                  "with few cores, at the cost of training speed.")
        if self.settings is not None:
            self.nice_spin.setValue(self.settings.worker_nice)
            self.nice_spin.valueChanged.connect(lambda v: setattr(self.settings, "worker_nice", v))
        rf.addRow("Worker priority", self.nice_spin)
        self.device_combo.currentIndexChanged.connect(self._on_form_changed)
        self.precision_combo.currentIndexChanged.connect(self._on_form_changed)
        lv.addWidget(run_box)

        self.form = ConfigForm()
        self.form.widgets["init_from"].setReadOnly(True)     # set by Retrain from this run, cleared below
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
        self.resume_reason = QLabel("")
        self.resume_reason.setObjectName("resumeReason")
        self.resume_reason.setWordWrap(True)
        lv.addWidget(self.resume_reason)
        return left

    def _build_starts_from(self) -> QWidget:
        """"Starts from: <run>" (the form's init_from, read-only) and a button that clears it."""
        box = QWidget()
        h = QHBoxLayout(box)
        h.setContentsMargins(0, 0, 0, 0)
        self.starts_from_label = QLabel("")
        self.starts_from_label.setObjectName("startsFrom")
        self.starts_from_label.setWordWrap(True)
        self.starts_from_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        h.addWidget(self.starts_from_label, 1)
        self.clear_init_button = QPushButton("Clear")
        self.clear_init_button.setToolTip("Start from random weights instead (a new model, not a fine-tune)")
        self.clear_init_button.clicked.connect(lambda: self.form.set_values({"init_from": ""}))
        h.addWidget(self.clear_init_button)
        return box

    def _update_starts_from(self) -> None:
        value = self.form.value("init_from") if hasattr(self, "form") else ""
        if value:
            self.starts_from_label.setText(f"Starts from: <b>{Path(value).name}</b>")
            self.starts_from_label.setToolTip(f"Fine-tune: the weights of {value} (its best, else final, else last "
                                              "checkpoint) start this run")
        else:
            self.starts_from_label.setText("<i>random initialisation (a new model)</i>")
            self.starts_from_label.setToolTip("Retrain from this run (Runs tab) starts a run from a run's weights")
        self.clear_init_button.setVisible(bool(value))

    def prepare_retrain(self, run_dir: str | Path) -> None:
        """Fill the form for a fine-tune of `run_dir` (its config, init_from = the run, a short schedule) and name
        the new run `<old>-ftN`; the user presses Start. ValueError/ConfigError when the run cannot be retrained."""
        cfg = retrain_config(run_dir)
        self.set_config(cfg)
        runs = self.workspace_runs()
        taken = {p.name for p in runs.iterdir()} if runs.is_dir() else set()
        self.name_edit.setText(finetune_name(Path(run_dir).name, taken))

    def retrain_from(self, run_dir: str | Path) -> None:
        """The Train tab's own "Retrain from this run" (a run that just finished here)."""
        try:
            self.prepare_retrain(run_dir)
        except (ValueError, CrackError) as exc:
            self._show_error("Cannot retrain from this run", str(exc), [], resumable=False)

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

    def _sync_preset_combo(self) -> None:
        cfg = self.config()
        for name, values in self.presets.items():
            if all(cfg.get(k) == v for k, v in values.items()):
                self._select_combo(self.preset_combo, name)
                return
        self._select_combo(self.preset_combo, "custom")

    def _on_form_changed(self, *_):
        self._update_starts_from()
        self._sync_preset_combo()
        if self.settings is not None:
            self.settings.set_json("train_form", self.config())

    def _restore_form(self) -> None:
        if self.settings is None:
            return
        saved = self.settings.get_json("train_form")
        if isinstance(saved, dict):
            self.set_config({k: v for k, v in saved.items() if k in DEFAULTS})

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
