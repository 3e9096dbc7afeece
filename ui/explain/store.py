"""A store of explained photos that knows what each entry weighs: pure Python, no Streamlit.

ui/explain/cache.py keeps one per process for every page that explains a photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.explain.explainer import Explanation
from ui.bounded import BoundedStore


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


class ExplanationStore(BoundedStore):
    """Explained photos, the least recently used first out: past `max_entries`, or past
    `max_bytes` when that is set (None: no limit in bytes; the newest entry always stays).

    Thread-safe; one key is made once even when two sessions ask for it at the same time
    (ui/bounded.py).
    """

    def __init__(self, max_entries: int, max_bytes: int | None = None):
        super().__init__(max_bytes, max_entries)
