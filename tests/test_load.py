"""Two browser sessions at once against one real server, each seeing its own photo.

Eight sessions on ResNet-50, with their times and the server's memory, are a figure:
benchmarks/bench_load.py (artifacts/load.json). Memory over 500 explanations:
benchmarks/bench_memory.py.
"""

from __future__ import annotations

import pytest

from tests.support.browser import expected_predictions, visitors_at_once
from tests.support.photos import make_pets
from tests.support.servers import streamlit_server

pytestmark = pytest.mark.browser


def test_two_concurrent_sessions_each_see_their_own_photo(tiny_weights, tmp_path):
    photos = sorted(
        make_pets(tmp_path / "photos", n_train=0, n_validation=1, size=96).rglob("*.png")
    )
    assert [photo.name for photo in photos] == ["cat_000.png", "dog_000.png"]
    expected = expected_predictions(tiny_weights, photos)
    with streamlit_server({"CATDOG_WEIGHTS_DIR": str(tiny_weights)}) as (url, _):
        results, errors = visitors_at_once(url, expected)
    assert errors == [] and sorted(r["photo"] for r in results) == ["cat_000.png", "dog_000.png"]
