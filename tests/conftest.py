"""The fixtures and hooks of the tests: tiny Keras models, real and generated photos, ResNet-50
once a session. What they are made with lives in tests/support/, which tests import."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from core.models.info import ModelInfo, save_classifier  # noqa: E402
from tests.support import browser  # noqa: E402
from tests.support.catalog import weights_folder  # noqa: E402
from tests.support.models import RESNET_SEED, TINY_SIZE, tiny_model  # noqa: E402
from tests.support.photos import PETS, make_pets  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """The long tests (ResNet-50, Chromium, slow) first, so no worker ends alone with one.

    The one skip of the browser tests: without Debian's Chromium, each test marked `browser` is
    skipped, saying why (tests/support/browser.py's MISSING).
    """
    long_marks = ("resnet", "browser", "slow")
    items.sort(key=lambda item: not any(item.get_closest_marker(m) for m in long_marks))
    if browser.MISSING:
        for item in items:
            if item.get_closest_marker("browser"):
                item.add_marker(pytest.mark.skip(reason=browser.MISSING))


@pytest.fixture
def tiny() -> keras.Model:
    return tiny_model()


@pytest.fixture
def tiny_weights(tmp_path) -> Path:
    """A weights/ folder holding the tiny model as model.keras with its sidecar."""
    folder = tmp_path / "weights"
    save_classifier(
        tiny_model(),
        ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none"),
        folder / "model.keras",
    )
    return folder


@pytest.fixture
def pets() -> Path:
    if not (PETS / "validation").is_dir():
        pytest.skip(f"real photos not found at {PETS} (shared development set absent)")
    return PETS


@pytest.fixture
def photos() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 256, size, dtype=np.uint8) for size in [(8, 8, 3), (30, 20, 3), (5, 9, 3)]
    ]


@pytest.fixture
def generated_pets(tmp_path) -> Path:
    return make_pets(tmp_path / "pets")


@pytest.fixture
def catalogue(tmp_path, monkeypatch) -> Path:
    """The environment pointing at a weights folder holding every kind of model the catalogue
    lists (support/catalog.py), zero-shot's weights absent (offline); returns that folder."""
    weights = weights_folder(tmp_path)
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "no-validation"))
    monkeypatch.setenv("CATDOG_IMAGENET_WEIGHTS", str(tmp_path / "absent.h5"))
    return weights


@pytest.fixture(scope="session")
def resnet50() -> keras.Model:
    """The app's ResNet-50 classifier with random weights, built once per session.

    Tests that change its weights put them back. Seeded: the same weights every session, so a
    figure measured on them (the guided sanity verdicts) is the same on every run.
    """
    from core.models.build import build_classifier

    keras.utils.set_random_seed(RESNET_SEED)
    return build_classifier("none")


@pytest.fixture(scope="session")
def resnet50_weights(resnet50, tmp_path_factory) -> Path:
    """A weights/ folder holding that ResNet-50 as model.keras with its sidecar."""
    folder = tmp_path_factory.mktemp("resnet") / "weights"
    save_classifier(resnet50, ModelInfo(backbone_weights="none"), folder / "model.keras")
    return folder
