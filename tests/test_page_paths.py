"""Every page, every expander and tab, as a visitor sees it: no server path, in both modes.

The data roots, the validation folder, the weights folder and Keras' cache all lie in a temporary
folder; the model's backbone came from a .h5 file there, and the latest run failed with a message
that names a path. Nothing on any page may show that folder's absolute prefix, and public mode
never shows an operator's setting (CATDOG_...).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.models.info import ModelInfo, save_classifier
from tests.support import apps
from tests.support.models import TINY_SIZE, tiny_model
from tests.support.photos import make_pets, png_bytes


def server_folders(tmp_path: Path, monkeypatch, public: bool, with_model: bool = True) -> Path:
    """The server's folders under `tmp_path`, the environment pointing at them."""
    data, weights = tmp_path / "data", tmp_path / "weights"
    dataset = make_pets(data / "pets", n_train=2, n_validation=2, size=16)
    backbone = data / "weights" / "resnet50_notop.h5"
    backbone.parent.mkdir(parents=True)
    backbone.write_bytes(b"not really weights")
    weights.mkdir()
    if with_model:
        info = ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights=str(backbone))
        save_classifier(tiny_model(), info, weights / "model.keras")
    failed_run(weights / "runs" / "20260101-000000", dataset, backbone)
    for name, value in {
        "CATDOG_DATA_DIR": data,
        "CATDOG_DATA_ROOTS": tmp_path / "more",
        "CATDOG_WEIGHTS_DIR": weights,
        "CATDOG_VALIDATION_DIR": dataset / "validation",
        "CATDOG_IMAGENET_WEIGHTS": tmp_path / "absent" / "imagenet.h5",
        "KERAS_HOME": tmp_path / "keras",
    }.items():
        monkeypatch.setenv(name, str(value))
    if public:
        monkeypatch.setenv("CATDOG_PUBLIC", "1")
    else:
        monkeypatch.delenv("CATDOG_PUBLIC", raising=False)
    return tmp_path


def failed_run(run: Path, dataset: Path, backbone: Path) -> None:
    """A finished run whose record names server paths: its data, backbone, photos, failure."""
    run.mkdir(parents=True)
    photo = next((dataset / "validation" / "cats").iterdir())
    progress = {
        "state": "failed",
        "message": f"Data folder {dataset / 'gone'} does not exist.",
        "summary": "4 training photos",
        "config": {"backbone_weights": str(backbone)},
        "data": str(dataset),
        "history": {"head": {"accuracy": [0.5], "val_accuracy": [0.5], "loss": [1.0]}},
        "report": {
            "accuracy": 0.5,
            "class_names": ["cat", "dog"],
            "confusion": [[1, 1], [0, 2]],
            "misclassified": [{"path": str(photo), "predicted": 1, "true": 0, "confidence": 0.6}],
        },
    }
    (run / "progress.json").write_text(json.dumps(progress))
    # A watched photo deleted since: the panel says so in a caption.
    watched = {"layer": "conv_b", "photos": [[str(dataset / "gone.png"), 0]], "epochs": []}
    watched["epochs"] = [{"phase": "head", "epoch": 1}]
    (run / "watch.json").write_text(json.dumps(watched))
    np.save(run / "watch.npy", np.zeros((1, 1, 4, 4), np.float32))


def assert_no_server_path(at: AppTest, tmp_path: Path, public: bool) -> None:
    assert not at.exception, at.exception
    text = apps.shown_text(at)
    assert len(text) > 200  # the walk saw the page
    for prefix in {str(tmp_path), str(tmp_path.resolve())}:
        assert prefix not in text, text[max(0, text.find(prefix) - 300) :][:600]
    if public:
        assert "CATDOG_" not in text, text[max(0, text.find("CATDOG_") - 300) :][:600]


@pytest.mark.parametrize("public", [False, True], ids=["local", "public"])
def test_explain_page_names_no_server_path(tmp_path, monkeypatch, public):
    server_folders(tmp_path, monkeypatch, public)
    at = apps.open_page("pages/explain.py")
    assert "backbone weights: resnet50_notop.h5" in at.caption[0].value
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(), "image/png")).run()
    at.toggle(key="contrast").set_value(True).run()
    at.button(key="measure").click().run()
    at.button(key="sanity_check").click().run()
    assert_no_server_path(at, tmp_path, public)
    assert len(at.metric) > 8  # the faithfulness figures are there too
    at.sidebar.radio(key="source").set_value("Random validation photo").run()
    at.sidebar.button[0].click().run()
    assert_no_server_path(at, tmp_path, public)
    assert at.sidebar.selectbox(key="validation_folder").options == ["data/pets/validation"]


@pytest.mark.parametrize("public", [False, True], ids=["local", "public"])
def test_compare_page_names_no_server_path(tmp_path, monkeypatch, public):
    server_folders(tmp_path, monkeypatch, public)
    at = apps.open_page("pages/compare.py")
    at.file_uploader[0].set_value(("pet.png", png_bytes(seed=5), "image/png")).run()
    at.multiselect(key="methods").set_value(["Grad-CAM"]).run()
    at.button(key="fill").click().run()
    # The photo, then Grad-CAM at the two layers.
    assert len(at.image) == 3
    assert_no_server_path(at, tmp_path, public)


@pytest.mark.parametrize("public", [False, True], ids=["local", "public"])
def test_side_by_side_page_names_no_server_path(tmp_path, monkeypatch, public):
    server_folders(tmp_path, monkeypatch, public)
    # A run trained on the server's dataset: the picker names it below its data root.
    dataset, weights = tmp_path / "data" / "pets", tmp_path / "weights"
    info = ModelInfo(image_size=TINY_SIZE, backbone="tiny", trained_on=str(dataset))
    save_classifier(tiny_model(seed=4), info, weights / "runs" / "20260102-000000" / "model.keras")
    at = apps.open_page("pages/side_by_side.py")
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=6), "image/png")).run()
    # Model A: the model copied in (current); B: the run, named by its dataset's label.
    assert at.sidebar.selectbox(key="second_model").options[0].endswith(" · data/pets")
    assert len(at.image) == 3
    assert_no_server_path(at, tmp_path, public)
    # Zero-shot cannot be built here (its weights file is absent): said without the path.
    at.sidebar.selectbox(key="second_model").set_value("zero-shot").run()
    assert at.error and "absent/imagenet.h5" not in at.error[0].value
    assert_no_server_path(at, tmp_path, public)


@pytest.mark.parametrize("public", [False, True], ids=["local", "public"])
def test_training_page_names_no_server_path(tmp_path, monkeypatch, public):
    server_folders(tmp_path, monkeypatch, public)
    at = apps.open_page("pages/training.py")
    assert "Data folder data/pets/gone does not exist." in at.error[0].value
    assert any("gone.png can no longer be read" in c.value for c in at.caption)
    assert_no_server_path(at, tmp_path, public)
    if not public:
        # A refusal under its button, said without the server's folders.
        at.button(key="add_photos").click().run()
        assert at.warning and "both classes" in at.warning[0].value
        assert_no_server_path(at, tmp_path, public)


@pytest.mark.parametrize("public", [False, True], ids=["local", "public"])
def test_pages_without_a_model_name_no_server_path(tmp_path, monkeypatch, public):
    server_folders(tmp_path, monkeypatch, public, with_model=False)
    for page in ("explain.py", "compare.py", "side_by_side.py"):
        at = apps.open_page(apps.PAGES / page)
        assert at.error and "no zero-shot fallback" in at.error[0].value
        assert_no_server_path(at, tmp_path, public)
