"""The shortcut registry: each shortcut is defined once, as a `Shortcut` row of a panel's table, and that row
feeds both the key binding (`bind`) and the help overlay (`help_sections`), as napari registers its label-mode
actions once for the keymap and the help."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget


@dataclass(frozen=True)
class Shortcut:
    action: str                 # the name the panel binds a handler to; "" for a mouse gesture (help only)
    keys: tuple[str, ...]       # QKeySequence strings; the first one is the one the help shows first
    help: str                   # what it does, as the help overlay says it
    section: str                # the help overlay's heading
    shown: str = ""             # how the help writes the keys, when not simply "keys joined by commas"

    @property
    def label(self) -> str:
        return self.shown or ", ".join(self.keys)


def bind(widget: QWidget, table: Iterable[Shortcut], handlers: dict[str, Callable[[], object]]) -> list[QShortcut]:
    """A QShortcut on `widget` (and its children) for every key of every row with an action. Every action of the
    table must have a handler, and every handler a row: a shortcut cannot exist in one place only."""
    table = list(table)
    actions = {s.action for s in table if s.action}
    if actions != set(handlers):
        raise ValueError(f"shortcut table and handlers differ: {sorted(actions ^ set(handlers))}")
    bound = []
    for s in table:
        if not s.action:
            continue
        for key in s.keys:
            sc = QShortcut(QKeySequence(key), widget)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(handlers[s.action])
            bound.append(sc)
    return bound


def help_sections(table: Iterable[Shortcut]) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(section, [(keys as shown, help), ...]), ...] in the table's order."""
    sections: dict[str, list[tuple[str, str]]] = {}
    for s in table:
        sections.setdefault(s.section, []).append((s.label, s.help))
    return list(sections.items())
