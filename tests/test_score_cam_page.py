"""The Explain page's long work (#30, item 5): Score-CAM computes only the layer shown (a
forward pass per channel tried, per layer), other methods still every layer in one pass; the
time is said in seconds from one second on."""

from __future__ import annotations

from dataclasses import replace

from core.explain import display
from tests.support import apps
from tests.support.photos import png_bytes


def explained_layers(monkeypatch) -> list[set[str]]:
    """The layers each explanation the pages make holds a map of, as they are made."""
    made, real = [], display.explain_photo

    def spied(*args, **options):
        photo, explanation = real(*args, **options)
        made.append(set(explanation.raw_maps))
        return photo, explanation

    monkeypatch.setattr(display, "explain_photo", spied)
    return made


def open_with_photo(monkeypatch, weights, tmp_path, seed):
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(weights))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "no-validation"))
    at = apps.open_page("app.py")
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=seed), "image/png")).run()
    return at


def test_score_cam_computes_the_layer_shown_and_grad_cam_every_layer(
    monkeypatch, tiny_weights, tmp_path
):
    made = explained_layers(monkeypatch)
    at = open_with_photo(monkeypatch, tiny_weights, tmp_path, seed=11)
    every = made[-1]
    assert not at.exception and len(every) > 1  # Grad-CAM: every layer from its one pass
    at.sidebar.selectbox(key="method").set_value("Score-CAM").run()
    at.sidebar.select_slider(key="layer").set_value("conv_a").run()
    assert not at.exception and made[-1] == {"conv_a"}
    assert any("(this layer)" in caption.value for caption in at.sidebar.caption)
    assert at.metric[0].label == "Explained in"


def test_explained_in_says_seconds_from_one_second_on(monkeypatch, tiny_weights, tmp_path):
    real = display.explain_photo

    def slow(*args, **options):
        photo, explanation = real(*args, **options)
        return photo, replace(explanation, seconds=2.34)

    monkeypatch.setattr(display, "explain_photo", slow)
    at = open_with_photo(monkeypatch, tiny_weights, tmp_path, seed=12)
    assert not at.exception and at.metric[0].value == "2.3 s"


def test_side_by_side_score_cam_computes_each_models_layer_shown(catalogue, monkeypatch):
    made = explained_layers(monkeypatch)
    at = apps.open_page("pages/side_by_side.py")
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=13), "image/png")).run()
    before = len(made)
    at.sidebar.selectbox(key="pair_method").set_value("Score-CAM").run()
    assert made[before:] == [{"conv_b"}, {"conv_b"}]  # each model at its default layer only
    at.selectbox(key="pair_layer_b").set_value("conv_a").run()
    assert not at.exception and not at.error and made[before + 2 :] == [{"conv_a"}]
