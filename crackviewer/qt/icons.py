"""Where the app's resources live (top-level `resources/`) and the icons drawn from them."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtGui import QIcon

_CANDIDATES = (Path(__file__).resolve().parents[2] / "resources",        # a checkout or an editable install
               Path(sys.prefix) / "share" / "crackviewer" / "resources")  # pip install (pyproject data-files)
RESOURCES = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
ICON_DIR = RESOURCES / "icons"


def icon(name: str) -> QIcon:
    """The icon `resources/icons/<name>.svg`; an empty icon when there is none (a missing file must not stop the app)."""
    path = ICON_DIR / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()
