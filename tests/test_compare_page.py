"""The Compare page through AppTest, and the grid's figures."""

import numpy as np

from core.cams import METHODS, uses_layer
from core.explain.compare import coincidences, compare, cost
from core.explain.explainer import NO_LAYER, Explainer
from core.models.load import load_classifier
from core.pace import listening
from tests.support import apps
from tests.support.photos import png_bytes

PAGE = "pages/compare.py"


def test_grid_has_every_method_and_layer(tiny_weights):
    explainer = Explainer(load_classifier(tiny_weights / "model.keras"))
    photo = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    seen = []
    with listening(seen.append):
        cells = compare(explainer, photo, list(METHODS), ["conv_a", "conv_b"], steps=5)
    # Guided Backprop, which no layer changes, once.
    assert [(c.method, c.layer) for c in cells] == [
        (m, layer)
        for m in METHODS
        for layer in (("conv_a", "conv_b") if uses_layer(m) else (NO_LAYER,))
    ]
    assert all(0 <= c.deletion_auc <= 1 and c.seconds > 0 and c.heatmap.max() <= 1 for c in cells)
    assert cost(explainer, ["Grad-CAM"], ["conv_a"], steps=5) == 1 + 6
    # Every forward pass the grid makes is counted towards its bar (core.pace), as many as it
    # costs: a CAM's pass, the guided pass, Score-CAM's masked ones, each deletion curve's.
    assert sum(seen) == cost(explainer, list(METHODS), ["conv_a", "conv_b"], steps=5)
    # Score-CAM declares its cost: a masked pass per channel tried, at each layer (4 + 6 channels).
    assert explainer.cost("Score-CAM") == 1 + 4 + 6 and explainer.cost("Score-CAM", top_n=3) == 7
    assert cost(explainer, ["Grad-CAM", "Score-CAM"], ["conv_a"], steps=5) == 1 + 11 + 2 * 6
    # Guided Backprop at two layers: its own passes, and one deletion curve of 6.
    guided = explainer.cost("Guided Backprop") + 6
    assert cost(explainer, ["Guided Backprop"], ["conv_a", "conv_b"], steps=5) == guided
    # conv_b feeds pooling and the dense head: one gradient per channel, so three methods are one
    # there.
    assert coincidences(cells) == ["At conv_b, Grad-CAM, HiResCAM, XGrad-CAM give the same map."]


def test_compare_page_fills_its_grid(monkeypatch, tiny_weights, tmp_path):
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tiny_weights))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "none"))
    at = apps.open_page(PAGE)
    assert not at.exception and "Upload a photo" in at.info[0].value
    at.file_uploader[0].set_value(("pet.png", png_bytes(seed=5), "image/png")).run()
    at.button(key="fill").click().run()
    assert not at.exception
    # The photo the grid is for, then one cell per method and layer.
    photo, *captions = [image.proto.imgs[0].caption for image in at.image]
    assert photo == "pet.png"
    layered = sum(map(uses_layer, METHODS))  # Guided Backprop: one cell
    assert len(captions) == layered * 2 + len(METHODS) - layered
    assert all("deletion AUC" in c for c in captions)
    assert "At conv_b, Grad-CAM, HiResCAM, XGrad-CAM give the same map." in at.info[0].value


def test_compare_page_shares_the_explain_pages_photo_sources(monkeypatch, tiny_weights, pets):
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tiny_weights))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(pets / "validation"))
    at = apps.open_page(PAGE)
    assert at.sidebar.radio(key="source").options == [
        "Upload a photo",
        "Take a photo",
        "Random validation photo",
    ]
    assert not any("CATDOG_" in info.value for info in at.info)
    at.sidebar.radio(key="source").set_value("Random validation photo").run()
    at.sidebar.button[0].click().run()
    at.multiselect(key="methods").set_value(["Grad-CAM"]).run()
    at.button(key="fill").click().run()
    # The photo, then Grad-CAM at the two layers.
    assert not at.exception and not at.error and len(at.image) == 3
    # Another class is another grid: the one made for the predicted class is not shown for it.
    at.selectbox(key="compare_target").set_value("dog").run()
    assert not at.exception and len(at.image) == 1
