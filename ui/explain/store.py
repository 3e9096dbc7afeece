"""A store of explained photos that knows what each entry weighs: pure Python, no Streamlit.

ui/explain/cache.py keeps one per process for every page that explains a photo.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from core.explain.explainer import Explanation


@dataclass(frozen=True)
class Explained:
    """One photo at display size and its explanation, as every page draws them."""

    picture: np.ndarray
    explanation: Explanation

    @property
    def nbytes(self) -> int:
        """The arrays' bytes: the photo, each layer's raw map, a guided method's gradients."""
        maps = [*self.explanation.raw_maps.values(), *(self.explanation.pixels or {}).values()]
        return self.picture.nbytes + sum(array.nbytes for array in maps)

    def frozen(self) -> Explained:
        """Itself with every array read-only: the store hands the same entry to every session."""
        maps = [*self.explanation.raw_maps.values(), *(self.explanation.pixels or {}).values()]
        for array in (self.picture, *maps):
            array.setflags(write=False)
        return self


class ExplanationStore:
    """The least recently used entries go first: past `max_entries`, or past `max_bytes` when
    that is set (None: no limit in bytes; the newest entry always stays).

    Thread-safe; one key is made once even when two sessions ask for it at the same time.
    """

    def __init__(self, max_entries: int, max_bytes: int | None = None):
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self._entries: OrderedDict[Hashable, Explained] = OrderedDict()
        self._making: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(entry.nbytes for entry in self._entries.values())

    def get(self, key: Hashable) -> Explained | None:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
            return self._entries.get(key)

    def get_or_make(self, key: Hashable, make: Callable[[], Explained]) -> Explained:
        """The entry under `key`, made by `make` if there is none (its error is not kept)."""
        if (found := self.get(key)) is not None:
            return found
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        with making:  # another session making the same entry: wait for it, then read it
            try:
                if (found := self.get(key)) is not None:
                    return found
                entry = make().frozen()
                self._put(key, entry)
                return entry
            finally:
                with self._lock:
                    self._making.pop(key, None)

    def _put(self, key: Hashable, entry: Explained) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > 1 and self._too_much():
                self._entries.popitem(last=False)

    def _too_much(self) -> bool:
        if len(self._entries) > self.max_entries:
            return True
        weight = sum(entry.nbytes for entry in self._entries.values())
        return self.max_bytes is not None and weight > self.max_bytes
