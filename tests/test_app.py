"""The Explain page through Streamlit's AppTest harness, a tiny model in a temporary weights/."""

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.support import apps
from tests.support.photos import png_bytes


@pytest.fixture
def app(monkeypatch, tiny_weights, tmp_path):
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tiny_weights))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "no-validation"))
    at = apps.open_page("app.py", run=False)
    at.run()
    assert not at.exception
    return at


def overlay_url(at) -> str:
    # Streamlit names media files by a hash of their bytes: a new URL means a new picture.
    return at.image[2].proto.imgs[0].url


def test_empty_state_says_what_to_do(app):
    assert any("Upload a photo" in info.value for info in app.info)
    assert len(app.image) == 0


def test_advanced_keeps_its_place_and_the_colormap_says_when_it_does_not_apply(app):
    def advanced() -> int:
        labels = [getattr(node, "label", None) for node in app.sidebar.children.values()]
        return labels.index("Advanced")

    app.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(), "image/png")).run()
    where = advanced()
    # TTA adds the cost line above the expander: in a slot that was there, so the browser keeps
    # the expander (and its being open) rather than drawing a new one, closed.
    app.checkbox(key="aug_smooth").check().run()
    assert "forward passes" in " ".join(c.value for c in app.sidebar.caption)
    assert advanced() == where and not app.selectbox(key="colormap").disabled
    app.checkbox(key="relu").uncheck().run()
    assert app.selectbox(key="colormap").disabled
    assert "own scale" in app.selectbox(key="colormap").help


def test_empty_state_has_the_browser_fetch_the_code_an_explanation_needs(app):
    from ui.streamlit_internals import RESULT_CODE, result_chunks

    # One chunk per name in this Streamlit: a rename by an upgrade fails here, not silently.
    chunks = result_chunks()
    assert sorted(name.split(".")[0] for name in chunks) == sorted(RESULT_CODE)
    (html,) = [e for e in app.main if getattr(e, "type", "") == "html"]
    assert html.proto.unsafe_allow_javascript and all(name in html.proto.body for name in chunks)


def test_upload_shows_prediction_and_sliders_change_the_overlay(app):
    app.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(), "image/png")).run()
    assert not app.exception and not app.error
    assert app.subheader[0].value.startswith("Prediction: **")
    # Two classes: the top-k chart shows both, most probable first, summing to 100 %.
    rows = apps.top_chart(app)
    assert sorted(rows["class"]) == ["cat", "dog"]
    assert rows["probability (%)"].is_monotonic_decreasing
    assert abs(rows["probability (%)"].sum() - 100) < 0.01
    assert app.subheader[0].value.startswith(f"Prediction: **{rows['class'][0]}**")
    assert app.metric[0].label == "Explained in"
    assert app.metric[0].proto.help == "All layers, one pass."
    assert not [m for m in app.markdown if m.value.startswith("True class:")]  # none known
    # photo, map, overlay; one per layer choice (the tiny model's two, and both fused); the
    # contrast only when asked for
    assert len(app.image) == 3 + 3 and "(40×30)" in app.image[0].proto.imgs[0].caption
    assert app.image[-1].proto.imgs[0].caption.startswith("fused · 8×8")
    app.toggle(key="contrast").set_value(True).run()
    captions = [image.proto.imgs[0].caption for image in app.image[3:]]
    assert (
        len(captions) == 3 + 3
        and all(c.startswith("why '") for c in captions[:3])
        and "dog minus cat" in captions[2]
    )
    app.toggle(key="contrast").set_value(False).run()
    first = overlay_url(app)

    app.slider(key="alpha").set_value(0.9).run()
    assert overlay_url(app) != first
    second = overlay_url(app)
    app.select_slider(key="layer").set_value("conv_a").run()
    assert not app.exception and overlay_url(app) != second
    assert "conv_a" in app.image[1].proto.imgs[0].caption
    app.selectbox(key="target").set_value("dog").run()
    assert "Grad-CAM for 'dog'" in app.image[1].proto.imgs[0].caption


def test_a_rerun_never_clears_the_keras_session(app, monkeypatch):
    """Streamlit's per-rerun clean-up calls keras.backend.clear_session(); the app never does."""
    import keras

    from ui import streamlit_internals

    calls = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *args, **kwargs: calls.append(args))
    # The spy does catch Streamlit's own hook...
    streamlit_internals.STREAMLIT_CLEANUP()
    assert len(calls) == 1
    app.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(), "image/png")).run()
    app.slider(key="alpha").set_value(0.7).run()
    app.select_slider(key="layer").set_value("conv_a").run()
    assert not app.exception and app.subheader[0].value.startswith("Prediction: **")
    # ...and three reruns never reach it.
    assert len(calls) == 1


def test_corrupt_upload_is_one_line_no_trace(app):
    app.sidebar.file_uploader[0].set_value(
        ("broken.jpg", b"\xff\xd8\xff garbage", "image/jpeg")
    ).run()
    assert not app.exception
    assert [e.value for e in app.error] == [
        "broken.jpg is not an image this app can read (use JPEG, PNG, WebP or BMP)."
    ]


def test_random_validation_photo(monkeypatch, tiny_weights, pets):
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tiny_weights))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(pets / "validation"))
    at = apps.open_page("app.py")
    at.sidebar.radio[0].set_value("Random validation photo").run()
    at.sidebar.button[0].click().run()
    assert not at.exception and not at.error
    # Choices are resolved.
    assert Path(at.session_state.random_photo).is_relative_to((pets / "validation").resolve())
    assert len(at.image) == 6 and at.subheader[0].value.startswith("Prediction")
    # Its true class, from its folder (cats/ is "cat" for a cat/dog model), and the verdict.
    truth = Path(at.session_state.random_photo).parent.name[:-1]
    predicted = at.subheader[0].value.split("**")[1]
    verdict = "right" if truth == predicted else "wrong (p = "
    lines = [m.value for m in at.markdown if m.value.startswith("True class:")]
    assert lines and lines[0].startswith(f"True class: **{truth}** · {verdict}")


def test_missing_or_empty_validation_folder_is_explained(app, monkeypatch, tiny_weights, tmp_path):
    app.sidebar.radio[0].set_value("Random validation photo").run()
    assert not app.exception and app.sidebar.button[0].disabled
    assert any(
        "No validation folder under the data roots" in info.value for info in app.sidebar.info
    )
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "empty"))
    at = apps.open_page("app.py")
    at.sidebar.radio[0].set_value("Random validation photo").run()
    at.sidebar.button[0].click().run()
    assert not at.exception and any("No photos in" in warning.value for warning in at.warning)


def test_no_model_explains_what_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("CATDOG_IMAGENET_WEIGHTS", str(tmp_path / "absent.h5"))
    at = apps.open_page("app.py")
    assert not at.exception
    assert "No fine-tuned model" in at.error[0].value and "Training" in at.info[0].value


def test_new_model_is_picked_up_without_a_restart(app, tiny_weights):
    from core.models.info import ModelInfo, save_classifier
    from core.training.store import new_run_dir, publish
    from tests.support.models import TINY_SIZE, tiny_model

    assert "trained on" not in app.caption[0].value
    run_dir = new_run_dir(tiny_weights)
    info = ModelInfo(
        image_size=TINY_SIZE,
        backbone="tiny",
        backbone_weights="none",
        trained_on="fresh data",
        val_accuracy=0.75,
    )
    save_classifier(tiny_model(seed=11), info, run_dir / "model.keras")
    publish(run_dir, tiny_weights)
    app.run()
    assert (
        "trained on fresh data" in app.caption[0].value
        and "validation accuracy 75.0%" in app.caption[0].value
    )


@pytest.mark.parametrize(
    "method", ["Grad-CAM++", "HiResCAM", "XGrad-CAM", "Layer-CAM", "Eigen-CAM", "Score-CAM"]
)
def test_every_method_renders_with_its_options(app, method):
    app.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=3), "image/png")).run()
    app.selectbox(key="method").set_value(method).run()
    assert not app.exception and f"{method} for '" in app.image[1].proto.imgs[0].caption
    app.checkbox(key="relu").set_value(False).run()
    app.radio(key="upsampling").set_value("nearest (true grid)").run()
    app.toggle(key="contrast").set_value(True).run()
    # Score-CAM computes the layer shown only: no strip of every layer (3 pictures fewer).
    assert not app.exception and len(app.image) == (6 if method == "Score-CAM" else 9)


def test_raw_numbers_downloads_faithfulness_and_sanity_check(app):
    app.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=4), "image/png")).run()
    labels = [metric.label for metric in app.metric]
    assert {"raw map min (before ReLU)", "map max", "cells ≤ 0", "logit explained"} <= set(labels)
    assert [b.label for b in app.get("download_button")] == [
        "Overlay (PNG)",
        "Raw map (.npy)",
        "Manifest (JSON)",
    ]
    app.button(key="measure").click().run()
    assert not app.exception
    labels = [metric.label for metric in app.metric]
    assert {"Deletion AUC", "Insertion AUC", "Average drop", "Confidence increases"} <= set(labels)
    app.button(key="sanity_check").click().run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["randomised up to"]) == ["logit", "conv_b", "conv_a"]
    # An 8 px input has no room for SSIM's 11 px window...
    assert set(table["SSIM"]) == {"cannot be computed"}
    # ...so it is never called a pass.
    assert any(info.value.startswith("No verdict") for info in app.info)


def test_model_replaced_under_the_running_app_is_never_half_loaded(app, tiny_weights, tmp_path):
    import os

    from core.models.info import ModelInfo, save_classifier
    from tests.support.models import TINY_SIZE, tiny_model

    other = save_classifier(
        tiny_model(seed=13),
        ModelInfo(image_size=TINY_SIZE, backbone="tiny", trained_on="other"),
        tmp_path / "other" / "model.keras",
    )
    target = tiny_weights / "model.keras"
    # Copied over by hand: new weights, old sidecar.
    target.write_bytes(other.read_bytes())
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    app.run()
    assert not app.exception and "does not match its sidecar's SHA-256" in app.error[0].value
    # The pair is whole again.
    (tiny_weights / "model.json").write_bytes(other.with_suffix(".json").read_bytes())
    app.run()
    assert not app.error and "trained on other" in app.caption[0].value


def test_one_model_per_process_shared_by_every_page_and_the_gallery(
    monkeypatch, tiny_weights, tmp_path
):
    from core.models.info import ModelInfo, save_classifier
    from core.models.load import app_model_path
    from tests.support.models import TINY_SIZE, tiny_model
    from ui import loading

    loads, real = [], loading.load_app_model
    monkeypatch.setattr(loading, "load_app_model", lambda *args: loads.append(args) or real(*args))
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tiny_weights))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "none"))
    loading._model.clear()
    for page in ("app.py", "pages/compare.py"):
        at = apps.open_page(page)
        assert not at.exception
    assert len(loads) == 1  # the Explain and Compare pages share one model
    loaded, _ = loading.app_model()
    # The gallery of mistakes reuses it.
    assert loading.model_at(app_model_path()) is loaded and len(loads) == 1
    other = save_classifier(
        tiny_model(seed=3),
        ModelInfo(image_size=TINY_SIZE, backbone="tiny"),
        tmp_path / "run" / "model.keras",
    )
    # Another run's model is its own entry.
    assert loading.model_at(other) is not loaded and len(loads) == 2


def test_the_zero_shot_entry_never_holds_a_run_published_after_the_listing(
    monkeypatch, tmp_path, request
):
    """Nothing trained: the catalog's current entry is zero-shot. A run published between the
    listing and the load must not be cached under zero-shot's key (and served as zero-shot
    later, once the run is gone): the zero-shot entry is always built."""
    from core.config import Config
    from core.models import catalog
    from core.models.catalog import ZERO_SHOT
    from core.models.info import ModelInfo, save_classifier
    from core.training.store import new_run_dir, publish
    from tests.support.models import TINY_SIZE, tiny_model
    from ui import loading

    weights = tmp_path / "weights"
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(weights))
    # A weights file that is there (so zero-shot is tried) but holds no weights: cannot build.
    (tmp_path / "broken.h5").write_bytes(b"not weights")
    monkeypatch.setenv("CATDOG_IMAGENET_WEIGHTS", str(tmp_path / "broken.h5"))
    loads, real = [], loading.load_app_model
    monkeypatch.setattr(
        loading, "load_app_model", lambda *args: loads.append(args[1:]) or real(*args)
    )
    loading._model.clear()
    request.addfinalizer(loading._model.clear)
    fallback = catalog.current(catalog.models())
    assert fallback.key == ZERO_SHOT
    run_dir = new_run_dir(weights)
    info = ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none")
    save_classifier(tiny_model(), info, run_dir / "model.keras")
    publish(run_dir, weights)
    loaded, key = loading.model_for(fallback)
    assert key == ZERO_SHOT and loads == [(None, True)]  # zero-shot built, not weights/ read
    assert loaded.explainer is None and "No fine-tuned model" in loaded.error
    # Picked later as zero-shot (the run is current now): the same entry, no fine-tuned model.
    again, _ = loading.model_for(catalog.zero_shot_entry(Config()))
    assert again.explainer is None and "No fine-tuned model" not in again.error
    assert len(loads) == 1


def test_expensive_checks_wait_for_a_free_slot(app):
    """With every slot taken, the faithfulness check says so and waits; a free slot runs it.

    The slots are process-wide: other visitors' expensive actions hold them.
    """
    import threading

    from ui import slots

    app.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=6), "image/png")).run()
    # As if other visitors held them all.
    for _ in range(slots.SLOTS):
        assert slots._slots.acquire(blocking=False)
    threading.Timer(2.0, lambda: [slots._slots.release() for _ in range(slots.SLOTS)]).start()
    app.button(key="measure").click().run()
    assert not app.exception
    # The wait was shown.
    assert [status.label[:22] for status in app.get("status")] == ["A slot came free after"]
    assert "Deletion AUC" in [metric.label for metric in app.metric]
    # Every slot was given back.
    assert all(slots._slots.acquire(blocking=False) for _ in range(slots.SLOTS))
    for _ in range(slots.SLOTS):
        slots._slots.release()


def test_tta_makes_an_explanation_wait_for_a_free_slot(app):
    """Grad-CAM with TTA is 7 passes (the plain images and 6 variants): more than CHEAP, so it
    waits for a slot like Score-CAM; without TTA it never does."""
    import threading

    from ui import slots

    app.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=6), "image/png")).run()
    assert not app.get("status")
    for _ in range(slots.SLOTS):
        assert slots._slots.acquire(blocking=False)
    threading.Timer(2.0, lambda: [slots._slots.release() for _ in range(slots.SLOTS)]).start()
    app.checkbox(key="aug_smooth").set_value(True).run()
    assert not app.exception and not app.error
    assert [status.label[:22] for status in app.get("status")] == ["A slot came free after"]
    assert "Costs about 7 forward passes" in " ".join(c.value for c in app.sidebar.caption)
    assert all(slots._slots.acquire(blocking=False) for _ in range(slots.SLOTS))
    for _ in range(slots.SLOTS):
        slots._slots.release()


def test_camera_is_a_third_photo_source(app):
    """A phone's camera through st.camera_input: the shot is explained like an upload."""
    app.sidebar.radio(key="source").set_value("Take a photo").run()
    assert not app.exception and app.sidebar.camera_input(key="camera").label.startswith("Point")
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png_bytes(seed=4, size=(64, 48)))).save(buffer, "JPEG")
    app.sidebar.camera_input(key="camera").set_value(
        ("shot.jpg", buffer.getvalue(), "image/jpeg")
    ).run()
    assert not app.exception and app.subheader[0].value.startswith("Prediction: **")
    assert "camera.jpg (64×48)" in app.image[0].proto.imgs[0].caption


def test_explain_first_reads_the_same_settings_the_widgets_hold(app):
    """Settings' defaults are the widgets': explain-first reads what the widgets will hold.

    Explain-first reads session_state before any widget exists; the sidebar, after drawing them.
    """
    from dataclasses import fields

    from core.explain.settings import Settings

    state = {
        f.name: app.session_state[f.name] for f in fields(Settings) if f.name in app.session_state
    }
    default_layer = app.select_slider(key="layer").value
    assert Settings.from_state({}, default_layer) == Settings.from_state(state, default_layer)
    assert Settings().alpha == app.slider(key="alpha").value == 0.4
    app.selectbox(key="method").set_value("Score-CAM").run()
    state = {name: app.session_state[name] for name in ("method", "top_n")}
    settings = Settings.from_state(state, default_layer)
    assert settings.options == (
        ("method", "Score-CAM"),
        ("aug_smooth", False),
        ("eigen_smooth", False),
        ("top_n", app.select_slider(key="top_n").value),
        ("layers", (default_layer,)),  # Score-CAM pays per layer: the one shown only
    )


def test_a_check_is_shown_only_for_the_settings_it_was_made_for(app):
    app.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=4), "image/png")).run()
    app.button(key="measure").click().run()
    assert "Deletion AUC" in [metric.label for metric in app.metric]
    app.select_slider(key="layer").set_value("conv_a").run()
    assert not app.exception and "Deletion AUC" not in [metric.label for metric in app.metric]
    app.select_slider(key="layer").set_value("conv_b").run()
    assert "Deletion AUC" in [metric.label for metric in app.metric]
    app.selectbox(key="target").set_value("dog").run()
    assert "Deletion AUC" not in [metric.label for metric in app.metric]


def test_the_photo_stays_chosen_from_page_to_page(app):
    app.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=7), "image/png")).run()
    app.switch_page("pages/compare.py").run()
    assert not app.exception and not app.info
    assert any("pet.png" in caption.value for caption in app.sidebar.caption)
    app.switch_page("pages/training.py").run()
    app.switch_page("pages/explain.py").run()
    assert not app.exception and app.subheader[0].value.startswith("Prediction: **")
    assert "pet.png (40×30)" in app.image[0].proto.imgs[0].caption


def test_a_photo_shown_smaller_says_its_own_size_and_the_size_shown(app):
    """A phone's photo is explained at display size; its caption gives both sizes."""
    app.sidebar.file_uploader[0].set_value(("big.png", png_bytes(size=(1600, 1200)), "image/png"))
    app.run()
    assert not app.exception
    assert "big.png (1600×1200, shown at 1024×768)" in app.image[0].proto.imgs[0].caption
