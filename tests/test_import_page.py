"""The Training page's "Bring your own model" through AppTest: a file in, its facts, an import.

The models are built here and saved under tmp_path; the page's temporary copies go there too, so
the check that no server path is shown covers them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import keras
import pytest
from streamlit.testing.v1 import AppTest

from tests.support import apps
from tests.support.models import mobilenet_v2, sequential_cnn

PAGE = "pages/training.py"


def with_lambda() -> keras.Model:
    """A model whose 1/255 lives in a Lambda layer: safe_mode refuses to load it."""
    return keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            keras.layers.Lambda(lambda x: x / 255.0, name="rescale"),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )


def saved(model: keras.Model, path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path.read_bytes()


@pytest.fixture
def page(monkeypatch, tmp_path) -> AppTest:
    """The Training page on empty server folders under tmp_path, local (not public) mode."""
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CATDOG_PUBLIC", raising=False)
    # The page's temporary copies of uploads, where the path check below sees them.
    (tmp_path / "uploads").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "uploads"))
    return apps.open_page(PAGE)


def choose_file(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="import_file").set_value((name, data, "application/octet-stream"))
    return at.run()


def widget(widgets, name: str):
    """The form's widget for `name` (its key also names the file it asks about)."""
    return next(each for each in widgets if each.key.startswith(f"import_{name} "))


def fill(at: AppTest, classes: str, preprocessing: str | None = None, name: str = "") -> AppTest:
    widget(at.text_input, "classes").input(classes)
    if preprocessing:
        widget(at.selectbox, "preprocessing").set_value(preprocessing)
    if name:
        widget(at.text_input, "name").input(name)
    at.button(key="import").click()
    return at.run()


def assert_nothing_shown_of(at: AppTest, tmp_path: Path) -> None:
    assert not at.exception, at.exception
    text = apps.shown_text(at)
    for prefix in {str(tmp_path), str(tmp_path.resolve()), tempfile.gettempdir()}:
        assert prefix not in text, text[max(0, text.find(prefix) - 300) :][:600]


def imported_folder(tmp_path: Path) -> Path:
    return tmp_path / "weights" / "imported"


def test_a_sequential_cnn_imports_through_the_form(page, tmp_path):
    at = choose_file(page, "small_cnn.keras", saved(sequential_cnn(), tmp_path / "cnn.keras"))
    assert not at.exception and not at.error
    facts = {metric.label: metric.value for metric in at.metric}
    assert facts["Input size"] == "32 × 32" and facts["Outputs"] == "3"
    assert widget(at.text_input, "classes").placeholder == "3 names needed"
    # No known backbone: nothing proposed, the person picks.
    assert widget(at.selectbox, "preprocessing").value is None
    at = fill(at, "birds, cats, dogs", "rescale", "notebook-cnn")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.success[0].value == (
        "Imported notebook-cnn: choose it in the Model picker on the Explain page."
    )
    folder = imported_folder(tmp_path) / "notebook-cnn"
    assert (folder / "model.keras").is_file()
    sidecar = json.loads((folder / "model.json").read_text())
    assert sidecar["class_names"] == ["birds", "cats", "dogs"]
    assert sidecar["preprocessing"] == "rescale" and sidecar["kind"] == "imported"
    assert_nothing_shown_of(at, tmp_path)


def test_no_preprocessing_chosen_is_asked_for_and_nothing_written(page, tmp_path):
    at = choose_file(page, "small_cnn.keras", saved(sequential_cnn(), tmp_path / "cnn.keras"))
    at = fill(at, "birds, cats, dogs")
    assert at.warning[0].value == "Choose the preprocessing the model was trained with."
    assert not imported_folder(tmp_path).exists()


def test_mobilenet_v2_is_proposed_tf_and_the_proposal_can_be_overridden(page, tmp_path):
    at = choose_file(page, "mobilenet.keras", saved(mobilenet_v2(), tmp_path / "mnv2.keras"))
    assert not at.exception and not at.error
    assert widget(at.selectbox, "preprocessing").value == "tf"
    assert any("MobileNetV2" in c.value and "confirm or change" in c.value for c in at.caption)
    facts = {metric.label: metric.value for metric in at.metric}
    assert facts["Input size"] == "160 × 160"
    at = fill(at, "cat, dog", "rescale", "mnv2")
    assert at.success, [e.value for e in at.error]
    sidecar = json.loads((imported_folder(tmp_path) / "mnv2" / "model.json").read_text())
    assert sidecar["preprocessing"] == "rescale" and sidecar["image_size"] == 160
    assert_nothing_shown_of(at, tmp_path)


def refused_on_choosing(page: AppTest, name: str, data: bytes) -> str:
    at = choose_file(page, name, data)
    assert not at.exception and len(at.error) == 1
    assert not [each for each in at.text_input if each.key.startswith("import_")]  # no form
    return at.error[0].value


def test_a_text_file_named_keras_is_refused_in_one_sentence(page, tmp_path):
    sentence = refused_on_choosing(page, "notes.keras", b"these are my notes, not a model\n")
    assert sentence.count(". ") == 0 and sentence.endswith(".") and "notes.keras" in sentence
    assert not imported_folder(tmp_path).exists()
    assert_nothing_shown_of(page, tmp_path)


def test_a_lambda_layer_is_refused_in_one_sentence(page, tmp_path):
    sentence = refused_on_choosing(
        page, "lambda.keras", saved(with_lambda(), tmp_path / "l.keras")
    )
    assert "Lambda" in sentence and "\n" not in sentence
    assert not imported_folder(tmp_path).exists()
    assert_nothing_shown_of(page, tmp_path)


def test_outputs_that_do_not_match_the_classes_are_refused_and_nothing_written(page, tmp_path):
    at = choose_file(page, "small_cnn.keras", saved(sequential_cnn(), tmp_path / "cnn.keras"))
    at = fill(at, "cats, dogs", "rescale")
    assert not at.exception and not at.success and len(at.error) == 1
    assert "3" in at.error[0].value and "\n" not in at.error[0].value
    assert not imported_folder(tmp_path).exists() or not any(imported_folder(tmp_path).iterdir())
    assert_nothing_shown_of(at, tmp_path)


def test_public_mode_without_authorisation_shows_no_form(monkeypatch, tmp_path):
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CATDOG_PUBLIC", "1")
    at = apps.open_page(PAGE)
    assert not at.exception
    assert not [u for u in at.file_uploader if u.key == "import_file"]
    assert any("reserved for authorised users" in c.value for c in at.caption)


def test_public_mode_shows_the_form_to_an_authorised_user(monkeypatch, tmp_path):
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CATDOG_PUBLIC", "1")
    at = apps.open_page(PAGE, run=False)
    at.session_state.password_ok = True  # gave the training password this session
    at.run()
    assert not at.exception and at.file_uploader(key="import_file")
    assert not any("reserved for authorised users" in c.value for c in at.caption)


def test_the_uploader_takes_what_core_takes_and_an_upper_case_suffix_imports(page, tmp_path):
    from core.models.safe_load import MODEL_SUFFIXES

    assert sorted(page.file_uploader(key="import_file").proto.type) == sorted(MODEL_SUFFIXES)
    at = choose_file(page, "MODEL.KERAS", saved(sequential_cnn(), tmp_path / "cnn.keras"))
    assert not at.exception and not at.error, [e.value for e in at.error]
    at = fill(at, "birds, cats, dogs", "rescale")
    assert at.success, [e.value for e in at.error]
    assert (imported_folder(tmp_path) / "model" / "model.keras").is_file()
    assert_nothing_shown_of(at, tmp_path)
