"""Every cache of pictures or maps is bounded in bytes: ui/bounded.py's store, the explanation
store (Config.explanation_cache_mb) and the pictures' (Config.picture_cache_mb)."""

from __future__ import annotations

import numpy as np
import pytest

from core.config import settings
from core.explain.explainer import Explanation
from ui import picture_cache
from ui.bounded import BoundedStore, weigh
from ui.explain import cache
from ui.explain.store import Explained

KB = 1024


def picture(kilobytes: int, value: int = 0) -> np.ndarray:
    return np.full(kilobytes * KB, value, np.uint8)


def explained(side: int) -> Explained:
    """A photo of side×side×3 bytes and one float32 map of 4×4."""
    raw = np.ones((4, 4), np.float32)
    explanation = Explanation({"cat": 0.5, "dog": 0.5}, "cat", "cat", 1.0, {"conv": raw}, 0.0)
    return Explained(np.zeros((side, side, 3), np.uint8), explanation)


def test_inserting_past_the_budget_evicts_the_least_recently_used_and_the_total_stays_under():
    store = BoundedStore(max_bytes=100 * KB)
    for number in range(10):
        store.get_or_make(number, lambda: picture(30))
        assert store.nbytes <= 100 * KB
        if number == 4:
            store.get(2)  # read: now the most recently used of 2, 3, 4
    assert len(store) == 3 and store.nbytes == 90 * KB
    assert [store.get(k) is not None for k in (2, 7, 8, 9)] == [False, True, True, True]


def test_a_value_weighs_its_arrays_bytes_and_nested_ones_and_is_handed_out_read_only():
    pairs = [("a", picture(2)), ("b", picture(3))]
    assert weigh(pairs) == 5 * KB and weigh(b"xyz") == 3 and weigh(None) == 0
    assert weigh(explained(4)) == explained(4).nbytes == 4 * 4 * 3 + 4 * 4 * 4
    kept = BoundedStore(max_bytes=KB * KB).get_or_make("k", lambda: pairs)
    with pytest.raises(ValueError, match="read-only"):
        kept[1][1][0] = 1


def test_the_explanation_store_is_bounded_by_its_config_field(monkeypatch):
    monkeypatch.setenv("CATDOG_EXPLANATION_CACHE_MB", "1")
    store = cache._store()
    assert store.max_bytes == settings().explanation_cache_mb * cache.MB == 1024 * KB
    big = explained(370)  # 400 KB
    for key in range(5):
        store.get_or_make(key, lambda: big)
        assert store.nbytes <= store.max_bytes
    assert len(store) == 2 and store.get(0) is None and store.get(4) is not None


def test_pictures_are_kept_by_their_arguments_in_the_configured_bytes(monkeypatch):
    monkeypatch.setenv("CATDOG_PICTURE_CACHE_MB", "1")
    made = []

    @picture_cache.kept_picture()
    def drawn(_photo: object, name: str, side: int) -> np.ndarray:
        made.append(name)
        return picture(300, side)

    store = picture_cache.pictures()
    assert store.max_bytes == 1024 * KB
    first = drawn(object(), "a", 1)
    assert drawn(object(), "a", 1) is first and made == ["a"]  # `_photo` is not in the key
    for name in "bcdef":
        drawn(None, name, 2)
        assert store.nbytes <= store.max_bytes
    assert len(store) == 3 and drawn(None, "a", 1) is not first and made[-1] == "a"
