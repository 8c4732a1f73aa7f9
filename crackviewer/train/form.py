"""The run-parameter form: one field per key of THE config schema (`trainer.schema.KEYS`), in its groups
(`trainer.schema.GROUPS`); labels of values that differ from the defaults are marked. Nothing about a key (title,
help, range, step, choices, unit) is written here: only how a key of each type is shown."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QLineEdit,
                               QSpinBox, QVBoxLayout, QWidget)

from crackviewer.qt.style import set_state
from trainer.schema import GROUPS, KEYS, Key, input_size_warning

OWN_WIDGETS = {"device", "precision"}   # shown in the Run box, not in the generic groups


def field_kind(key: Key) -> str:
    """How the form shows a key: "choice" | "bool" | "int" | "float" | "text"."""
    if key.choices is not None:
        return "choice"
    return {bool: "bool", int: "int", float: "float"}.get(key.type, "text")


def tooltip(key: Key) -> str:
    return (f"<b>{key.name}</b> — {key.help}<br><br>Published run: <b>{key.published}</b><br>"
            f"Default here: <tt>{key.default}</tt>")


def form_groups() -> dict[str, list[Key]]:
    """{group: [Key, ...]} in the schema's group order, without the keys the Run box shows."""
    groups: dict[str, list[Key]] = {}
    for group in GROUPS:
        keys = [k for k in KEYS.values() if k.group == group and k.name not in OWN_WIDGETS]
        if keys:
            groups[group] = keys
    return groups


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
        groups = form_groups()
        self.keys: dict[str, Key] = {k.name: k for keys in groups.values() for k in keys}
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
                label.setWordWrap(True)           # long schema titles wrap instead of being cut
                label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                label.setToolTip(tooltip(fk))
                w.setToolTip(tooltip(fk))
                w.setObjectName(f"cfg_{fk.name}")
                self.widgets[fk.name] = w
                self.labels[fk.name] = label
                form.addRow(label, w)
            self.groups[group] = box
            lay.addWidget(box)
        self.size_warning = QLabel("")
        self.size_warning.setObjectName("formWarning")
        self.size_warning.setWordWrap(True)
        self.groups[KEYS["input_height"].group].layout().addRow(self.size_warning)
        self._update_markers()

    def _make_widget(self, fk: Key) -> QWidget:
        kind = field_kind(fk)
        if kind == "choice":
            w = QComboBox()
            for c in fk.choices:
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(self._on_change)
        elif kind == "bool":
            w = QCheckBox()
            w.toggled.connect(self._on_change)
        elif kind in ("int", "float"):
            w = QSpinBox() if kind == "int" else FloatSpin()
            if kind == "float":
                w.setDecimals(7)
            w.setRange(fk.min, fk.max)
            w.setSingleStep(fk.step or 1)
            w.setSuffix(f" {fk.unit}" if fk.unit else "")
            if fk.special and fk.min in fk.special:
                w.setSpecialValueText(fk.special[fk.min])
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
        warning = input_size_warning(self.value("input_height"), self.value("input_width"))
        self.size_warning.setText(f"⚠ Input size: {warning}." if warning else "")
        self.size_warning.setVisible(bool(warning))

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
