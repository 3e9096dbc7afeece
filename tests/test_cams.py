"""Every CAM method: parity, golden values, batch = one at a time, no NaN, smoothing.

Parity with tf-keras-vis where it has the method, golden values by hand elsewhere; smoothing that
does what it says.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.cams import CONTRAST, METHODS, PREDICTED, BaseCAM, GradCAM, is_guided, normalize
from core.cams.base import TTA_FACTORS
from core.models.preprocessing import CaffePreprocess
from tests.support.models import TINY_SIZE, golden_model, reference_map, tiny_model

DOG = 1
IMAGE = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
# From the golden model (tests/test_gradcam.py): activations and dog-gradients per channel.
A1, A2 = np.array([[0, 4], [31, 40]], float), np.array([[0, 0], [6, 15]], float)
G1, G2 = np.array([[1, 1], [1, -1]], float), np.array([[1, -1], [-1, -1]], float)


def raw(method: str, model=None, layer="conv", images=IMAGE, target=DOG, **options):
    cam = METHODS[method](model or golden_model(), [layer], **options)
    return cam(images, target).maps[layer]


def test_hirescam_golden():
    # [[0, 4], [25, -55]]
    np.testing.assert_allclose(raw("HiResCAM")[0], G1 * A1 + G2 * A2, atol=1e-5)


def test_xgradcam_golden():
    w1, w2 = (G1 * A1).sum() / A1.sum(), (G2 * A2).sum() / A2.sum()  # -5/75 and -21/21
    np.testing.assert_allclose(raw("XGrad-CAM")[0], w1 * A1 + w2 * A2, atol=1e-5)


def test_layercam_golden():
    np.testing.assert_allclose(raw("Layer-CAM")[0], [[0, 4], [31, 0]], atol=1e-5)


def test_eigencam_golden_is_the_first_principal_component():
    rows = np.stack([A1.ravel(), A2.ravel()], axis=1)  # 4 positions x 2 channels
    centred = rows - rows.mean(axis=0)
    first = np.linalg.svd(centred)[2][0]
    expected = (centred @ first).reshape(2, 2)
    # The sign: agree with the sum of the channels.
    expected *= np.sign(((A1 + A2) - (A1 + A2).mean()).ravel() @ expected.ravel())
    np.testing.assert_allclose(raw("Eigen-CAM")[0], expected, atol=1e-4)
    # No target: the map is class-agnostic.
    np.testing.assert_allclose(raw("Eigen-CAM", target=0)[0], expected, atol=1e-4)


def softmax_tiny(seed=0) -> keras.Model:
    """The tiny model with a two-logit softmax head, the kind tf-keras-vis's Score-CAM expects."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3))
    x = CaffePreprocess()(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(x)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv_b")(x)
    return keras.Model(
        inputs, keras.layers.Dense(2, name="logits")(keras.layers.GlobalAveragePooling2D()(x))
    )


IMAGES = np.random.default_rng(1).uniform(0, 255, (3, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)


def test_gradcam_plus_plus_golden_eq_19():
    # alpha = g^2 / (2 g^2 + sum(A) g^3) where g != 0; weight = sum(alpha * relu(g)).
    # exp(S) cancels.
    # Dog: channel 1 (sum 75) has g = +1 at three places: 3 / 77;
    #      channel 2 (sum 21) at one place: 1 / 23.
    np.testing.assert_allclose(raw("Grad-CAM++")[0], 3 / 77 * A1 + 1 / 23 * A2, rtol=1e-5)
    # Cat explains -z, so the gradients flip: channel 1 has g = +1 at one place,
    # channel 2 at three.
    np.testing.assert_allclose(
        raw("Grad-CAM++", target=0)[0], 1 / 77 * A1 + 3 / 23 * A2, rtol=1e-5
    )


def test_gradcam_plus_plus_weights_are_never_negative_for_relu_activations():
    rng = np.random.default_rng(0)
    activations = tf.constant(np.maximum(rng.normal(size=(4, 5, 5, 8)), 0), tf.float32)
    gradients = tf.constant(rng.normal(size=(4, 5, 5, 8)), tf.float32)
    weights = METHODS["Grad-CAM++"](golden_model(), ["conv"]).channel_weights(
        activations, gradients, tf.zeros(4)
    )
    assert (weights.numpy() >= 0).all() and (weights.numpy() > 0).any()


def test_gradcam_plus_plus_map_ignores_how_large_the_logit_is():
    """The logit moved to about -100, 0 and +100 (the head's bias only) leaves the map unmoved."""
    model = tiny_model(seed=2)
    kernel, _ = model.get_layer("logit").get_weights()
    maps = []
    for bias in (-100.0, 0.0, 100.0):
        model.get_layer("logit").set_weights([kernel, np.array([bias], np.float32)])
        result = METHODS["Grad-CAM++"](model, ["conv_b"])(IMAGES, DOG)
        assert np.isfinite(result.maps["conv_b"]).all() and abs(result.scores[0] - bias) < 20
        maps.append(np.stack([normalize(m) for m in result.maps["conv_b"]]))
    assert maps[1].max() > 0
    np.testing.assert_allclose(maps[0], maps[1], atol=1e-5)
    np.testing.assert_allclose(maps[2], maps[1], atol=1e-5)


@pytest.mark.parametrize("target", [0, DOG])
def test_layercam_parity_with_tf_keras_vis(target):
    from tf_keras_vis.layercam import Layercam

    model = tiny_model(seed=3)
    sign = 1.0 if target == DOG else -1.0
    reference = reference_map(Layercam, model, lambda out: sign * out[:, 0], IMAGES, "conv_a")
    np.testing.assert_allclose(
        raw("Layer-CAM", model, "conv_a", IMAGES, target), reference, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("top_n", [None, 3])
def test_scorecam_parity_with_tf_keras_vis(top_n):
    from tf_keras_vis.scorecam import Scorecam

    model = softmax_tiny(seed=4)
    image = IMAGES[:1]
    reference = reference_map(Scorecam, model, lambda p: p[:, 1], image, "conv_b", max_N=top_n)
    ours = raw("Score-CAM", model, "conv_b", image, DOG, top_n=top_n)
    np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_batch_equals_one_at_a_time_on_every_layer(method):
    model = tiny_model(seed=5)
    cam = METHODS[method](model, ["conv_a", "conv_b"])
    batch = cam(IMAGES, PREDICTED)
    for i in range(len(IMAGES)):
        single = cam(IMAGES[i : i + 1], PREDICTED)
        for layer in ("conv_a", "conv_b"):
            # A guided method's map is at the input's 8x8 pixels, a CAM's on the layer's grid.
            grid = (8, 8) if is_guided(method) else {"conv_a": (8, 8), "conv_b": (4, 4)}[layer]
            assert batch.maps[layer].shape[1:] == grid
            np.testing.assert_allclose(
                batch.maps[layer][i], single.maps[layer][0], rtol=1e-4, atol=1e-5
            )
            assert not np.isnan(normalize(batch.maps[layer][i])).any()


@pytest.mark.parametrize("method", list(METHODS))
def test_no_nan_on_an_all_black_image(method):
    black = np.zeros((2, TINY_SIZE, TINY_SIZE, 3), np.float32)
    maps = METHODS[method](tiny_model(seed=6), ["conv_b"])(black, DOG).maps["conv_b"]
    assert np.isfinite(maps).all()


def test_contrast_target_with_one_logit_is_the_dog_map_doubled():
    model = tiny_model(seed=7)
    cam = GradCAM(model, ["conv_b"])
    dog, contrast = cam(IMAGES, DOG), cam(IMAGES, CONTRAST)
    np.testing.assert_allclose(
        contrast.maps["conv_b"], 2 * dog.maps["conv_b"], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(contrast.scores, 2 * dog.scores, rtol=1e-6)


def test_aug_smooth_weighs_each_variant_equally_and_keeps_the_sign():
    cam = GradCAM(tiny_model(seed=8), ["conv_a"])
    smooth = cam(IMAGES, DOG, aug_smooth=True).maps["conv_a"]
    parts = [cam(IMAGES * f, DOG).maps["conv_a"] for f in TTA_FACTORS]
    parts += [cam(IMAGES[:, :, ::-1] * f, DOG).maps["conv_a"][:, :, ::-1] for f in TTA_FACTORS]
    scaled = [part / np.abs(part).max(axis=(1, 2), keepdims=True) for part in parts]
    np.testing.assert_allclose(smooth, np.mean(scaled, axis=0), rtol=1e-4, atol=1e-5)
    # Signed (no ReLU), at most 1 in size.
    assert (smooth < 0).any() and np.abs(smooth).max() <= 1 + 1e-6


def test_equal_weight_mean_gives_a_loud_variant_no_more_say():
    from core.cams.base import equal_weight_mean

    quiet, loud = np.array([[[1.0, 0.0]]]), np.array([[[0.0, -1000.0]]])  # (N=1, h=1, w=2) each
    np.testing.assert_allclose(equal_weight_mean(np.stack([quiet, loud])), [[[0.5, -0.5]]])
    # All-zero maps average to zero, not NaN.
    np.testing.assert_allclose(equal_weight_mean(np.zeros((2, 1, 2, 2))), np.zeros((1, 2, 2)))


def test_eigen_smooth_projects_the_weighted_activations():
    cam = METHODS["Grad-CAM"](golden_model(), ["conv"], eigen_smooth=True)
    weighted = np.stack([0.5 * A1, -0.5 * A2], axis=-1).reshape(4, 2)  # dog weights 0.5 and -0.5
    centred = weighted - weighted.mean(axis=0)
    expected = (centred @ np.linalg.svd(centred)[2][0]).reshape(2, 2)
    expected *= np.sign((weighted.sum(1) - weighted.sum(1).mean()) @ expected.ravel())
    np.testing.assert_allclose(cam(IMAGE, DOG).maps["conv"][0], expected, atol=1e-4)


def two_channel_model() -> keras.Model:
    """2x2x1 input -> 1x1 conv -> global mean -> z = mean1 - mean2.

    The conv's channel 1 is x, its channel 2 relu(5 - x).
    """
    inputs = keras.Input((2, 2, 1))
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="conv")
    dense = keras.layers.Dense(1)
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(conv(inputs))))
    conv.set_weights([np.array([[[[1.0, -1.0]]]]), np.array([0.0, 5.0])])
    dense.set_weights([np.array([[1.0], [-1.0]]), np.array([0.0])])
    return model


def test_scorecam_golden_with_one_logit_cat_dog_and_contrast():
    # x = [[1, 2], [3, 4]]: A1 = [[1, 2], [3, 4]], A2 = relu(5 - x) = [[4, 3], [2, 1]].
    # Masks (min-max scaled, same resolution):
    #   M1 = [[0, 1/3], [2/3, 1]], M2 = [[1, 2/3], [1/3, 0]].
    # x * M1 = [[0, 2/3], [2, 4]]: mean1 = 5/3, mean2 = mean(relu(5 - x*M1)) = 10/3, so z1 = -5/3.
    # x * M2 = [[1, 4/3], [1, 0]]: mean1 = 5/6, mean2 = 25/6, so z2 = -10/3.
    # Dog weighs each channel by sigmoid(z), cat by 1 - sigmoid(z),
    # the contrast by dog - cat = 2 sigmoid(z) - 1.
    image = np.array([[1, 2], [3, 4]], np.float32).reshape(1, 2, 2, 1)
    a1, a2 = np.array([[1, 2], [3, 4]], float), np.array([[4, 3], [2, 1]], float)
    dog = 1 / (1 + np.exp(-np.array([-5 / 3, -10 / 3])))
    for target, weights in ((DOG, dog), (0, 1 - dog), (CONTRAST, 2 * dog - 1)):
        ours = raw("Score-CAM", two_channel_model(), "conv", image, target, top_n=None)
        np.testing.assert_allclose(
            ours[0], weights[0] * a1 + weights[1] * a2, rtol=1e-5, err_msg=str(target)
        )


def test_where_methods_coincide_and_where_they_do_not():
    """At conv_b Grad-CAM = HiResCAM = XGrad-CAM (raw maps); at conv_a all methods differ.

    conv_b feeds global average pooling and the dense head: every position has the same gradient.
    Grad-CAM++ (eq. 19) scales each channel by 1 / (2 + g * sum(A)), so it is not Layer-CAM. conv_a
    is not pooled directly.
    """
    model = tiny_model(seed=9)
    at_b = {m: raw(m, model, "conv_b", IMAGES, DOG) for m in METHODS}
    np.testing.assert_allclose(at_b["HiResCAM"], at_b["Grad-CAM"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(at_b["XGrad-CAM"], at_b["Grad-CAM"], rtol=1e-4, atol=1e-6)
    plus, layer = (
        np.stack([normalize(m) for m in at_b[name]]) for name in ("Grad-CAM++", "Layer-CAM")
    )
    assert np.abs(plus - layer).max() > 1e-3
    at_a = {m: raw(m, model, "conv_a", IMAGES, DOG) for m in ("Grad-CAM", "HiResCAM", "XGrad-CAM")}
    assert np.abs(at_a["HiResCAM"] - at_a["Grad-CAM"]).max() > 1e-3
    assert np.abs(at_a["XGrad-CAM"] - at_a["Grad-CAM"]).max() > 1e-3


def test_a_new_method_with_an_option_is_one_class_and_one_registry_line(monkeypatch, tiny):
    """A method declares its option and its cost; the Explainer, the CLI and the page read them."""
    import argparse

    from core.cams.base import Option
    from core.cli.commands import method_options
    from core.cli.options import add_method_options
    from core.explain.explainer import Explainer
    from core.models.info import Classifier, ModelInfo

    class TopChannels(BaseCAM):
        """Grad-CAM over the `keep` channels with the largest weights (a toy)."""

        name = "Top-channels"
        options = {"keep": Option(2, (1, 2, 4), "Channels kept")}

        @classmethod
        def forward_passes(cls, channels, keep=2, **options):
            return keep  # a pretend cost, to see it reach the Explainer

        def channel_weights(self, activations, gradients, scores):
            weights = tf.reduce_mean(gradients, axis=(1, 2))
            top = tf.math.top_k(weights, self.settings["keep"]).values[:, -1:]
            return tf.where(weights >= top, weights, 0.0)

    monkeypatch.setitem(METHODS, TopChannels.name, TopChannels)  # the one registry line
    explainer = Explainer(Classifier(tiny, ModelInfo(image_size=8)), ["conv_b"])
    photo = IMAGES[0].astype(np.uint8)
    one, four = (explainer.explain([photo], "dog", "Top-channels", keep=k)[0] for k in (1, 4))
    assert not np.allclose(one.raw_maps["conv_b"], four.raw_maps["conv_b"])
    assert explainer.cost("Top-channels", keep=4) == 1 + 4 and explainer.cost("Grad-CAM") == 1
    with pytest.raises(ValueError, match="takes no option"):
        TopChannels(tiny, ["conv_b"], top_n=3)
    parser = argparse.ArgumentParser()
    add_method_options(parser)
    args = parser.parse_args(["--method", "Top-channels", "--keep", "1"])
    assert method_options(args)["keep"] == 1 and "top_n" not in method_options(args)
