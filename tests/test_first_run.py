"""A newcomer's first run offline (#30, item 3): ImageNet's weights missing is known without a
download, said on the Training page and in the model pickers, and never the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Config
from core.models.build import IMAGENET_FILES, imagenet_weights_available
from core.models.catalog import ZERO_SHOT, models, second_choice
from core.training.status import RANDOM_BACKBONE
from tests.support import apps
from tests.support.catalog import HAND

TRAINING = "pages/training.py"


@pytest.fixture
def keras_home(tmp_path, monkeypatch) -> Path:
    """Keras' cache in an empty temporary folder: nothing downloaded, as offline."""
    home = tmp_path / "keras"
    (home / "models").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def test_imagenet_weights_are_found_in_keras_cache_or_the_file_named(keras_home, tmp_path):
    config = Config(imagenet_weights="", backbone_weights="")
    assert not imagenet_weights_available(True, config)
    assert not imagenet_weights_available(False, config)
    (keras_home / "models" / IMAGENET_FILES[False]).write_bytes(b"fake no-top weights")
    assert imagenet_weights_available(False, config)
    assert not imagenet_weights_available(True, config)
    (keras_home / "models" / IMAGENET_FILES[True]).write_bytes(b"fake with-top weights")
    assert imagenet_weights_available(True, config)
    # A file the settings name is looked at instead of the cache.
    named = Config(imagenet_weights=str(tmp_path / "absent.h5"), backbone_weights="")
    assert not imagenet_weights_available(True, named)
    # The operator's random zero-shot model (CATDOG_IMAGENET_WEIGHTS=none) needs no file; a
    # backbone set to "none" says nothing of ImageNet's, which stay missing.
    random = Config(imagenet_weights="none", backbone_weights="none")
    assert imagenet_weights_available(True, random)
    (keras_home / "models" / IMAGENET_FILES[False]).unlink()
    assert not imagenet_weights_available(False, random)
    (tmp_path / "absent.h5").write_bytes(b"now here")
    assert imagenet_weights_available(True, named)


def test_offline_the_training_page_defaults_to_a_random_backbone_and_says_so(
    keras_home, monkeypatch, tmp_path, generated_pets
):
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(generated_pets))
    at = apps.open_page(TRAINING)
    backbone = at.selectbox(key="backbone_weights")
    assert not at.exception and backbone.value == "none"
    assert backbone.format_func("imagenet") == "imagenet (not on this machine)"
    assert any(RANDOM_BACKBONE in caption.value for caption in at.caption)
    # With the weights in Keras' cache: ImageNet's, and no warning.
    (keras_home / "models" / IMAGENET_FILES[False]).write_bytes(b"fake no-top weights")
    at = apps.open_page(TRAINING)
    assert at.selectbox(key="backbone_weights").value == "imagenet"
    assert not any(RANDOM_BACKBONE in caption.value for caption in at.caption)


def test_offline_zero_shot_is_offered_as_unavailable_and_never_the_second_choice(
    catalogue, keras_home
):
    entries = models(Config())
    zero_shot = entries[-1]
    assert zero_shot.key == ZERO_SHOT and zero_shot.label.endswith("unavailable offline")
    assert zero_shot.unavailable.startswith("Zero-shot ImageNet is unavailable: ")
    hand = next(entry for entry in entries if entry.key == HAND)
    assert second_choice([hand, zero_shot], hand) == hand
    # Chosen all the same: the reason, at once, and nothing built.
    at = apps.open_page("app.py")
    at.sidebar.selectbox(key="model").set_value(ZERO_SHOT).run()
    assert not at.exception and at.error[0].value.startswith("Zero-shot ImageNet is unavailable")


def test_without_a_dataset_local_use_names_the_data_roots_and_public_mode_does_not(
    keras_home, monkeypatch, tmp_path
):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tmp_path / "weights"))
    monkeypatch.setenv("CATDOG_DATA_DIR", str(data))
    at = apps.open_page(TRAINING)
    advice = [info.value for info in at.info if "No dataset under the data roots" in info.value]
    # Each root by its name below the app, never its server path (tests/test_page_paths.py).
    assert advice and "The data roots: `data/`." in advice[0] and str(data) not in advice[0]
    assert "CATDOG_DATA_ROOTS" in advice[0]
    assert "CATDOG_DATA_ROOTS" in at.selectbox(key="data_dir").help
    monkeypatch.setenv("CATDOG_PUBLIC", "1")
    at = apps.open_page(TRAINING)
    assert "CATDOG_DATA_ROOTS" not in apps.shown_text(at) and str(data) not in apps.shown_text(at)
