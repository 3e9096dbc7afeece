"""The one store of explained photos (ui/explain/store.py) and the key every page builds for it."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from core.cams import METHODS
from core.explain.explainer import Explanation
from core.explain.settings import Photo, Settings
from ui.explain.cache import key_for
from ui.explain.store import Explained, ExplanationStore


def entry(side: int = 4) -> Explained:
    """A photo of side×side×3 bytes and one float32 map of side×side."""
    raw = np.ones((side, side), np.float32)
    explanation = Explanation({"cat": 0.5, "dog": 0.5}, "cat", "cat", 1.0, {"conv": raw}, 0.0)
    return Explained(np.zeros((side, side, 3), np.uint8), explanation)


def test_an_entry_knows_its_bytes_and_is_handed_out_read_only():
    made = entry(4)
    assert made.nbytes == 4 * 4 * 3 + 4 * 4 * 4
    store = ExplanationStore(max_entries=2)
    kept = store.get_or_make("k", lambda: made)
    with pytest.raises(ValueError, match="read-only"):
        kept.picture[0, 0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        kept.explanation.raw_maps["conv"][0, 0] = 2


def test_the_least_recently_used_entry_goes_past_the_count_or_the_bytes():
    store = ExplanationStore(max_entries=2)
    for key in "abc":
        store.get_or_make(key, entry)
    assert store.get("a") is None and store.get("b") and store.get("c")
    store.get("b")  # b is now the most recently used: c goes next
    store.get_or_make("d", entry)
    assert store.get("c") is None and store.get("b") and store.get("d")
    # A limit in bytes: two entries of 112 bytes fit in 250, a third does not.
    heavy = ExplanationStore(max_entries=10, max_bytes=250)
    for key in "xyz":
        heavy.get_or_make(key, entry)
    assert heavy.get("x") is None and heavy.nbytes == 224
    # The newest stays even when it alone is over the limit.
    tiny = ExplanationStore(max_entries=10, max_bytes=1)
    assert tiny.get_or_make("big", entry) is tiny.get("big")


def test_two_sessions_asking_at_once_make_it_once_and_an_error_is_not_kept():
    store, made = ExplanationStore(max_entries=4), []

    def slow() -> Explained:
        made.append(1)
        time.sleep(0.2)
        return entry()

    found = []
    threads = [
        threading.Thread(target=lambda: found.append(store.get_or_make("k", slow)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and len(found) == 3 and all(f is found[0] for f in found)

    def broken() -> Explained:
        raise ValueError("unreadable")

    with pytest.raises(ValueError):
        store.get_or_make("bad", broken)
    assert store.get("bad") is None and store.get_or_make("bad", entry) is store.get("bad")


@pytest.mark.parametrize("method", list(METHODS))
def test_side_by_sides_key_is_the_explain_pages_for_the_same_choice(method):
    """The Explain page at its defaults and the Side by side page find each other's results."""
    photo = Photo.of(b"photo", "pet.png")
    explain_page = Settings.from_state({"method": method, "target": "dog"}, "conv", photo)
    side_by_side = key_for(photo, "model-key", "dog", method)
    if explain_page.layers:  # Score-CAM: the Explain page pays for the layer shown only
        narrowed = (*side_by_side.options, ("layers", ("conv",)))
        assert replace(side_by_side, options=narrowed) == explain_page.key("model-key")
    else:
        assert side_by_side == explain_page.key("model-key")
