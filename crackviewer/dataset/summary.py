"""The summary side of the Dataset tab: the counts table and composition bars, the list of bad samples, the
sample filters, the full file check, and creating the demo dataset.

`DatasetSummaryMixin` is the part of `DatasetView` that fills them."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt

from crackviewer.dataset.widgets import SPLIT_TITLES, table_item
from crackviewer.train.trainer_commands import TrainerCommand
from trainer.datasets.validation import validate_records


LAYOUT_NOTES = {
    "manifest": "<b>manifest</b> layout: <tt>manifest.csv</tt> (name,label[,split]), <tt>images/</tt>, "
                "<tt>masks/&lt;name&gt;.png</tt>.",
    "khanhha": "<b>khanhha</b> layout: <tt>{train,test}/{images,masks}/</tt> (JPEG masks, <tt>noncrack_*</tt> "
               "negatives); val is carved out of train (seeded, stratified).",
    "reference": "<b>reference</b> layout: <tt>{train,val,test}_{positive,negative}/&lt;n&gt;.jpg</tt> with "
                 "<tt>&lt;n&gt;_GT.jpg</tt> masks.",
    "ksdd2": "<b>KSDD2</b> layout: <tt>{train,test}/&lt;id&gt;.png</tt> with <tt>&lt;id&gt;_GT.png</tt>; val is "
             "carved out of train.",
}


class DatasetSummaryMixin:
    def _fill_counts(self) -> None:
        counts = self.index.counts()
        rows = list(counts.items())
        t = self.counts_table
        t.setRowCount(len(rows) + 1)
        tot = {"positives": 0, "negatives": 0, "segmented": 0, "weak": 0}
        for i, (sp, c) in enumerate(rows):
            t.setItem(i, 0, table_item(SPLIT_TITLES.get(sp, sp), align=Qt.AlignmentFlag.AlignLeft))
            t.setItem(i, 1, table_item(f"{c['positives']:,}"))
            t.setItem(i, 2, table_item(f"{c['negatives']:,}"))
            t.setItem(i, 3, table_item(f"{c['positives'] + c['negatives']:,}"))
            t.setItem(i, 4, table_item(f"{c['segmented']:,}"))
            t.setItem(i, 5, table_item(f"{c['weak']:,}"))
            for k in tot:
                tot[k] += c[k]
        r = len(rows)
        t.setItem(r, 0, table_item("Sum", True, Qt.AlignmentFlag.AlignLeft))
        t.setItem(r, 1, table_item(f"{tot['positives']:,}", True))
        t.setItem(r, 2, table_item(f"{tot['negatives']:,}", True))
        t.setItem(r, 3, table_item(f"{tot['positives'] + tot['negatives']:,}", True))
        t.setItem(r, 4, table_item(f"{tot['segmented']:,}", True))
        t.setItem(r, 5, table_item(f"{tot['weak']:,}", True))
        t.resizeRowsToContents()
        h = t.horizontalHeader().height() + sum(t.rowHeight(i) for i in range(t.rowCount())) + 2 * t.frameWidth()
        t.setFixedHeight(h + 2)
        pos = tot["positives"]
        if pos:
            pct = 100.0 * tot["segmented"] / pos
            self.supervision.setText(
                f"<b>Supervision.</b> {tot['segmented']:,} of {pos:,} positives are <b>segmented</b> "
                f"({pct:.0f} %): they have a pixel mask and get the segmentation loss. "
                f"{tot['weak']:,} are <b>weakly labelled</b> (image label only, classification loss only)."
                + ("" if tot["weak"] else " This is fully supervised training, as in the published run."))
        else:
            self.supervision.setText("<b>Supervision.</b> No crack images in this dataset.")
        self.counts = counts
        self.totals = tot
        self.composition.set_counts(counts)
        note = LAYOUT_NOTES.get(self.index.layout, f"<b>{self.index.layout}</b> layout.")
        if self.index.bad:
            note += f" {len(self.index.bad)} sample(s) were skipped when indexing (see Problems)."
        self.layout_note.setText(note + " Masks drawn in Annotate are written in this layout.")

    def _fill_problems(self) -> None:
        bad = list(self.index.bad) + [b for b in self.file_bad if b not in self.index.bad]
        t = self.bad_table
        t.setRowCount(len(bad))
        for i, (f, reason) in enumerate(bad):
            name = Path(f).name
            it = table_item(name, align=Qt.AlignmentFlag.AlignLeft)
            it.setToolTip(str(f))
            t.setItem(i, 0, it)
            it2 = table_item(reason, align=Qt.AlignmentFlag.AlignLeft)
            it2.setToolTip(reason)
            t.setItem(i, 1, it2)
        t.resizeRowsToContents()
        t.setVisible(bool(bad))
        self._left_layout.setStretch(self._left_layout.count() - 1, 0 if bad else 1)
        self.problems_title.setText(f"Problems ({len(bad)} bad sample{'s' if len(bad) != 1 else ''})" if bad
                                    else "Problems")
        warns = list(self.index.warnings) + [w for w in self.check_warnings if w not in self.index.warnings]
        if warns:
            self.warnings_label.setText("<b>Warnings</b><br>" + "<br>".join(f"• {w}" for w in warns[:12])
                                        + (f"<br>… and {len(warns) - 12} more" if len(warns) > 12 else ""))
        self.warnings_label.setVisible(bool(warns))

    def start_check(self) -> None:
        """Decode every image and mask in the background and list the bad ones with their reasons."""
        if self.index is None:
            return
        records = list(self.index.samples)
        gen = self._generation
        self.checking = True
        self.check_label.setText(f"Checking all {len(records):,} images and masks…")
        t0 = time.monotonic()

        def work():
            warns: list[str] = []
            _, bad = validate_records(records, skip_bad=True, warnings=warns)
            return bad, warns

        self.tasks.run(work, lambda r: self._checked(r, gen, time.monotonic() - t0),
                       lambda msg: self._check_failed(msg, gen))

    def _checked(self, result, gen: int, seconds: float) -> None:
        if gen != self._generation:
            return
        self.checking = False
        self.file_bad, self.check_warnings = result
        self.check_label.setText(f"All {len(self.index.samples):,} images and masks decoded in {seconds:.1f} s: "
                                 + (f"<b style='color:#b00020'>{len(self.file_bad)} bad</b>." if self.file_bad
                                    else "no problems."))
        self._fill_problems()
        self.checkFinished.emit(list(self.file_bad))
        self.mask_rule_box.check(self.index.samples)

    def _maybe_measure(self, *_) -> None:
        """Measure the ground-truth cracks the first time the Widest cracks tab is shown for this dataset."""
        if self.right_tabs.currentWidget() is self.widest and self.index is not None \
                and self._generation not in self._measured_gen:
            self._measured_gen.add(self._generation)
            self.widest.measure(self.path, self.index.samples, self.mask_rule_box.rule)

    def bad_samples(self) -> list[tuple[str, str]]:
        return list(self.index.bad) + [b for b in self.file_bad if b not in self.index.bad] if self.index else []

    def _apply_filter(self) -> None:
        if self.index is None:
            return
        split = self.split_combo.currentData()
        kind = self.kind_combo.currentData()
        text = self.search.text().strip().lower()
        out = []
        for s in self.index.samples:
            if split is not None and s.split != split:
                continue
            if kind == "pos" and s.label != 1:
                continue
            if kind == "neg" and s.label != 0:
                continue
            if kind == "seg" and not (s.label == 1 and s.has_mask):
                continue
            if kind == "weak" and not (s.label == 1 and not s.has_mask):
                continue
            if text and text not in s.name.lower():
                continue
            out.append(s)
        self.model.set_records(out)
        self.shown_label.setText(f"{len(out):,} of {len(self.index.samples):,} samples shown · orange tint = "
                                 "ground-truth crack mask · double-click a tile to open it in Annotate")

    def create_demo(self) -> None:
        """`python -m trainer demo --out WORKSPACE/demo --data-only` in a QProcess, then open WORKSPACE/demo/dataset."""
        if self.workspace is None:
            self.welcome.status.setText("No workspace folder is set.")
            return
        if self.demo_process is not None and self.demo_process.is_running():
            return
        out = self.workspace / "demo"
        data = out / "dataset"
        if (data / "manifest.csv").is_file():
            self.welcome.status.setText(f"Opening the demo dataset in {data} …")
            self.open_dataset(data)
            self.demoCreated.emit(str(data))
            return
        out.mkdir(parents=True, exist_ok=True)
        self.welcome.set_busy(True, f"Generating the synthetic demo dataset in {data} …")
        proc = TrainerCommand(["demo", "--out", str(out), "--data-only"], self)
        proc.output.connect(lambda lines: self.welcome.log.appendPlainText("\n".join(lines)))
        proc.done.connect(lambda code, lines: self._demo_done(code, lines, data))
        self.demo_process = proc
        proc.start()

    def _demo_done(self, code: int, lines: list[str], data: Path) -> None:
        self.welcome.set_busy(False, "")
        self.welcome.log.setVisible(code != 0)
        if code != 0 or not (data / "manifest.csv").is_file():
            tail = "<br>".join(lines[-6:])
            self.welcome.status.setText(f"<span style='color:#b00020'>The demo dataset could not be created "
                                        f"(exit code {code}).</span><br><tt>{tail}</tt>")
            return
        self.open_dataset(data)
        self.demoCreated.emit(str(data))
