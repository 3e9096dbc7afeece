"""Explaining K classes: top-1 vs top-2 by hand and by parity, the top 5, the Explain page at K=3.

Offline, every ResNet-50 here has random weights (ImageNet's cannot be downloaded); the maths
under test does not depend on them.
"""

from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from streamlit.testing.v1 import AppTest

from core.cams import METHODS, PREDICTED, TOP_TWO, GradCAM, class_scores
from core.cams.base import NO_REFERENCE, class_probabilities, resolve_targets
from core.config import TOP1_VS_TOP2
from core.errors import SettingError
from core.explain import guide
from core.explain.explainer import Explainer, top_k
from core.models.info import Classifier, ModelInfo, save_classifier
from tests.support import apps
from tests.support.models import TINY_SIZE, tiny_model
from tests.support.photos import png_bytes

BREEDS = ("Abyssinian", "Bengal", "beagle")
# log of (1, 4, 2, 1): softmax (1/8, 4/8, 2/8, 1/8); the top two are class 1 and class 2.
LOGITS = tf.constant([np.log([1.0, 4.0, 2.0, 1.0])], tf.float32)


def images(n: int = 3, size: int = TINY_SIZE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, size, size, 3)).astype(np.float32)


def test_top1_vs_top2_golden_by_hand():
    # Score: ln 4 - ln 2 = ln 2. Probability: 4/8 - 2/8 = 0.25.
    top = tf.constant([TOP_TWO])
    np.testing.assert_allclose(class_scores(LOGITS, top), [math.log(2)], rtol=1e-6)
    np.testing.assert_allclose(class_probabilities(LOGITS, top), [0.25], rtol=1e-6)
    chosen, reference = resolve_targets(LOGITS, top)
    assert (chosen.numpy().tolist(), reference.numpy().tolist()) == ([1], [2])
    # A named class has no reference; a fixed pair is kept as given (ln 1 - ln 4).
    assert resolve_targets(LOGITS, tf.constant([3]))[1].numpy().tolist() == [NO_REFERENCE]
    fixed = class_scores(LOGITS, tf.constant([0]), tf.constant([1]))
    np.testing.assert_allclose(fixed, [-math.log(4)], rtol=1e-6)
    # One logit z = 2: top-1 is class 1 (z), top-2 class 0 (-z), so the difference is 2z.
    np.testing.assert_allclose(class_scores(tf.constant([[2.0], [-3.0]]), [TOP_TWO] * 2), [4, 6])


def test_top_k_sorts_and_keeps_both_of_two():
    assert top_k({"cat": 0.3, "dog": 0.7}) == [("dog", 0.7), ("cat", 0.3)]
    many = {f"c{i}": p for i, p in enumerate([0.05, 0.3, 0.1, 0.2, 0.15, 0.12, 0.08])}
    assert [name for name, _ in top_k(many, 5)] == ["c1", "c3", "c4", "c5", "c2"]


def assert_top_two_is_a_difference(model: keras.Model, layer: str, batch: np.ndarray) -> None:
    """Grad-CAM is linear in the score: map(top-1 minus top-2) = map(top-1) - map(top-2)."""
    cam = GradCAM(model, [layer])
    contrast = cam(batch, TOP_TWO)
    first, second = contrast.class_index, contrast.reference
    assert (first != second).all() and (second >= 0).all()
    difference = cam(batch, first).maps[layer] - cam(batch, second).maps[layer]
    scale = np.abs(difference).max()
    np.testing.assert_allclose(contrast.maps[layer], difference, atol=1e-4 * scale)
    top = np.sort(contrast.logits, axis=1)
    np.testing.assert_allclose(contrast.scores, top[:, -1] - top[:, -2], rtol=1e-4, atol=1e-5)


def test_top1_vs_top2_is_the_difference_of_two_maps_on_a_k_class_model():
    assert_top_two_is_a_difference(tiny_model(seed=1, classes=5), "conv_a", images())


def test_top1_vs_top2_is_the_difference_of_two_maps_through_batchnorm():
    keras.utils.set_random_seed(2)
    inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_b")(x)
    logits = keras.layers.Dense(4)(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, logits)
    # Statistics of its own, so inference-mode BatchNorm is not the identity.
    bn = model.get_layer("bn")
    bn.set_weights([np.full(4, 1.5), np.full(4, 0.1), np.full(4, 20.0), np.full(4, 400.0)])
    assert_top_two_is_a_difference(model, "conv", images() / 4)


@pytest.mark.resnet
def test_top1_vs_top2_is_the_difference_of_two_maps_on_resnet50_with_37_classes():
    # Random weights (offline: ImageNet's cannot be downloaded); the identity holds for any.
    from core.models.build import build_classifier
    from core.models.graph import LAST_STAGE

    model = build_classifier("none", num_classes=37)
    assert model.output_shape == (None, 37)
    assert_top_two_is_a_difference(model, LAST_STAGE, images(2, 224))


def rival_model() -> keras.Model:
    """2x2x1 input -> 1x1 conv (x, relu(5 - x)) -> global mean (m1, m2) -> [m1, m2 - 0.1, 1].

    On x = [[1, 2], [3, 4]]: m1 = m2 = 2.5, logits [2.5, 2.4, 1], so top-1 is 0 and top-2 is 1.
    Score-CAM's masked copies rank otherwise: x * M1 gives [5/3, 10/3 - 0.1, 1] (class 1 first).
    """
    inputs = keras.Input((2, 2, 1))
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="conv")
    dense = keras.layers.Dense(3)
    model = keras.Model(inputs, dense(keras.layers.GlobalAveragePooling2D()(conv(inputs))))
    conv.set_weights([np.array([[[[1.0, -1.0]]]]), np.array([0.0, 5.0])])
    dense.set_weights([np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), np.array([0.0, -0.1, 1.0])])
    return model


def test_score_cam_weighs_by_the_unmasked_photos_pair():
    """Score-CAM's top-1 vs top-2 is its top-1 map minus its top-2 map, both of the photo.

    Its masked copies' own top two are other classes; the pair stays the photo's.
    """
    cam = METHODS["Score-CAM"](rival_model(), ["conv"], top_n=None)
    photo = np.array([[1, 2], [3, 4]], np.float32).reshape(1, 2, 2, 1)
    contrast = cam(photo, TOP_TWO)
    assert (contrast.class_index.tolist(), contrast.reference.tolist()) == ([0], [1])
    first, second = cam(photo, 0).maps["conv"], cam(photo, 1).maps["conv"]
    np.testing.assert_allclose(contrast.maps["conv"], first - second, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_explains_top1_vs_top2(method):
    cam = METHODS[method](tiny_model(seed=5, classes=4), ["conv_a", "conv_b"])
    for smooth in (False, True):
        result = cam(images(2, seed=6), TOP_TWO, aug_smooth=smooth)
        top = np.sort(result.logits, axis=1)
        np.testing.assert_allclose(result.scores, top[:, -1] - top[:, -2], rtol=1e-4, atol=1e-5)
        assert all(np.isfinite(m).all() for m in result.maps.values())


def k_class_explainer(k: int = 3) -> Explainer:
    names = BREEDS if k == 3 else tuple(f"breed_{i:02d}" for i in range(k))
    info = ModelInfo(class_names=names, image_size=TINY_SIZE, backbone="tiny")
    return Explainer(Classifier(tiny_model(seed=7, classes=k), info))


def test_explainer_targets_names_and_scored_class_for_k_classes():
    explainer = k_class_explainer()
    assert explainer.targets == ["predicted", *BREEDS, TOP1_VS_TOP2]
    photo = images(1, seed=8)[0].astype(np.uint8)
    top = explainer.explain([photo], TOP1_VS_TOP2)[0]
    first, second = (name for name, _ in top.top(2))
    assert (top.scored, top.versus, top.label) == (first, second, first)
    assert top.title == f"top-1 vs top-2 ({first} minus {second})"
    assert explainer.scored_class(top) == BREEDS.index(first)
    assert explainer.contrast_targets(top) == [first, second, TOP1_VS_TOP2]
    for name in BREEDS:
        named = explainer.explain([photo], name)[0]
        assert (named.target, named.scored, named.versus) == (name, name, None)
        assert explainer.scored_class(named) == BREEDS.index(name)
    predicted = explainer.explain([photo])[0]
    assert predicted.target == predicted.label == first
    with pytest.raises(SettingError, match="'fox' is not one of the model's 3 classes"):
        explainer.target_index("fox")


def test_faithfulness_and_sanity_check_follow_the_class_explained():
    explainer = k_class_explainer()
    photo = images(1, seed=9)[0].astype(np.uint8)
    top = explainer.explain([photo], TOP1_VS_TOP2)[0]
    measured = explainer.faithfulness(photo, top, "conv_b", steps=4)
    # The deletion curve starts at the top-1 class's probability.
    assert measured["map"]["deletion"][0] == pytest.approx(top.probabilities[top.scored], 1e-4)
    steps = explainer.sanity_check(photo, "conv_b", TOP1_VS_TOP2, "Grad-CAM")
    assert {step["class_index"] for step in steps} == {BREEDS.index(top.scored)}


def test_two_classes_keep_their_contrast():
    explainer = Explainer(Classifier(tiny_model(seed=7), ModelInfo(image_size=TINY_SIZE)))
    assert explainer.targets == ["predicted", "cat", "dog", "dog minus cat"]
    photo = images(1, seed=10)[0].astype(np.uint8)
    contrast = explainer.explain([photo], "dog minus cat")[0]
    assert (contrast.title, contrast.scored, contrast.versus) == ("dog minus cat", "dog", "cat")
    dog = explainer.explain([photo], "dog")[0]
    assert contrast.score == pytest.approx(2 * dog.score, rel=1e-5)
    # top1-vs-top2 is taken for two classes too: the predicted class minus the other.
    top = explainer.explain([photo], TOP1_VS_TOP2)[0]
    assert top.score == pytest.approx(2 * abs(dog.score), rel=1e-5)


@pytest.fixture
def three_classes(monkeypatch, tmp_path) -> AppTest:
    folder = tmp_path / "weights"
    info = ModelInfo(class_names=BREEDS, image_size=TINY_SIZE, backbone="tiny")
    save_classifier(tiny_model(seed=11, classes=3), info, folder / "model.keras")
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "none"))
    at = apps.open_page("app.py")
    assert not at.exception
    return at


def test_explain_page_explains_each_of_three_classes_and_top1_vs_top2(three_classes):
    at = three_classes
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=12), "image/png")).run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Which of 3 classes is it, and why?"
    # Every place that said "a cat or a dog" speaks of the model's own classes.
    assert at.sidebar.file_uploader[0].label == "A photo of one of 3 classes"
    assert "Why the top two classes" in at.toggle(key="contrast").label
    rows = apps.top_chart(at)
    assert sorted(rows["class"]) == sorted(BREEDS)
    assert rows["probability (%)"].is_monotonic_decreasing
    assert at.subheader[0].value.startswith(f"Prediction: **{rows['class'][0]}**")
    for name in BREEDS:
        at.selectbox(key="target").set_value(name).run()
        assert not at.exception and f"Grad-CAM for '{name}'" in at.image[1].proto.imgs[0].caption
    at.selectbox(key="target").set_value(TOP1_VS_TOP2).run()
    first, second = rows["class"][0], rows["class"][1]
    about = f"Grad-CAM for 'top-1 vs top-2 ({first} minus {second})'"
    assert not at.exception and about in at.image[1].proto.imgs[0].caption
    at.toggle(key="contrast").set_value(True).run()
    captions = [image.proto.imgs[0].caption for image in at.image[3:6]]
    assert [c.split("'")[1] for c in captions] == [first, second, about.split("'")[1]]
    assert not at.exception and len(apps.top_chart(at)) == 3


def test_the_pages_words_follow_the_models_classes():
    assert guide.page_title(("cat", "dog")) == "Why does the model think it's a cat or a dog?"
    assert guide.page_title(None) == guide.page_title(("cat", "dog"))
    assert guide.page_title(("apple", "pear")) == "Why does the model think it's apple or pear?"
    assert guide.subject(BREEDS) == "one of 3 classes"
    assert guide.contrast_toggle(("apple", "pear")) == "Why apple, why pear, and the contrast"


def test_compare_page_explains_a_named_class_of_three(monkeypatch, three_classes):
    at = apps.open_page("pages/compare.py")
    at.file_uploader[0].set_value(("pet.png", png_bytes(seed=13), "image/png")).run()
    at.multiselect(key="methods").set_value(["Grad-CAM", "Score-CAM"]).run()
    at.selectbox(key="compare_target").set_value(TOP1_VS_TOP2).run()
    at.button(key="fill").click().run()
    assert not at.exception and len(at.image) == 1 + 2 * 2
    at.selectbox(key="compare_target").set_value("Bengal").run()
    at.button(key="fill").click().run()
    assert not at.exception and len(at.image) == 1 + 2 * 2
    assert at.selectbox(key="compare_target").value == "Bengal"


def test_predicted_is_resolved_once_for_every_image():
    # PREDICTED on a K-logit head is the argmax; no reference class.
    result = GradCAM(tiny_model(seed=14, classes=4), ["conv_b"])(images(3, seed=15), PREDICTED)
    assert (result.class_index == result.logits.argmax(1)).all()
    assert (result.reference == NO_REFERENCE).all()


@pytest.mark.resnet
def test_zero_shot_imagenet_view_explains_any_of_1000_classes_with_shared_weights(
    capsys, monkeypatch, tmp_path
):
    # Random weights: ImageNet's cannot be downloaded offline; names and maths do not need them.
    from core.cli.commands import main
    from core.models.build import (
        IMAGENET_CATS,
        build_zero_shot,
        imagenet_class_names,
        imagenet_view,
    )

    zero_shot = build_zero_shot("none")
    imagenet = imagenet_view(zero_shot)
    names = imagenet.info.class_names
    assert names == imagenet_class_names() and len(set(names)) == 1000
    assert names[IMAGENET_CATS[0]] == "tabby cat" and "sunglasses (#836)" in names
    # The same variables, not a copy: one ResNet-50 in memory.
    assert {id(v) for v in imagenet.model.weights} <= {id(v) for v in zero_shot.model.weights}
    explainer = Explainer(imagenet, ["conv5_block3_out"])
    photo = images(1, 224, seed=16)[0].astype(np.uint8)
    tabby = explainer.explain([photo], "tabby cat")[0]
    logits = imagenet.model(photo[None].astype(np.float32)).numpy()[0]
    assert tabby.score == pytest.approx(float(logits[IMAGENET_CATS[0]]), rel=1e-4, abs=1e-4)
    top = explainer.explain([photo], TOP1_VS_TOP2)[0]
    first, second = np.argsort(-logits)[:2]
    assert (top.scored, top.versus) == (names[first], names[second])
    assert [name for name, _ in top.top(5)] == [names[i] for i in np.argsort(-logits)[:5]]
    # The CLI: --classes imagenet on the zero-shot model (no fine-tuned one in weights/).
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("CATDOG_IMAGENET_WEIGHTS", "none")
    path = tmp_path / "pet.png"
    path.write_bytes(png_bytes(seed=17, size=(64, 48)))
    argv = ["explain", path, "--out", tmp_path / "out", "--classes", "imagenet"]
    code = main([*map(str, argv), "--target", "tabby cat"])
    record = json.loads(capsys.readouterr().out)
    assert code == 0 and record["target"] == "tabby cat" and len(record["probabilities"]) == 5
    assert set(record["probabilities"]) <= set(names)


@pytest.mark.resnet
def test_explain_page_offers_imagenets_classes_for_the_zero_shot_model(monkeypatch, tmp_path):
    # Random weights (offline); the page's choices do not depend on them.
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("CATDOG_IMAGENET_WEIGHTS", "none")
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "none"))
    at = apps.open_page("app.py", apps.RESNET_PAGE_TIMEOUT)
    assert not at.exception and not at.error
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=18), "image/png")).run()
    # The default view is today's: cat vs dog, folded.
    assert at.radio(key="view").value == "cat vs dog (folded)"
    assert sorted(apps.top_chart(at)["class"]) == ["cat", "dog"]
    at.selectbox(key="target").set_value("dog").run()
    at.radio(key="view").set_value("ImageNet's 1,000 classes").run()
    assert not at.exception and not at.error
    # "dog" is no ImageNet class: the select falls back to predicted.
    assert at.selectbox(key="target").value == "predicted"
    assert len(at.selectbox(key="target").options) == 1 + 1000 + 1
    rows = apps.top_chart(at)
    assert len(rows) == 5 and rows["probability (%)"].is_monotonic_decreasing
    at.selectbox(key="target").set_value("tabby cat").run()
    assert not at.exception and "for 'tabby cat'" in at.image[1].proto.imgs[0].caption
    at.selectbox(key="target").set_value(TOP1_VS_TOP2).run()
    about = f"top-1 vs top-2 ({rows['class'][0]} minus {rows['class'][1]})"
    assert not at.exception and about in at.image[1].proto.imgs[0].caption
    at.radio(key="view").set_value("cat vs dog (folded)").run()
    assert not at.exception and at.selectbox(key="target").value == "predicted"


def test_the_contrast_note_follows_the_head():
    """A one-logit head's contrast is twice its logit; a two-logit head's is a real difference."""
    assert guide.contrast_note(("cat", "dog"), one_logit=True) == (
        "With a one-logit head, dog minus cat is twice the dog logit: its map is the dog map."
    )
    two_logits = guide.contrast_note(("apple", "pear"), one_logit=False)
    assert two_logits == "pear minus apple is the difference of the two classes' own logits."
