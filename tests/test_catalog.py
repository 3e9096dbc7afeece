"""The models a person may choose (core/catalog.py) and the picker every explaining page draws.

The `catalogue` fixture's temporary weights/ folder holds two trained runs (the newer one
current), a model copied in by hand and an imported three-class CNN (tests/support/catalog.py);
zero-shot ImageNet is always offered, and is unavailable here as it would be offline.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from core.config import Config
from core.explain import display, export
from core.explain.explainer import Explainer
from core.models.catalog import ZERO_SHOT, models, second_choice
from core.models.info import ModelInfo, save_classifier
from core.models.load import load_classifier
from core.models.preprocessing import PREPROCESSING
from core.training.store import publish
from tests.support import apps
from tests.support.catalog import FRUIT, HAND, KEYS, NEW_RUN, OLD_RUN
from tests.support.models import TINY_SIZE, tiny_model
from tests.support.photos import png_bytes


def sha(weights: Path, key: str) -> str:
    return json.loads((weights / key).with_suffix(".json").read_text())["sha256"]


def test_every_model_is_listed_with_its_facts_and_the_current_one_marked(catalogue, tmp_path):
    entries = models(Config())
    assert [entry.key for entry in entries] == KEYS
    assert [entry.label for entry in entries] == [
        "Run 2026-01-02 09:00 · data/pets (current)",
        "Run 2026-01-01 09:00 · data/pets",
        "Copied in by hand: model.keras",
        "Imported: fruit",
        "Zero-shot ImageNet (ResNet-50) · unavailable offline",
    ]
    assert [entry.current for entry in entries] == [True, False, False, False, False]
    new, old, hand, fruit, zero_shot = (entry.facts for entry in entries)
    assert new == (
        "fine-tuned · 2 classes (cat, dog) · input 8×8 · preprocessing none · "
        f"validation accuracy 90.0% · SHA-256 {sha(catalogue, NEW_RUN + '/model.keras')[:12]}"
    )
    assert "validation accuracy 80.0%" in old and "accuracy" not in hand
    assert fruit.startswith("imported · 3 classes (apple, pear, plum) · input 8×8")
    fruit_sha = sha(catalogue, FRUIT + "/model.keras")
    assert f"preprocessing rescale · SHA-256 {fruit_sha[:12]}" in fruit
    assert zero_shot.startswith(
        "zero-shot · 2 classes (cat, dog) · input 224×224 · preprocessing none (caffe inside)"
    )
    # Its sidecar holds a preprocessing name the loader knows; "(caffe inside)" is only shown.
    assert entries[-1].info.preprocessing in PREPROCESSING
    shown = json.dumps([(entry.label, entry.facts) for entry in entries])
    assert str(tmp_path) not in shown and str(tmp_path.resolve()) not in shown


def test_the_second_choice_is_the_run_before_else_a_model_on_disk_else_zero_shot(catalogue):
    """Zero-shot comes last, and not at all offline: the page would open on an error."""
    new, old, hand, fruit, zero_shot = models(Config())
    assert second_choice(models(Config()), new) == old
    assert second_choice(models(Config()), old) == hand
    assert second_choice(models(Config()), fruit) == new
    assert second_choice([hand, fruit, zero_shot], hand) == fruit
    assert second_choice([hand, zero_shot], hand) == hand  # zero-shot is unavailable offline
    assert second_choice([zero_shot], zero_shot) == zero_shot


def test_without_a_model_zero_shot_is_current_and_a_broken_sidecar_is_said(tmp_path):
    config = Config(weights_dir=tmp_path / "weights")
    (only,) = models(config)
    assert only.key == ZERO_SHOT and only.current and only.label.endswith("(current)")
    save_classifier(tiny_model(), ModelInfo(image_size=TINY_SIZE), tmp_path / "weights" / HAND)
    (tmp_path / "weights" / "model.json").write_text("{not json")
    run = tmp_path / "weights" / "runs" / "20260305-141500"
    save_classifier(tiny_model(), ModelInfo(image_size=TINY_SIZE), run / "model.keras")
    run_entry, hand, zero_shot = models(config)
    # No trained_at in its sidecar: the run is dated by its folder's stamp.
    assert run_entry.label == "Run 2026-03-05 14:15" and hand.current and not zero_shot.current
    assert hand.info is None and "cannot be read" in hand.facts


def test_the_manifest_names_the_model_in_use(catalogue):
    config = Config()
    old = models(config)[1]
    loaded = display.LoadedModel(Explainer(load_classifier(old.path)))
    explanation = loaded.explainer.explain([np.zeros((8, 8, 3), np.uint8)])[0]
    record = export.manifest(loaded, explanation, "conv_b", {}, config, old)
    assert record["model"]["name"] == "Run 2026-01-01 09:00 · data/pets"
    assert record["model"]["key"] == OLD_RUN
    assert record["model"]["file"] == f"{OLD_RUN}/model.keras"
    assert record["model"]["sha256"] == sha(catalogue, OLD_RUN + "/model.keras")
    # Without an entry: the app's current model, as before.
    assert export.manifest(loaded, explanation, "conv_b", {}, config)["model"]["key"] == NEW_RUN
    caption = display.model_caption(old, loaded.explainer.classifier.info)
    assert caption.startswith("Model: Run 2026-01-01 09:00 · data/pets · fine-tuned tiny")


def open_app() -> AppTest:
    at = apps.open_page("app.py")
    assert not at.exception
    return at


def probabilities(at: AppTest) -> str:
    """The prediction's top classes as the chart sends them (st.bar_chart's Arrow bytes)."""
    (chart,) = [e for e in at.main if getattr(e, "type", "") == "vega_lite_chart"]
    return chart.proto.datasets[0].data.data


def test_the_picker_lists_every_model_and_shows_the_chosen_ones_facts(catalogue):
    at = open_app()
    picker = at.sidebar.selectbox(key="model")
    assert picker.label == "Model" and picker.value == NEW_RUN
    assert picker.options == [entry.label for entry in models(Config())]
    assert at.sidebar.caption[0].value == models(Config())[0].facts
    assert at.caption[0].value.startswith("Model: Run 2026-01-02 09:00 · data/pets (current) · ")
    picker.set_value(FRUIT).run()
    assert not at.exception
    assert at.sidebar.caption[0].value.startswith("imported · 3 classes (apple, pear, plum)")


def test_choosing_a_model_changes_the_caption_and_the_prediction(catalogue):
    at = open_app()
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=2), "image/png")).run()
    # A layer of the tiny models: the imported CNN has none of that name.
    at.select_slider(key="layer").set_value("conv_a").run()
    before = probabilities(at)
    at.sidebar.selectbox(key="model").set_value(OLD_RUN).run()
    assert not at.exception and at.caption[0].value.startswith("Model: Run 2026-01-01 09:00")
    assert probabilities(at) != before and at.select_slider(key="layer").value == "conv_a"
    at.sidebar.selectbox(key="model").set_value(FRUIT).run()
    assert not at.exception and not at.error
    assert at.caption[0].value.startswith("Model: Imported: fruit")
    assert at.select_slider(key="layer").value == "features"
    assert at.subheader[0].value.split("**")[1] in ("apple", "pear", "plum")
    # Zero-shot is unavailable offline: one sentence, and the picker stays to choose another.
    at.sidebar.selectbox(key="model").set_value(ZERO_SHOT).run()
    assert not at.exception and "Zero-shot ImageNet is unavailable: " in at.error[0].value
    at.sidebar.selectbox(key="model").set_value(HAND).run()
    assert not at.exception and not at.error and "Prediction: **" in at.subheader[0].value


def test_the_choice_is_the_sessions_and_survives_other_pages(catalogue):
    at = open_app()
    at.sidebar.selectbox(key="model").set_value(OLD_RUN).run()
    for page in ("pages/compare.py", "pages/side_by_side.py", "pages/training.py"):
        at.switch_page(page).run()
        assert not at.exception
    # Model A of the side-by-side page is the session's model.
    at.switch_page("pages/side_by_side.py").run()
    assert at.sidebar.selectbox(key="model").value == OLD_RUN
    # No run before it: the model copied in by hand (zero-shot cannot be built offline).
    assert at.sidebar.selectbox(key="second_model").value == "model.keras"
    at.switch_page("pages/explain.py").run()
    assert at.sidebar.selectbox(key="model").value == OLD_RUN
    assert at.caption[0].value.startswith("Model: Run 2026-01-01 09:00")
    at.switch_page("pages/compare.py").run()
    assert at.sidebar.selectbox(key="model").value == OLD_RUN
    # Another visitor's session starts on the current model.
    assert open_app().sidebar.selectbox(key="model").value == NEW_RUN


def test_a_session_that_never_picked_follows_a_newly_published_run(catalogue):
    at = open_app()
    publish(catalogue / OLD_RUN, catalogue)
    at.run()
    assert at.sidebar.selectbox(key="model").value == OLD_RUN
    assert at.caption[0].value.startswith("Model: Run 2026-01-01 09:00 · data/pets (current)")


def test_at_most_three_models_stay_loaded_the_least_recently_used_goes(catalogue, monkeypatch):
    from ui import loading

    loads, real = [], loading.load_app_model
    monkeypatch.setattr(
        loading, "load_app_model", lambda *args: loads.append(args[1]) or real(*args)
    )
    loading._model.clear()
    at = open_app()  # the current model: NEW_RUN
    picker = lambda: at.sidebar.selectbox(key="model")  # noqa: E731 - a fresh handle per run
    for key in (OLD_RUN, HAND, FRUIT):
        picker().set_value(key).run()
    assert [path.parent.name for path in loads] == [
        "20260102-090000",
        "20260101-090000",
        "weights",
        "fruit",
    ]
    # The three most recently used are kept: switching back among them loads nothing...
    for key in (OLD_RUN, HAND, FRUIT):
        picker().set_value(key).run()
    assert len(loads) == 4 and loading.MODELS_KEPT == 3
    # ...and the fourth, the least recently used, went: it is loaded again.
    picker().set_value(NEW_RUN).run()
    assert not at.exception and len(loads) == 5 and loads[-1].parent.name == "20260102-090000"


def test_an_imported_models_caption_says_where_it_came_from():
    """Not "fine-tuned unknown, backbone weights: seed.h5": the file it came from and its facts."""
    from core.models.info import ModelInfo

    info = ModelInfo(
        kind="imported",
        class_names=("cat", "dog"),
        image_size=224,
        input_size=(224, 160),
        backbone="ResNet50",
        backbone_weights="seed.h5",
        preprocessing="rescale",
        extra={"source": "seed.h5"},
    )
    assert display.describe(info) == (
        "Model: imported from seed.h5 · a ResNet50 inside · 2 classes · input 224×160 · "
        "preprocessing rescale"
    )
    cnn = ModelInfo(kind="imported", backbone="unknown", extra={"source": "cnn.keras"})
    assert display.describe(cnn) == (
        "Model: imported from cnn.keras · 2 classes · input 224×224 · preprocessing none"
    )
