"""A model saved under Keras' mixed_float16 policy (its mixed-precision guide: float16 compute, a
float32 output layer) is explained in float32: every method's maps equal its float32 twin's."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from core.cams import METHODS
from core.explain.explainer import Explainer
from core.models.info import Classifier, ModelInfo, save_classifier
from core.models.load import load_classifier
from core.models.preprocessing import CaffePreprocess
from tests.support.models import TINY_SIZE

INFO = ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none")


def tiny(policy: str) -> keras.Model:
    """The tests' tiny CNN under `policy`, its logit in float32 as the guide asks."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3), name="image")
        x = CaffePreprocess(name="preprocess")(inputs)
        x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(x)
        x = keras.layers.BatchNormalization(name="bn")(x)
        x = keras.layers.Conv2D(6, 3, 2, padding="same", activation="relu", name="conv_b")(x)
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        logit = keras.layers.Dense(1, name="logit", dtype="float32")(x)
        return keras.Model(inputs, logit)
    finally:
        keras.config.set_dtype_policy(previous)


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """(the float16 model as loaded from its .keras file, its float32 twin: same weights)."""
    half = tiny("mixed_float16")
    assert half.get_layer("conv_a").compute_dtype == "float16"
    path = tmp_path_factory.mktemp("mixed") / "model.keras"
    save_classifier(half, INFO, path)
    full = tiny("float32")
    full.set_weights(half.get_weights())
    return Explainer(load_classifier(path)), Explainer(Classifier(full, INFO))


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_on_a_float16_model_matches_its_float32_twin(twins, method):
    photo = np.random.default_rng(1).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    before = photo.copy()
    loaded, twin = twins
    mine, theirs = (e.explain([photo], "dog", method)[0] for e in (loaded, twin))
    assert np.array_equal(photo, before)
    largest = max(float(np.abs(m).max()) for m in theirs.raw_maps.values())
    assert largest > 0, method  # the float32 twin's maps are not all zero...
    for layer, expected in theirs.raw_maps.items():
        got = mine.raw_maps[layer]
        # ...and the float16 model's equal them, to 1 % of the largest value at that layer.
        scale = max(float(np.abs(expected).max()), 1e-3 * largest)
        assert np.isfinite(got).all(), (method, layer)
        assert float(np.abs(got - expected).max()) <= 1e-2 * scale, (method, layer)


@pytest.mark.resnet
def test_a_mixed_precision_resnet50_is_explained_as_its_float32_twin(tmp_path):
    from core.models.build import build_classifier

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        half = build_classifier("none")
    finally:
        keras.config.set_dtype_policy(previous)
    save_classifier(half, ModelInfo(backbone_weights="none"), tmp_path / "model.keras")
    loaded = load_classifier(tmp_path / "model.keras")
    assert all(layer.compute_dtype == "float32" for layer in loaded.model.layers)
    keras.utils.set_random_seed(0)
    full = build_classifier("none")
    full.set_weights(half.get_weights())
    photo = np.random.default_rng(2).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    mine = Explainer(loaded).explain([photo], "dog")[0].raw_maps["conv5_block3_out"]
    theirs = Explainer(Classifier(full, ModelInfo())).explain([photo], "dog")[0]
    expected = theirs.raw_maps["conv5_block3_out"]
    assert np.abs(expected).max() > 0
    assert np.abs(mine - expected).max() <= 1e-2 * np.abs(expected).max()
