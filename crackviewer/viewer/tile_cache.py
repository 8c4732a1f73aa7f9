"""Qt-free least-recently-used cache of drawn tiles, bounded by bytes (not by image size).

Keys are ``(owner, level, tx, ty)``; ``owner`` identifies one layer, so a layer can drop what it cached (all of it
on a colour or threshold change, or the tiles over a rectangle after an edit) without touching the other layers.
One cache is shared by every tiled layer of the app (:func:`shared_cache`), so the memory of all viewers together
stays under :data:`DEFAULT_BUDGET` however large the images.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Hashable, Iterable

DEFAULT_BUDGET = 256 * 1024 * 1024


class TileCache:
    """``get``/``put`` values with a size in bytes; the least recently used go when the total passes ``budget``."""

    def __init__(self, budget: int = DEFAULT_BUDGET):
        self.budget = int(budget)
        self._items: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._by_owner: dict[Hashable, set[tuple]] = {}
        self.nbytes = 0
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple):
        item = self._items.get(key)
        if item is None:
            self.misses += 1
            return None
        self.hits += 1
        self._items.move_to_end(key)
        return item[0]

    def peek(self, key: tuple):
        """The value of ``key`` or None, without counting a use (for updating a tile in place)."""
        item = self._items.get(key)
        return None if item is None else item[0]

    def put(self, key: tuple, value, nbytes: int) -> None:
        self._pop(key)
        self._items[key] = (value, int(nbytes))
        self._by_owner.setdefault(key[0], set()).add(key)
        self.nbytes += int(nbytes)
        while self.nbytes > self.budget and len(self._items) > 1:
            self._pop(next(iter(self._items)))

    def _pop(self, key: tuple) -> None:
        item = self._items.pop(key, None)
        if item is None:
            return
        self.nbytes -= item[1]
        keys = self._by_owner.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_owner[key[0]]

    def drop(self, keys: Iterable[tuple]) -> None:
        for key in keys:
            self._pop(key)

    def drop_owner(self, owner: Hashable) -> None:
        """Forget every tile of ``owner``."""
        self.drop(list(self._by_owner.get(owner, ())))

    def owner_keys(self, owner: Hashable) -> set[tuple]:
        return set(self._by_owner.get(owner, ()))


_shared: TileCache | None = None


def shared_cache() -> TileCache:
    """The one cache of the app's tiled layers."""
    global _shared
    if _shared is None:
        _shared = TileCache()
    return _shared
