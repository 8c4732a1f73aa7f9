"""Sample records: what one sample of a dataset is, and the names shared by every layout."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import re


MANIFEST = "manifest.csv"
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
CHANNEL_ORDER = "RGB"
LAYOUTS = ("manifest", "khanhha", "reference", "ksdd2")
SPLIT_ORDER = ("train", "val", "test")
ALL_SPLIT = "all"

_REFERENCE_DIR = re.compile(r"^(train|val|test)_(positive|negative)$")
_LOOKED_FOR = (
    "looked for: manifest.csv with images/ and masks/ (manifest layout); train/images/ and test/images/ "
    "(khanhha layout); {train,val,test}_{positive,negative}/ (reference layout); train/ and test/ holding "
    "<id>.png with <id>_GT.png (KSDD2 layout)"
)


@dataclass(frozen=True)
class SampleRecord:
    name: str            # unique within the dataset (file stem, or split-prefixed if needed); never contains "/"
    image_path: Path
    mask_path: Path      # where the mask is, or where it WOULD be written in this layout (annotation writes here)
    has_mask: bool       # mask file exists
    label: int           # 1 crack, 0 crack-free
    split: str           # "train" | "val" | "test" | other name ("all" for a manifest without a split column)


def _split_sort_key(name: str):
    return (SPLIT_ORDER.index(name), "") if name in SPLIT_ORDER else (len(SPLIT_ORDER), name)
