"""Two browser sessions at once against one real server, each seeing its own photo.

Eight sessions on ResNet-50, with their times and the server's memory, are a figure:
benchmarks/bench_load.py (artifacts/load.json). Memory over 500 explanations:
benchmarks/bench_memory.py.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import pytest

from core.explain.explainer import Explainer
from core.images import load_image
from core.model import load_classifier
from tests.browser_support import (
    CHROMIUM,
    DRIVER,
    chrome,
    images,
    press,
    streamlit_server,
    text,
    upload,
    wait,
)
from tests.conftest import make_pets

pytestmark = pytest.mark.browser


def expected_predictions(weights: Path, photos: list[Path]) -> dict[Path, str]:
    """The page's 'Prediction:' text for each photo, computed offline with the server's model."""
    explainer = Explainer(load_classifier(weights / "model.keras"))
    expected = {}
    for photo in photos:
        explanation = explainer.explain([load_image(photo)])[0]
        expected[photo] = (
            f"{explanation.label} ({explanation.probabilities[explanation.label]:.1%})"
        )
    return expected


def sessions_at_once(url: str, photos: list[Path], expected: dict) -> tuple[list, list]:
    """One Chromium session per photo, all at once: (their figures, their errors)."""
    results, errors = [], []
    threads = [
        threading.Thread(target=session, args=(url, photo, expected[photo], results, errors))
        for photo in photos
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    return results, errors


def session(url: str, photo, expected: str, results: list, errors: list) -> None:
    """A visitor uploads `photo`, checks its prediction and moves alpha once; figures appended."""
    driver = chrome("1200,900", profile=Path(tempfile.mkdtemp(prefix="chromium-")))
    try:
        driver.get(url)
        wait(driver, lambda d: "Upload a photo, take one" in text(d), 120)
        start = time.perf_counter()
        upload(driver, photo)
        wait(driver, lambda d: "Prediction:" in text(d) and len(images(d)) >= 3, 180)
        upload_seconds = time.perf_counter() - start
        page = text(driver)
        assert f"{photo.name} (" in page, "another session's photo"
        assert f"Prediction: {expected}" in page, f"expected {expected!r}"
        overlay = images(driver)[2]
        start = time.perf_counter()
        press(driver, "Heatmap opacity (alpha)", "\ue014")  # arrow right
        wait(driver, lambda d: len(images(d)) >= 3 and images(d)[2] != overlay, 120)
        results.append(
            {
                "photo": photo.name,
                "upload_s": upload_seconds,
                "slider_s": time.perf_counter() - start,
            }
        )
    except Exception as error:  # collected and asserted on in the main thread
        errors.append(f"{photo.name}: {type(error).__name__}: {str(error)[:200]}")
    finally:
        driver.quit()


@pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="Debian's chromium and chromium-driver are not installed"
)
def test_two_concurrent_sessions_each_see_their_own_photo(tiny_weights, tmp_path):
    photos = sorted(
        make_pets(tmp_path / "photos", n_train=0, n_validation=1, size=96).rglob("*.png")
    )
    assert [photo.name for photo in photos] == ["cat_000.png", "dog_000.png"]
    expected = expected_predictions(tiny_weights, photos)
    with streamlit_server({"CATDOG_WEIGHTS_DIR": str(tiny_weights)}) as (url, _):
        results, errors = sessions_at_once(url, photos, expected)
    assert errors == [] and sorted(r["photo"] for r in results) == ["cat_000.png", "dog_000.png"]
