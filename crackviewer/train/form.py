"""The run-parameter form: one field per `FormKey` (train.form_keys), grouped; labels of values that differ from
the defaults are marked."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QLineEdit,
                               QSpinBox, QVBoxLayout, QWidget)

from crackviewer.qt.style import set_state
from crackviewer.train.form_keys import FormKey, form_keys


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
    """Every config key as a widget, grouped; changed() when any value changes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        groups = form_keys()
        self.keys: dict[str, FormKey] = {fk.key: fk for keys in groups.values() for fk in keys}
        self.defaults: dict[str, Any] = {k: fk.default for k, fk in self.keys.items()}
        self.widgets: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self.groups: dict[str, QGroupBox] = {}
        self._loading = False
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        for group, keys in groups.items():
            box = QGroupBox(group)
            form = QFormLayout(box)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setHorizontalSpacing(10)
            form.setVerticalSpacing(5)
            for fk in keys:
                w = self._make_widget(fk)
                label = QLabel(fk.title)
                label.setObjectName("formLabel")
                label.setMinimumWidth(168)
                label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                label.setToolTip(fk.tooltip)
                w.setToolTip(fk.tooltip)
                w.setObjectName(f"cfg_{fk.key}")
                self.widgets[fk.key] = w
                self.labels[fk.key] = label
                form.addRow(label, w)
            self.groups[group] = box
            lay.addWidget(box)
        self._update_markers()

    def _make_widget(self, fk: FormKey) -> QWidget:
        if fk.kind == "choice":
            w = QComboBox()
            for c in fk.choices:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(self._on_change)
        elif fk.kind == "bool":
            w = QCheckBox()
            w.toggled.connect(self._on_change)
        elif fk.kind in ("int", "float"):
            w = QSpinBox() if fk.kind == "int" else FloatSpin()
            if fk.kind == "float":
                w.setDecimals(7)
            w.setRange(fk.minimum, fk.maximum)
            w.setSingleStep(fk.step)
            w.setSuffix(fk.suffix)
            w.setSpecialValueText(fk.special_text)
            w.valueChanged.connect(self._on_change)
        else:
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
            set_state(label, "differs", "true" if self.value(key) != self.defaults[key] else "false")

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
        w = self.widgets[key]
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
