"""Tiny Keras models built in code, real photos read in place, no downloads."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from core.model import CaffePreprocess, ModelInfo, save_classifier  # noqa: E402

PETS = Path(__file__).resolve().parents[2] / "shared" / "data" / "pets"
TINY_SIZE = 8


def tiny_model(seed: int = 0) -> keras.Model:
    """8x8x3 in, two named convs (8x8 and 4x4), pooling, dropout, one-logit head; random but seeded."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3), name="image")
    x = CaffePreprocess(name="preprocess")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(x)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(0.5, name="dropout")(x)  # inference mode must switch it off
    logit = keras.layers.Dense(1, name="logit")(x)
    return keras.Model(inputs, logit, name="tiny")


@pytest.fixture
def tiny() -> keras.Model:
    return tiny_model()


@pytest.fixture
def tiny_weights(tmp_path) -> Path:
    """A weights/ folder holding the tiny model as model.keras with its sidecar."""
    folder = tmp_path / "weights"
    save_classifier(tiny_model(), ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none"),
                    folder / "model.keras")
    return folder


@pytest.fixture
def pets() -> Path:
    if not (PETS / "validation").is_dir():
        pytest.skip(f"real photos not found at {PETS} (shared development set absent)")
    return PETS


@pytest.fixture
def photos() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size, dtype=np.uint8) for size in [(8, 8, 3), (30, 20, 3), (5, 9, 3)]]
