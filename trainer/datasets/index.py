"""DatasetIndex: the whole dataset on disk (records by split and name); no pixels loaded."""
from __future__ import annotations

from pathlib import Path

from trainer.datasets.records import SampleRecord, _split_sort_key
from trainer.datasets.validation import validate_records
from trainer.errors import DataError


class DatasetIndex:
    """The whole dataset on disk; no pixels loaded.

    Attributes: ``root`` (Path), ``layout`` (one of :data:`LAYOUTS`), ``samples`` (list of :class:`SampleRecord`),
    ``bad`` (list of ``(file, reason)`` of skipped bad samples), ``warnings`` (list of str, e.g. one-class splits),
    ``single_split`` (True for a manifest without a split column: every sample is in split ``"all"``).
    """

    def __init__(self, root: Path, layout: str, samples: list[SampleRecord], bad=None, warnings=None,
                 single_split: bool = False):
        self.root = Path(root)
        self.layout = layout
        self.samples = list(samples)
        self.bad: list[tuple[str, str]] = list(bad or [])
        self.warnings: list[str] = list(warnings or [])
        self.single_split = single_split
        self._by_name = {s.name: s for s in self.samples}

    def __repr__(self) -> str:
        return f"DatasetIndex({str(self.root)!r}, layout={self.layout!r}, samples={len(self.samples)}, bad={len(self.bad)})"

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def splits(self) -> list[str]:
        """Split names present, in the order train, val, test, then others alphabetically."""
        return sorted({s.split for s in self.samples}, key=_split_sort_key)

    def split(self, name: str) -> list[SampleRecord]:
        """Records of split ``name``. A manifest without a split column has one split, ``"all"``, and returns it
        for any name. An unknown or empty split raises :class:`DataError` listing the available splits."""
        if self.single_split:
            recs = list(self.samples)
        else:
            recs = [s for s in self.samples if s.split == name]
        if not recs:
            avail = ", ".join(f"{k} ({v['positives'] + v['negatives']})" for k, v in self.counts().items()) or "none"
            raise DataError(f"split {name!r} is empty or does not exist in this {self.layout} dataset; "
                            f"available splits: {avail}", file=self.root)
        return recs

    def counts(self) -> dict:
        """``{split: {"positives", "negatives", "segmented", "weak"}}``; segmented = positives with a mask file,
        weak = positives without one."""
        out: dict[str, dict[str, int]] = {}
        for sp in self.splits:
            c = {"positives": 0, "negatives": 0, "segmented": 0, "weak": 0}
            for s in self.samples:
                if s.split != sp:
                    continue
                if s.label == 1:
                    c["positives"] += 1
                    c["segmented" if s.has_mask else "weak"] += 1
                else:
                    c["negatives"] += 1
            out[sp] = c
        return out

    def sample_by_name(self, name: str) -> SampleRecord:
        try:
            return self._by_name[name]
        except KeyError:
            raise DataError(f"no sample named {name!r} in this {self.layout} dataset", file=self.root) from None

    def validate(self, skip_bad: bool = False) -> list[tuple[str, str]]:
        """Decode every file once (see :func:`validate_records`); with ``skip_bad`` drop bad samples and add them to
        ``bad``. Returns the bad samples found by this call."""
        good, bad = validate_records(self.samples, skip_bad=skip_bad, warnings=self.warnings)
        self.samples = good
        self._by_name = {s.name: s for s in good}
        self.bad.extend(bad)
        return bad
