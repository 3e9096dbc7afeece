"""Faithfulness metrics on hand-weighted toy models with closed-form curves; the sanity check."""

import gc
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.cams import PREDICTED
from core.cams.base import normalize
from core.explain.faithfulness import (
    confidence_change,
    curves,
    faithfulness,
    layer_groups,
    reinitialise,
    sanity_check,
    sanity_verdict,
    similarity,
)
from core.explain.overlay import upsample
from core.models.info import compiled_forward
from tests.support.models import TINY_SIZE, tiny_model

W, B = 0.5, -2.0


def mean_model() -> keras.Model:
    """logit = W * mean(pixels of channel sums) + B.

    The probability depends only on which pixels remain.
    """
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
    np.testing.assert_allclose(
        result["deletion"], sigmoid(W * np.array(kept_after) / 16 + B), rtol=1e-5
    )
    np.testing.assert_allclose(
        result["insertion"], sigmoid(W * np.array(inserted) / 16 + B), rtol=1e-5
    )
    np.testing.assert_allclose(
        result["deletion_auc"], np.trapezoid(result["deletion"], result["fractions"])
    )
    # "cat" (class 0) reads the same curves as 1 - p.
    cat = curves(mean_model(), IMAGE, HEAT, class_index=0, steps=4, blur_sigma=0)
    np.testing.assert_allclose(cat["deletion"], 1 - result["deletion"], rtol=1e-5)


def test_a_faithful_map_beats_a_reversed_and_a_random_one():
    good = curves(mean_model(), IMAGE, HEAT, 1, steps=16, blur_sigma=0)
    reversed_ = curves(mean_model(), IMAGE, 1 - HEAT, 1, steps=16, blur_sigma=0)
    assert (
        good["deletion_auc"] < reversed_["deletion_auc"]
        and good["insertion_auc"] > reversed_["insertion_auc"]
    )
    both = faithfulness(mean_model(), IMAGE, HEAT, 1, steps=16)
    assert both["map"]["deletion_auc"] <= both["random"]["deletion_auc"]


def test_the_curves_run_one_compiled_forward_per_model_that_goes_with_it():
    # Eager, ResNet-50's 32-image pass of the curves held ~5.8 GB (evaluate's 6 GB); compiled,
    # it reuses its buffers (~1.2 GB). bench_memory.py --commands has the figures.
    model = mean_model()
    forward = compiled_forward(model)
    curves(model, IMAGE, HEAT, 1, steps=4, blur_sigma=0)
    confidence_change(model, IMAGE, HEAT, 1)
    assert compiled_forward(model) is forward and forward.experimental_get_tracing_count() >= 1
    np.testing.assert_allclose(forward(tf.constant(IMAGE[None])), model(IMAGE[None]), rtol=1e-6)
    held = weakref.ref(model)
    del model, forward
    gc.collect()
    assert held() is None  # the entry holds its model weakly: a model dropped is freed


def test_average_drop_and_increase_closed_form():
    result = confidence_change(mean_model(), IMAGE, HEAT, 1)
    original = sigmoid(W * IMAGE.mean() + B)
    masked = sigmoid(W * (IMAGE[..., 0] * HEAT).mean() + B)
    assert result["average_drop"] == pytest.approx(
        max(0, original - masked) / original * 100, rel=1e-5
    )
    assert result["increase"] == float(masked > original)


BN_SIZE = 16  # large enough for SSIM's 11-px window


def batchnorm_model(seed: int = 0) -> keras.Model:
    """Two conv + BatchNorm + ReLU stages, pooling and a one-logit head, fitted for a few steps.

    The fitting gives the BatchNorm layers real moving statistics (means far from 0, variances far
    from 1).
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((BN_SIZE, BN_SIZE, 3))
    x = inputs
    for i, filters in enumerate((6, 8)):
        x = keras.layers.Conv2D(filters, 3, padding="same", name=f"conv{i + 2}_block1_conv")(x)
        x = keras.layers.BatchNormalization(momentum=0.5, name=f"conv{i + 2}_block1_bn")(x)
        x = keras.layers.ReLU(name=f"conv{i + 2}_block1_out")(x)
    logit = keras.layers.Dense(1, name="logit")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, logit)
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (64, BN_SIZE, BN_SIZE, 3)).astype(np.float32)
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(
        images, (images[:, :4].mean(axis=(1, 2, 3)) > 127).astype(np.float32), epochs=3, verbose=0
    )
    return model


def test_sanity_check_on_batchnorm_keeps_statistics_valid_and_the_class_fixed():
    model = batchnorm_model()
    variances = model.get_layer("conv2_block1_bn").moving_variance.numpy()
    assert np.abs(variances - 1).max() > 10  # real statistics, not the initial ones
    before = [w.copy() for w in model.get_weights()]
    image = np.random.default_rng(1).uniform(0, 255, (BN_SIZE, BN_SIZE, 3)).astype(np.float32)
    steps = sanity_check(model, "conv3_block1_out", image, PREDICTED, depth=3)
    assert [s["randomised"] for s in steps] == ["logit", "conv3_block1", "conv2_block1"]
    predicted = int(model(image[None]).numpy()[0, 0] > 0)
    # Never the randomised copy's own prediction.
    assert {s["class_index"] for s in steps} == {predicted}
    for step in steps:
        assert all(
            step[k] is not None and np.isfinite(step[k])
            for k in ("spearman", "spearman_abs", "ssim")
        ), step
    assert sanity_verdict(steps)[0] in ("pass", "fail")
    for after, original in zip(model.get_weights(), before):
        np.testing.assert_array_equal(after, original)  # the copy was randomised, not the model


def test_reinitialise_uses_each_layers_own_initializers():
    model = batchnorm_model()
    bn, conv = model.get_layer("conv2_block1_bn"), model.get_layer("conv2_block1_conv")
    reinitialise(bn, seed=0)
    reinitialise(conv, seed=0)
    np.testing.assert_array_equal(bn.moving_variance.numpy(), 1.0)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), 0.0)
    np.testing.assert_array_equal(conv.bias.numpy(), 0.0)
    limit = np.sqrt(6 / (3 * 3 * 3 + 3 * 3 * 6))  # Glorot uniform, Conv2D's default
    kernel = conv.kernel.numpy()
    assert np.abs(kernel).max() <= limit and kernel.std() > limit / 4


def test_sanity_verdict_counts_only_computed_steps_and_uses_absolute_values():
    def verdict(spearman, spearman_abs, ssim) -> str:
        step = {"randomised": "logit", "class_index": 1}
        figures = {"spearman": spearman, "spearman_abs": spearman_abs, "ssim": ssim}
        return sanity_verdict([{**step, **figures}])[0]

    assert verdict(0.1, 0.2, 0.3) == "pass"
    # |Spearman| counts: an inverted map has not changed enough.
    assert verdict(-0.95, 0.2, 0.3) == "fail"
    assert verdict(0.1, 0.2, 0.8) == "fail"
    assert verdict(None, 0.2, 0.1) == "unknown"
    assert sanity_verdict([])[0] == "unknown"


def test_sanity_check_randomising_the_top_changes_the_map():
    model = tiny_model(seed=12)
    image = np.random.default_rng(0).uniform(0, 255, (TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    assert [key for key, _ in layer_groups(model, 3)] == ["logit", "conv_b", "conv_a"]
    steps = sanity_check(model, "conv_a", image, 1, depth=3)
    assert [s["randomised"] for s in steps] == ["logit", "conv_b", "conv_a"]
    assert steps[-1]["spearman"] is not None and abs(steps[-1]["spearman"]) < 0.9
    # 8 px leave no room for SSIM's window.
    assert steps[-1]["ssim"] is None and sanity_verdict(steps)[0] == "unknown"


@pytest.mark.resnet
def test_sanity_check_on_resnet50_is_finite_at_every_step(resnet50):
    model = resnet50  # the check works on a copy: the shared model is left as it was
    image = np.random.default_rng(2).uniform(0, 255, (224, 224, 3)).astype(np.float32)
    steps = sanity_check(model, "conv5_block3_out", image, PREDICTED, depth=3)
    assert [s["randomised"] for s in steps] == ["logit", "conv5_block3", "conv5_block2"]
    for step in steps:
        assert all(step[k] is not None for k in ("spearman", "spearman_abs", "ssim")), step
    verdict, line = sanity_verdict(steps)
    assert verdict in ("pass", "fail") and line


def test_ties_are_removed_in_a_seeded_random_order_not_row_by_row():
    from core.explain.faithfulness import pixel_order

    flat = np.zeros((7, 7))  # all cells tie, as the zeros of a ReLU'd map do
    order = pixel_order(flat, 28, seed=0)
    rows = set(order[: 28 * 28 // 10] // 28)  # the rows of the first tenth removed
    assert len(rows) > 20, rows  # spread over the photo, not its top three rows
    # Seeded: the same order every time.
    np.testing.assert_array_equal(order, pixel_order(flat, 28, seed=0))
    assert not np.array_equal(order, pixel_order(flat, 28, seed=1))
    heat = np.zeros((4, 4))
    heat[2, 1] = 1.0
    assert pixel_order(heat, 4)[0] == 2 * 4 + 1  # the hottest pixel still goes first


def test_similarity_upsamples_a_non_square_map_to_the_inputs_height_and_width():
    rng = np.random.default_rng(0)
    original, randomised = rng.random((4, 8)), rng.random((4, 8))
    height, width = 24, 48

    def ssim(h: int, w: int) -> float:
        a, b = (upsample(normalize(m), h, w)[None, ..., None] for m in (original, randomised))
        return float(tf.image.ssim(tf.constant(a), tf.constant(b), max_val=1.0)[0])

    figures = similarity(original, randomised, (height, width))
    assert figures["ssim"] == pytest.approx(ssim(height, width), abs=1e-6)
    assert abs(ssim(height, width) - ssim(height, height)) > 1e-3  # a square grid would differ
    assert similarity(original, randomised, (8, 48))["ssim"] is None  # 8 px: under SSIM's window
