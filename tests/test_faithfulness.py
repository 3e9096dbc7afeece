"""Faithfulness metrics on hand-weighted toy models whose curves have a closed form; the sanity check."""

import keras
import numpy as np
import pytest

from core.faithfulness import confidence_change, curves, faithfulness, layer_groups, sanity_check
from tests.conftest import TINY_SIZE, tiny_model

W, B = 0.5, -2.0


def mean_model() -> keras.Model:
    """logit = W * mean(pixels of channel sums) + B: the probability depends only on which pixels remain."""
    inputs = keras.Input((4, 4, 1))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    dense = keras.layers.Dense(1)
    model = keras.Model(inputs, dense(x))
    dense.set_weights([np.array([[W]]), np.array([B])])
    return model


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


IMAGE = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
HEAT = IMAGE[..., 0] / 15.0  # hottest = brightest


def test_deletion_and_insertion_have_their_closed_form():
    result = curves(mean_model(), IMAGE, HEAT, class_index=1, steps=4, blur_sigma=0)
    np.testing.assert_allclose(result["fractions"], [0, 0.25, 0.5, 0.75, 1])
    values = np.sort(IMAGE.ravel())[::-1]  # brightest first
    kept_after = [values[k:].sum() for k in (0, 4, 8, 12, 16)]
    inserted = [values[:k].sum() for k in (0, 4, 8, 12, 16)]
    np.testing.assert_allclose(result["deletion"], sigmoid(W * np.array(kept_after) / 16 + B), rtol=1e-5)
    np.testing.assert_allclose(result["insertion"], sigmoid(W * np.array(inserted) / 16 + B), rtol=1e-5)
    np.testing.assert_allclose(result["deletion_auc"], np.trapezoid(result["deletion"], result["fractions"]))
    # "cat" (class 0) reads the same curves as 1 - p.
    cat = curves(mean_model(), IMAGE, HEAT, class_index=0, steps=4, blur_sigma=0)
    np.testing.assert_allclose(cat["deletion"], 1 - result["deletion"], rtol=1e-5)


def test_a_faithful_map_beats_a_reversed_and_a_random_one():
    good = curves(mean_model(), IMAGE, HEAT, 1, steps=16, blur_sigma=0)
    reversed_ = curves(mean_model(), IMAGE, 1 - HEAT, 1, steps=16, blur_sigma=0)
    assert good["deletion_auc"] < reversed_["deletion_auc"] and good["insertion_auc"] > reversed_["insertion_auc"]
    both = faithfulness(mean_model(), IMAGE, HEAT, 1, steps=16)
    assert both["map"]["deletion_auc"] <= both["random"]["deletion_auc"]


def test_average_drop_and_increase_closed_form():
    result = confidence_change(mean_model(), IMAGE, HEAT, 1)
    original = sigmoid(W * IMAGE.mean() + B)
    masked = sigmoid(W * (IMAGE[..., 0] * HEAT).mean() + B)
    assert result["average_drop"] == pytest.approx(max(0, original - masked) / original * 100, rel=1e-5)
    assert result["increase"] == float(masked > original)


def test_sanity_check_randomising_the_top_changes_the_map():
    model = tiny_model(seed=12)
    before = [w.copy() for w in model.get_weights()]
    image = np.random.default_rng(0).uniform(0, 255, (TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    assert [key for key, _ in layer_groups(model, 3)] == ["logit", "conv_b", "conv_a"]
    steps = sanity_check(model, "conv_a", image, 1, depth=3)
    assert [s["randomised"] for s in steps] == ["logit", "conv_b", "conv_a"]
    assert steps[-1]["rank_correlation"] is not None and steps[-1]["rank_correlation"] < 0.9
    for after, original in zip(model.get_weights(), before):
        np.testing.assert_array_equal(after, original)  # the copy was randomised, not the model
