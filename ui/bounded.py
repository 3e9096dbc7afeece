"""A least-recently-used store bounded in bytes: pure Python, no Streamlit.

The screens' caches of explanations and pictures are these (ui/explain/cache.py's explanations,
ui/picture_cache.py's coloured maps, overlays and photos; the Folder page's table and strategies,
a few KB a photo, stay in st.cache_data with a count),
so what they can hold is a number of bytes an operator sets (Config.explanation_cache_mb,
Config.picture_cache_mb), whatever the photos' sizes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np


def weigh(value: object) -> int:
    """The bytes `value`'s arrays hold: an array's, an object's own `nbytes` (an explained photo),
    bytes, and the sum over a tuple, a list or a dict's values; anything else weighs nothing."""
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, (tuple, list)):
        return sum(weigh(item) for item in value)
    if isinstance(value, dict):
        return sum(weigh(item) for item in value.values())
    nbytes = getattr(value, "nbytes", 0)
    return nbytes if isinstance(nbytes, int) else 0


def freeze(value: object) -> object:
    """`value` with every array in it read-only (in place): the store hands the same object to
    every session, where Streamlit's st.cache_data handed each a copy."""
    if isinstance(value, np.ndarray):
        value.setflags(write=False)
    elif isinstance(value, (tuple, list)):
        for item in value:
            freeze(item)
    elif callable(getattr(value, "frozen", None)):
        value.frozen()
    return value


class BoundedStore:
    """The least recently used entries go first: past `max_bytes` (what `weigh` counts), or past
    `max_entries` when that is set; the newest entry always stays, even alone over the limit.

    Thread-safe; one key is made once even when two sessions ask for it at the same time.
    """

    def __init__(self, max_bytes: int | None, max_entries: int | None = None):
        self.max_bytes, self.max_entries = max_bytes, max_entries
        self._entries: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._making: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()
        self._nbytes = 0

    @property
    def nbytes(self) -> int:
        """The bytes the entries hold now."""
        with self._lock:
            return self._nbytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: Hashable) -> object | None:
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key][0]

    def get_or_make(self, key: Hashable, make: Callable[[], object]) -> object:
        """The entry under `key`, made by `make` if there is none (its error is not kept)."""
        if (found := self.get(key)) is not None:
            return found
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        with making:  # another session making the same entry: wait for it, then read it
            try:
                if (found := self.get(key)) is not None:
                    return found
                entry = freeze(make())
                self._put(key, entry)
                return entry
            finally:
                with self._lock:
                    self._making.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._nbytes = 0

    def _put(self, key: Hashable, entry: object) -> None:
        weight = weigh(entry)
        with self._lock:
            if key in self._entries:
                self._nbytes -= self._entries.pop(key)[1]
            self._entries[key] = (entry, weight)
            self._nbytes += weight
            while len(self._entries) > 1 and self._too_much():
                self._nbytes -= self._entries.popitem(last=False)[1][1]

    def _too_much(self) -> bool:
        if self.max_entries is not None and len(self._entries) > self.max_entries:
            return True
        return self.max_bytes is not None and self._nbytes > self.max_bytes
