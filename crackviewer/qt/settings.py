"""Persistent app settings (QSettings, INI format): workspace, last dataset, last run, window layout, training form.

Tests and scripts redirect the settings file with the `CRACKVIEWER_SETTINGS` environment variable (a path to an
.ini file) or the `--settings FILE` command-line option, so they never touch the user's real settings. The
workspace (where runs and the demo dataset live) comes from `--workspace`, `CRACKVIEWER_WORKSPACE`, the stored
setting, or defaults to `~/crackviewer-workspace`.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "crackviewer"
APPLICATION = "crackviewer"
ENV_SETTINGS = "CRACKVIEWER_SETTINGS"
ENV_WORKSPACE = "CRACKVIEWER_WORKSPACE"
DEFAULT_WORKSPACE = Path.home() / "crackviewer-workspace"


class AppSettings:
    """Typed access to the few values the app remembers between sessions."""

    def __init__(self, path: str | Path | None = None, workspace: str | Path | None = None):
        path = path or os.environ.get(ENV_SETTINGS) or None
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self.qsettings = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                                       ORGANISATION, APPLICATION)
        self._workspace_override = Path(workspace).expanduser() if workspace else None

    # -- location -----------------------------------------------------------------------------------------
    @property
    def file_name(self) -> str:
        return self.qsettings.fileName()

    @property
    def workspace(self) -> Path:
        """Folder that holds runs (`runs/`) and the demo dataset (`demo/`)."""
        if self._workspace_override is not None:
            return self._workspace_override
        env = os.environ.get(ENV_WORKSPACE)
        if env:
            return Path(env).expanduser()
        stored = self.qsettings.value("workspace", "", type=str)
        return Path(stored).expanduser() if stored else DEFAULT_WORKSPACE

    @workspace.setter
    def workspace(self, path: str | Path) -> None:
        self._workspace_override = Path(path).expanduser()
        self.qsettings.setValue("workspace", str(self._workspace_override))

    @property
    def runs_dir(self) -> Path:
        return self.workspace / "runs"

    # -- remembered paths ---------------------------------------------------------------------------------
    def _path(self, key: str) -> Path | None:
        value = self.qsettings.value(key, "", type=str)
        return Path(value) if value else None

    @property
    def last_dataset(self) -> Path | None:
        return self._path("last_dataset")

    @last_dataset.setter
    def last_dataset(self, path: str | Path | None) -> None:
        self.qsettings.setValue("last_dataset", str(path) if path else "")

    @property
    def last_run(self) -> Path | None:
        return self._path("last_run")

    @last_run.setter
    def last_run(self, path: str | Path | None) -> None:
        self.qsettings.setValue("last_run", str(path) if path else "")

    @property
    def recent_datasets(self) -> list[str]:
        return self.get_json("recent_datasets", [])

    def add_recent_dataset(self, path: str | Path) -> None:
        items = [str(path)] + [p for p in self.recent_datasets if p != str(path)]
        self.set_json("recent_datasets", items[:8])

    @property
    def opened_runs(self) -> list[str]:
        """Run folders opened with File ▸ Open run… or `--run` (listed in Runs wherever they are)."""
        return [p for p in self.get_json("opened_runs", []) if isinstance(p, str)]

    def add_opened_run(self, path: str | Path) -> None:
        path = str(Path(path).resolve())
        self.set_json("opened_runs", [path] + [p for p in self.opened_runs if p != path][:49])

    @property
    def worker_nice(self) -> int:
        """Nice level of the training worker: 0 = the CLI's speed; up to 19 to favour the GUI on few cores."""
        value = self.qsettings.value("worker_nice", 0)
        try:
            return max(0, min(19, int(value)))
        except (TypeError, ValueError):
            return 0

    @worker_nice.setter
    def worker_nice(self, value: int) -> None:
        self.qsettings.setValue("worker_nice", max(0, min(19, int(value))))

    # -- generic values -----------------------------------------------------------------------------------
    def get_json(self, key: str, default: Any = None) -> Any:
        raw = self.qsettings.value(key, "", type=str)
        if not raw:
            return default
        try:
            return json.loads(raw)
        except (ValueError, TypeError):
            return default

    def set_json(self, key: str, value: Any) -> None:
        self.qsettings.setValue(key, json.dumps(value))

    def get_bytes(self, key: str) -> QByteArray | None:
        value = self.qsettings.value(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_bytes(self, key: str, value: QByteArray) -> None:
        self.qsettings.setValue(key, value)

    def sync(self) -> None:
        self.qsettings.sync()
