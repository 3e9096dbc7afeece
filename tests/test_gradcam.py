"""Grad-CAM maths: a golden case by hand, parity with tf-keras-vis, and invariants."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.cams import PREDICTED, GradCAM, class_scores, normalize
from core.models.graph import flatten_model
from core.models.info import ModelInfo, save_classifier
from core.models.load import load_classifier
from tests.support.models import TINY_SIZE, golden_model, reference_map

CAT, DOG = 0, 1


def test_golden_case_worked_by_hand():
    # Input 0..15 row-major. Each 3x3 window sums to 9*(4i+j) + 45: [[45, 54], [81, 90]].
    # Channel 1 (bias -50, ReLU): [[0, 4], [31, 40]];  channel 2 (bias -75): [[0, 0], [6, 15]].
    # Logit z = (0 + 4 + 31 - 40) + (0 - 0 - 6 - 15) = -26, so the model predicts class 0 (cat).
    # dz/dA is the dense weights:
    #   channel 1 [[1, 1], [1, -1]] -> mean 0.5;  channel 2 [[1, -1], [-1, -1]] -> mean -0.5.
    # "dog" map = 0.5 * ch1 - 0.5 * ch2 = [[0, 2], [12.5, 12.5]] -> normalised [[0, 0.16], [1, 1]].
    # "cat" explains -z: every weight flips sign, the map is [[0, -2], [-12.5, -12.5]]
    #   -> ReLU -> all zero.
    image = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    cam = GradCAM(golden_model(), ["conv"])

    dog = cam(image, DOG)
    np.testing.assert_allclose(dog.maps["conv"][0], [[0, 2], [12.5, 12.5]], atol=1e-6)
    np.testing.assert_allclose(normalize(dog.maps["conv"][0]), [[0, 0.16], [1, 1]], atol=1e-6)
    np.testing.assert_allclose(dog.scores, [-26.0], atol=1e-6)

    cat = cam(image, PREDICTED)
    assert cat.class_index.tolist() == [CAT]
    np.testing.assert_allclose(cat.scores, [26.0], atol=1e-6)
    np.testing.assert_allclose(cat.maps["conv"][0], [[0, -2], [-12.5, -12.5]], atol=1e-6)
    heatmap = normalize(cat.maps["conv"][0])
    assert not np.isnan(heatmap).any() and (heatmap == 0).all()


def test_bright_quadrant_lights_up_its_quadrant():
    # A 1x1 conv that sums the channels, a mean-pooled +1 head: the heat sits where the light is.
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(1, 1, use_bias=False, name="conv")
    x = keras.layers.GlobalAveragePooling2D()(conv(inputs))
    model = keras.Model(inputs, x)
    conv.set_weights([np.ones((1, 1, 3, 1))])
    image = np.zeros((1, 8, 8, 3), np.float32)
    image[0, :4, 4:] = 1.0  # top-right quadrant
    heatmap = normalize(GradCAM(model, ["conv"])(image, DOG).maps["conv"][0])
    assert (
        (heatmap[:4, 4:] == 1).all()
        and (heatmap[4:, :] == 0).all()
        and (heatmap[:, :4] == 0).all()
    )


def test_one_logit_head_explains_cat_by_the_negated_logit():
    logits = tf.constant([[2.0], [-3.0]])
    np.testing.assert_allclose(class_scores(logits, tf.constant([CAT, CAT])), [-2.0, 3.0])
    np.testing.assert_allclose(class_scores(logits, tf.constant([DOG, CAT])), [2.0, 3.0])
    # A softmax head picks each image's own logit.
    two = tf.constant([[1.0, 5.0], [7.0, -1.0]])
    np.testing.assert_allclose(class_scores(two, tf.constant([DOG, DOG])), [5.0, -1.0])


@pytest.mark.parametrize("class_index", [CAT, DOG])
def test_parity_with_tf_keras_vis(tiny, class_index):
    from tf_keras_vis.gradcam import Gradcam

    images = (
        np.random.default_rng(1).uniform(0, 255, (3, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    )
    sign = 1.0 if class_index == DOG else -1.0
    reference = reference_map(Gradcam, tiny, lambda output: sign * output[:, 0], images, "conv_a")
    ours = GradCAM(tiny, ["conv_a", "conv_b"])(images, class_index).maps["conv_a"]
    np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6)


def test_batch_equals_one_at_a_time(tiny):
    images = (
        np.random.default_rng(2).uniform(0, 255, (4, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    )
    cam = GradCAM(tiny, ["conv_a", "conv_b"])
    batch = cam(images, PREDICTED)
    for i in range(4):
        single = cam(images[i : i + 1], PREDICTED)
        for layer in ("conv_a", "conv_b"):
            np.testing.assert_allclose(
                batch.maps[layer][i], single.maps[layer][0], rtol=1e-5, atol=1e-6
            )
        assert batch.class_index[i] == single.class_index[0]


def test_nested_model_explained_as_its_flattened_copy():
    # The usual recipe nests the backbone as one layer; GradCAM flattens it and reaches its convs.
    keras.utils.set_random_seed(3)
    conv_a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")
    conv_b = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv_b")
    head = [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1)]
    backbone_in = keras.Input((TINY_SIZE, TINY_SIZE, 3))
    backbone = keras.Model(backbone_in, conv_b(conv_a(backbone_in)), name="backbone")
    outer_in = keras.Input((TINY_SIZE, TINY_SIZE, 3))
    nested = keras.Model(outer_in, keras.Sequential(head)(backbone(outer_in)))
    assert "conv_b" not in [layer.name for layer in nested.layers]
    # The same architecture and weights wired flat by hand: the reference.
    flat = keras.Sequential(
        [keras.Input((TINY_SIZE, TINY_SIZE, 3))]
        + [layer.__class__.from_config(layer.get_config()) for layer in (conv_a, conv_b, *head)]
    )
    flat.set_weights(nested.get_weights())

    images = (
        np.random.default_rng(4).uniform(0, 255, (2, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    )
    copy = flatten_model(nested)
    assert "conv_b" in [layer.name for layer in copy.layers]
    np.testing.assert_allclose(
        copy.predict(images, verbose=0), nested.predict(images, verbose=0), rtol=1e-6
    )
    ours = GradCAM(nested, ["conv_b"])(images, DOG).maps["conv_b"]
    expected = GradCAM(flat, ["conv_b"])(images, DOG).maps["conv_b"]
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    assert np.abs(expected).max() > 0


def test_repeated_calls_identical_and_nothing_mutated(tiny):
    images = (
        np.random.default_rng(5).uniform(0, 255, (2, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    )
    before_images = images.copy()
    before_weights = [w.copy() for w in tiny.get_weights()]
    before_layers = [layer.name for layer in tiny.layers]
    cam = GradCAM(tiny, ["conv_a"])
    first, second = cam(images), cam(images)
    np.testing.assert_array_equal(first.maps["conv_a"], second.maps["conv_a"])  # dropout is off
    np.testing.assert_array_equal(images, before_images)
    for after, before in zip(tiny.get_weights(), before_weights):
        np.testing.assert_array_equal(after, before)
    assert [layer.name for layer in tiny.layers] == before_layers
    assert tiny.outputs[0].shape == (None, 1)


def test_keras_round_trip_keeps_the_maps(tiny, tmp_path):
    images = (
        np.random.default_rng(6).uniform(0, 255, (2, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    )
    path = save_classifier(
        tiny, ModelInfo(image_size=TINY_SIZE, backbone="tiny"), tmp_path / "model.keras"
    )
    loaded = load_classifier(path).model
    for layer in ("conv_a", "conv_b"):
        np.testing.assert_allclose(
            GradCAM(loaded, [layer])(images).maps[layer],
            GradCAM(tiny, [layer])(images).maps[layer],
            rtol=1e-6,
        )


def test_normalize_guards_zero_and_keeps_unit_range():
    assert (normalize(np.full((3, 3), -1.0)) == 0).all()
    assert (normalize(np.zeros((3, 3))) == 0).all()
    heatmap = normalize(np.array([[-1.0, 0.5], [2.0, 1.0]]))
    np.testing.assert_allclose(heatmap, [[0, 0.25], [1, 0.5]])


def test_unknown_or_flat_layer_refused_with_a_message(tiny):
    with pytest.raises(ValueError, match="not in model"):
        GradCAM(tiny, ["conv9"])
    with pytest.raises(ValueError, match="no map: neither an \\(N, H, W, C\\) output"):
        GradCAM(tiny, ["avg_pool"])
