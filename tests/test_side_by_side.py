"""Two models side by side: the maths by hand (shared targets, maps on the photo's grid, A minus B)
and the page through AppTest, with the catalogue's weights folder."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.explain import guide
from core.explain.explainer import Explainer, Explanation
from core.explain.side_by_side import (
    difference,
    difference_picture,
    on_photo,
    shared_targets,
    side_by_side,
    two_classes,
)
from core.models.catalog import ZERO_SHOT
from core.models.load import load_classifier
from tests.support import apps
from tests.support.catalog import FRUIT, HAND, NEW_RUN, OLD_RUN
from tests.support.photos import png_bytes

PAGE = "pages/side_by_side.py"


def explanation(raw: np.ndarray, layer: str = "conv") -> Explanation:
    """An explanation holding one signed map at `layer`, as Explainer.explain makes them."""
    return Explanation({"cat": 0.5, "dog": 0.5}, "cat", "cat", 1.0, {layer: raw}, 0.0)


def test_shared_targets_are_predicted_and_the_class_names_both_have():
    assert shared_targets(["cat", "dog"], ["dog", "cat"]) == ["predicted", "cat", "dog"]
    assert shared_targets(["cats", "dogs", "birds"], ["birds", "cats"]) == [
        "predicted",
        "cats",
        "birds",
    ]
    # Nothing in common (zero-shot's cat/dog against a fruit model): each picks its own.
    assert shared_targets(["cat", "dog"], ["apple", "pear", "plum"]) == []


def test_a_map_on_the_photo_keeps_its_values_and_corners():
    quadrant = np.array([[1.0, 0.0], [0.0, 0.0]], np.float32)
    stretched = on_photo(quadrant, 6, 10)
    assert stretched.shape == (6, 10) and stretched.min() >= 0 and stretched.max() <= 1
    # Bilinear: the hot corner stays hottest, the far corner stays cold.
    assert stretched[0, 0] == stretched.max() and stretched[-1, -1] == 0
    assert np.allclose(on_photo(np.full((7, 7), 0.25), 30, 20), 0.25)


def test_the_difference_of_two_known_maps():
    left = np.array([[1.0, 0.0], [1.0, 0.0]])  # model A looks left
    top = np.array([[1.0, 1.0], [0.0, 0.0]])  # model B looks at the top
    assert np.array_equal(difference(left, top), [[0, -1], [1, 0]])
    assert not difference(top, top).any()
    with pytest.raises(ValueError, match="one grid"):
        difference(left, np.zeros((3, 3)))
    picture = difference_picture(np.array([[1.0, -1.0, 0.0]]))
    red, blue, white = picture[0]
    assert red[0] > 2 * red[2] and blue[2] > 2 * blue[0] and white.min() > 230


def test_side_by_side_brings_two_layers_to_the_photo_and_subtracts():
    # A at a 2x2 layer (top-left hot), B at a 4x4 layer (uniform): both go to the 8x12 photo.
    first = explanation(np.array([[3.0, -1.0], [0.0, 0.0]]))
    second = explanation(np.ones((4, 4)), "other")
    pair = side_by_side(first, "conv", second, "other", (8, 12, 3))
    assert [m.shape for m in pair.maps] == [(8, 12), (8, 12)]
    # Each map is ReLU'd and scaled to its own maximum before they are compared.
    assert pair.maps[0].max() == 1 and np.allclose(pair.maps[1], 1)
    assert np.allclose(pair.difference, pair.maps[0] - 1) and pair.difference[0, 0] == 0


def test_two_maps_of_different_classes_are_said_to_compare_two_classes():
    cat = explanation(np.ones((2, 2)))
    dog = Explanation({"cat": 0.4, "dog": 0.6}, "dog", "dog", 1.0, {"conv": np.ones((2, 2))}, 0.0)
    assert two_classes(cat, cat) is None
    assert two_classes(cat, dog) == (
        "A explains 'cat', B explains 'dog': the difference compares two classes."
    )
    assert side_by_side(cat, "conv", dog, "conv", (4, 4, 3)).note == two_classes(cat, dog)
    assert side_by_side(cat, "conv", cat, "conv", (4, 4, 3)).note is None


def test_two_tiny_models_explained_on_one_photo(tiny_weights, tmp_path):
    from core.models.info import ModelInfo, save_classifier
    from tests.support.models import TINY_SIZE, tiny_model

    other = tmp_path / "other.keras"
    save_classifier(tiny_model(seed=9), ModelInfo(image_size=TINY_SIZE, backbone="tiny"), other)
    photo = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    a, b = (
        Explainer(load_classifier(path)).explain([photo], "dog")[0]
        for path in (tiny_weights / "model.keras", other)
    )
    pair = side_by_side(a, "conv_b", b, "conv_a", photo.shape)
    assert pair.difference.shape == (20, 30) and -1 <= pair.difference.min()
    assert pair.difference.max() <= 1 and pair.difference.any()
    same = side_by_side(a, "conv_b", a, "conv_b", photo.shape)
    assert not same.difference.any()


def captions(at: AppTest) -> list[str]:
    return [image.proto.imgs[0].caption for image in at.image]


def notes(at: AppTest) -> list[str]:
    return [caption.value for caption in at.caption]


def test_the_page_shows_two_predictions_two_maps_and_their_difference(catalogue):
    at = apps.open_page(PAGE)
    assert not at.exception and "Upload a photo" in at.info[0].value
    # Model A: the session's (the current run); model B: the run before it.
    assert at.sidebar.selectbox(key="model").value == NEW_RUN
    assert at.sidebar.selectbox(key="second_model").value == OLD_RUN
    assert at.sidebar.selectbox(key="pair_target").options == ["predicted", "cat", "dog"]
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=3), "image/png")).run()
    assert not at.exception and not at.error
    predictions = [m.value for m in at.markdown if m.value.startswith("Prediction: **")]
    assert len(predictions) == 2 and len(at.get("vega_lite_chart")) == 2
    # "predicted": each model explains its own top class, at its own default layer.
    labels = [prediction.split("**")[1] for prediction in predictions]
    assert captions(at) == [
        *(f"Grad-CAM for '{label}' at conv_b" for label in labels),
        "A minus B",
    ]
    assert "Red: where A looks" in at.markdown[-1].value
    at.sidebar.selectbox(key="pair_target").set_value("dog").run()
    at.selectbox(key="pair_layer_b").set_value("conv_a").run()
    assert captions(at)[:2] == ["Grad-CAM for 'dog' at conv_b", "Grad-CAM for 'dog' at conv_a"]
    assert at.metric[0].label == "Mean |A − B|" and float(at.metric[0].value) > 0
    assert not at.selectbox(key="pair_layer_a").disabled and guide.NO_LAYER not in notes(at)
    # Guided Backprop has no layer: the boxes are disabled, said once, and no caption names one.
    at.sidebar.selectbox(key="pair_method").set_value("Guided Backprop").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="pair_layer_a").disabled and at.selectbox(key="pair_layer_b").disabled
    assert notes(at).count(guide.NO_LAYER) == 1
    assert captions(at)[:2] == ["Guided Backprop for 'dog'"] * 2


def test_predicted_says_when_the_two_models_explain_different_classes(catalogue):
    at = apps.open_page(PAGE)
    assert at.sidebar.selectbox(key="pair_target").value == "predicted"
    # This photo: the current run predicts dog, the run before it cat.
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=3), "image/png")).run()
    assert not at.exception and not at.error
    assert captions(at)[:2] == ["Grad-CAM for 'dog' at conv_b", "Grad-CAM for 'cat' at conv_b"]
    assert [w.value for w in at.warning] == [
        "A explains 'dog', B explains 'cat': the difference compares two classes."
    ]
    # One class for both: nothing to say.
    at.sidebar.selectbox(key="pair_target").set_value("dog").run()
    assert not at.exception and not at.warning
    # Both predict cat on this one.
    at.sidebar.selectbox(key="pair_target").set_value("predicted").run()
    at.sidebar.file_uploader[0].set_value(("cat.png", png_bytes(seed=0), "image/png")).run()
    assert captions(at)[:2] == ["Grad-CAM for 'cat' at conv_b", "Grad-CAM for 'cat' at conv_b"]
    assert not at.exception and not at.warning


def test_models_without_a_shared_class_get_a_target_each(catalogue):
    at = apps.open_page(PAGE)
    at.sidebar.selectbox(key="second_model").set_value(FRUIT).run()
    assert not at.exception
    assert "share no class name" in at.info[0].value
    assert at.selectbox(key="pair_target_a").options[1:3] == ["cat", "dog"]
    assert at.selectbox(key="pair_target_b").options[1:4] == ["apple", "pear", "plum"]
    assert at.selectbox(key="pair_layer_b").value == "features"
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=4), "image/png")).run()
    at.selectbox(key="pair_target_a").set_value("cat").run()
    at.selectbox(key="pair_target_b").set_value("pear").run()
    assert not at.exception and not at.error
    assert captions(at) == [
        "Grad-CAM for 'cat' at conv_b",
        "Grad-CAM for 'pear' at features",
        "A minus B",
    ]
    # Back to two cat/dog models: one shared target again.
    at.sidebar.selectbox(key="second_model").set_value(HAND).run()
    assert not at.exception and at.sidebar.selectbox(key="pair_target").value == "predicted"
    assert len(at.image) == 3


def test_a_model_that_cannot_load_is_named_in_one_line(catalogue):
    at = apps.open_page(PAGE)
    at.sidebar.selectbox(key="second_model").set_value(ZERO_SHOT).run()
    assert not at.exception and len(at.error) == 1
    assert at.error[0].value.startswith(
        "Model B (Zero-shot ImageNet (ResNet-50) · unavailable offline): Zero-shot ImageNet is "
        "unavailable: "
    )
    assert "Pick another model under **Model** or **Second model**" in at.info[0].value
    # The same model on both sides: said, and the page still works.
    at.sidebar.selectbox(key="second_model").set_value(NEW_RUN).run()
    assert not at.exception and not at.error
    assert "Model A and model B are the same model" in at.info[0].value


def test_the_explain_pages_explanation_is_reused_here(catalogue, monkeypatch):
    """One cache of explanations for every page: model A's map comes from the Explain page's."""
    from core.explain import display

    made, real = [], display.explain_photo

    def counted(*args, **options):
        made.append(args)
        return real(*args, **options)

    monkeypatch.setattr(display, "explain_photo", counted)
    at = apps.open_page("app.py")
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=9), "image/png")).run()
    assert not at.exception and len(made) == 1  # the Explain page: the current run, Grad-CAM
    at.switch_page("pages/side_by_side.py").run()
    assert not at.exception and not at.error
    assert len(made) == 2  # model B only: model A's is the Explain page's
    at.switch_page("pages/explain.py").run()
    assert not at.exception and len(made) == 2
