"""The Export menu of the Inspect tab (Qt dialogs around :mod:`crackviewer.inspect.export`): save thresholds for
``crack-train predict`` (with a word about leakage when they were chosen on the test split), per-sample CSV, masks."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QProgressDialog

from crackviewer.inspect import export as X
from trainer.errors import CrackError


def save_thresholds(panel, run_dir: str | Path | None = None) -> Path:
    m = panel.model
    path = X.save_thresholds(m, run_dir)
    panel.message.emit(f"saved {path}: crack-train predict now uses seg {m.seg_threshold:.4f}, "
                       f"image {m.image_threshold:.4f}{', gated' if m.gated else ''}")
    return path


def on_save_thresholds(panel) -> None:
    m = panel.model
    leak = X.leakage_warning(m)
    if leak is not None:
        answer = QMessageBox.question(panel, "Thresholds chosen on the test split", leak + "\n\nSave them anyway?",
                                      QMessageBox.Save | QMessageBox.Cancel, QMessageBox.Cancel)
        if answer != QMessageBox.Save:
            return
    try:
        run = m.evaluation.run_dir
        if run is None:
            d = QFileDialog.getExistingDirectory(panel, "Run folder to save thresholds.json into")
            if not d:
                return
            run = Path(d)
        path = save_thresholds(panel, run)
        QMessageBox.information(panel, "Thresholds saved", f"{path}\n\nseg threshold {m.seg_threshold:.4f}"
                                f"\nimage threshold {m.image_threshold:.4f}\n"
                                f"gated: {'yes' if m.gated else 'no'}\n\n`crack-train predict --run "
                                f"{run}` uses them.")
    except CrackError as exc:
        QMessageBox.warning(panel, "Could not save thresholds", str(exc))

def on_export_csv(panel) -> None:
    ev = panel.model.evaluation
    default = str((ev.run_dir or ev.dir) / f"results_{ev.split or 'split'}_seg{panel.model.seg_threshold:.3f}.csv")
    path, _ = QFileDialog.getSaveFileName(panel, "Per-sample CSV", default, "CSV (*.csv)")
    if path:
        try:
            panel.export_csv(path)
            panel.message.emit(f"wrote {path}")
        except CrackError as exc:
            QMessageBox.warning(panel, "Could not export", str(exc))


def on_export_masks(panel) -> None:
    d = QFileDialog.getExistingDirectory(panel, "Folder for the binary masks")
    if not d:
        return
    dlg = QProgressDialog("Writing masks…", "Cancel", 0, panel.model.n, panel)
    dlg.setWindowModality(Qt.WindowModal)

    def progress(done, total):
        dlg.setValue(done)

        QApplication.processEvents()
        return not dlg.wasCanceled()

    try:
        res = panel.export_masks(d, progress=progress)
        panel.message.emit(f"wrote {res['written']} masks to {d}")
    except CrackError as exc:
        QMessageBox.warning(panel, "Could not export", str(exc))
    finally:
        dlg.close()
