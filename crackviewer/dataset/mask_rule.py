"""Dataset tab: the issue-15 mask check. After a dataset opens, its crack masks are checked in the background
(`trainer.datasets.maskcheck`); when masks are stored as 0/1, 0/100, 16 bits or colour (the default `threshold` rule
would read them as empty), a box says so and offers "Read masks as nonzero", which sets the training form's
`mask_rule` key."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from crackviewer.qt.tasks import TaskRunner
from trainer.datasets.maskcheck import DEFAULT_MASK_RULE, check_mask_files


def misread_masks(records, rule: str = DEFAULT_MASK_RULE):
    """The "format" findings of every crack mask of `records` under `rule` (runs on a pool thread)."""
    items = [(r.mask_path, r.label) for r in records if r.has_mask and r.label]
    return [f for f in check_mask_files(items, rule=rule, workers=2) if f.kind == "format"]


class MaskRuleBox(QFrame):
    """Hidden unless the masks need the `nonzero` rule; ruleChosen(rule) when the user picks it."""

    ruleChosen = Signal(str)
    checked = Signal(int)          # number of misread masks found

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("maskRuleBox")
        self.findings: list = []
        self.rule = DEFAULT_MASK_RULE
        self.tasks = TaskRunner(self, threads=1)
        self._generation = 0
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        self.text = QLabel("")
        self.text.setObjectName("warningBox")
        self.text.setWordWrap(True)
        v.addWidget(self.text)
        row = QHBoxLayout()
        row.addStretch(1)
        self.nonzero_button = QPushButton("Read masks as nonzero")
        self.nonzero_button.setToolTip('Set the training key mask_rule = "nonzero": any mask value above 0 is crack')
        self.nonzero_button.clicked.connect(self._choose_nonzero)
        row.addWidget(self.nonzero_button)
        v.addLayout(row)
        self.setVisible(False)

    def check(self, records) -> None:
        """Check the masks of a freshly opened dataset in the background."""
        self._generation += 1
        gen = self._generation
        self.findings = []
        self.rule = DEFAULT_MASK_RULE
        self.setVisible(False)
        records = list(records)
        self.tasks.run(lambda: misread_masks(records), lambda found: self._done(found, gen))

    def _done(self, findings: list, gen: int) -> None:
        if gen != self._generation:
            return
        self.findings = findings
        if findings:
            first = findings[0]
            self.text.setText(f"<b>{len(findings)} crack mask{'s are' if len(findings) != 1 else ' is'} stored in a "
                              f"way the default rule reads as (nearly) empty</b>, e.g. {first.file}: "
                              f"{first.reason.split(';')[0]}.<br>Training would learn empty targets. Read the "
                              "masks as nonzero (any value above 0 is crack), or re-save them as 0/255.")
            self.nonzero_button.setEnabled(True)
        self.setVisible(bool(findings))
        self.checked.emit(len(findings))

    def _choose_nonzero(self) -> None:
        self.rule = "nonzero"
        self.nonzero_button.setEnabled(False)
        self.text.setText(self.text.text().split("<br>")[0] + "<br>✓ The training form now reads masks as nonzero "
                          "(mask_rule = nonzero).")
        self.ruleChosen.emit("nonzero")
