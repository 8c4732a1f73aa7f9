"""Image labels written the dataset layout's way (see :mod:`crackviewer.annotate.mask_store`). Qt-free.

- ``manifest``: one locked, atomic read-modify-write of ``manifest.csv``
  (:func:`trainer.datasets.lock.update_manifest_labels`): only the sample's ``label`` cell changes, and label
  changes other processes made meanwhile are kept;
- ``khanhha`` and ``reference`` encode the label in file or folder names; renaming files would break names used by
  run folders, so the change goes to ``<dataset>/.crackviewer/labels.json`` (``{"<name>": 0|1}``; an entry is
  dropped when it equals the layout's own label), which ``trainer.datasets.layouts.open_dataset`` applies;
- ``ksdd2``: the label *is* "the mask has crack pixels": nothing to write.
"""
from __future__ import annotations

import json
from pathlib import Path

from trainer.atomic import atomic_write_text
from trainer.datasets.layouts import LABEL_OVERRIDES
from trainer.datasets.lock import update_manifest_labels
from trainer.datasets.records import SampleRecord
from trainer.atomic import WriteError, write_error
from trainer.errors import CrackError, DataError

class MaskSaveError(CrackError):
    """A mask, label or backup could not be written; the message names the file and the reason."""

    kind = "data"


def save_error(e: CrackError) -> MaskSaveError:
    """The same failure as a :class:`MaskSaveError` (the message already names the file)."""
    err = MaskSaveError(e.message)
    err.file = e.file
    return err


class LabelWriter:
    """Writes label changes of one dataset in its layout (module docstring)."""

    def __init__(self, root: Path, layout: str, backup_dir: Path):
        self.root = Path(root)
        self.layout = layout
        self.labels_path = self.root / LABEL_OVERRIDES
        self.backup_dir = Path(backup_dir)
        self.overrides = self._read_overrides()

    def apply_overrides(self, rec: SampleRecord) -> int:
        """The label of ``rec`` with this dataset's overrides applied."""
        if rec.name in self.overrides and self.layout in ("khanhha", "reference"):
            return int(self.overrides[rec.name])
        return rec.label

    def write(self, rec: SampleRecord, label: int) -> None:
        """Write ``label`` for ``rec``; raises :class:`MaskSaveError` naming the file on failure."""
        try:
            if self.layout == "manifest":
                update_manifest_labels(self.root, {rec.name: label}, backup=self.backup_dir / "manifest.csv")
            elif self.layout in ("khanhha", "reference"):
                ov = dict(self.overrides)
                if label == self.layout_label(rec):
                    ov.pop(rec.name, None)
                else:
                    ov[rec.name] = label
                try:
                    atomic_write_text(self.labels_path, json.dumps(ov, indent=1, sort_keys=True) + "\n")
                except OSError as e:
                    raise write_error(e, self.labels_path) from None
                self.overrides = ov
        except (DataError, WriteError) as e:
            raise save_error(e) from None

    def layout_label(self, rec: SampleRecord) -> int:
        """The label the layout itself gives a sample (before any override)."""
        if self.layout == "khanhha":
            return 0 if Path(rec.image_path).stem.lower().startswith("noncrack") else 1
        if self.layout == "reference":
            return 1 if Path(rec.image_path).parent.name.endswith("_positive") else 0
        return rec.label

    def _read_overrides(self) -> dict[str, int]:
        try:
            data = json.loads(self.labels_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read the label overrides ({e})", file=self.labels_path) from None
        if not isinstance(data, dict):
            raise DataError("label overrides must be a JSON object {name: 0|1}", file=self.labels_path)
        return {str(k): 1 if v else 0 for k, v in data.items()}
