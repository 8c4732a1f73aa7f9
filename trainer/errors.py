"""Errors a user can act on. Each message names the file (when there is one) and the problem."""
from __future__ import annotations

from pathlib import Path


class CrackError(Exception):
    """Base class: an error whose message is meant for the user, not a traceback."""

    kind = "internal"

    def __init__(self, message: str, file: str | Path | None = None):
        self.file = str(file) if file is not None else None
        self.message = f"{file}: {message}" if file is not None else message
        super().__init__(self.message)


class DataError(CrackError):
    kind = "data"


class ConfigError(CrackError):
    kind = "config"


class CheckpointError(CrackError):
    kind = "checkpoint"
