"""No server path reaches a visitor: core's errors as pages show them, the manifest, a caption."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.config import ROOT, Config
from core.data import folders, pets
from core.data.choices import public
from core.errors import UserError, writing
from core.explain import display, export
from core.explain.explainer import Explainer
from core.images import load_image
from core.models.build import resolve_backbone_weights
from core.models.info import ModelInfo, save_classifier
from core.models.load import load_classifier, load_default
from core.training import jobs, lease
from core.training.recipe import TrainConfig
from tests.support.models import TINY_SIZE, tiny_model
from tests.support.photos import make_pets


@pytest.fixture
def config(tmp_path, monkeypatch) -> Config:
    """Every server folder in a temporary one, Keras' cache too."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    data = tmp_path / "data"
    return Config(
        data_dir=data,
        extra_data_roots=(tmp_path / "more",),
        weights_dir=tmp_path / "weights",
        validation_dir=data / "pets" / "validation",
        imagenet_weights=str(tmp_path / "absent" / "imagenet.h5"),
    )


def raised(action) -> UserError:
    with pytest.raises(UserError) as caught:
        action()
    return caught.value


def every_error(config: Config, tmp_path: Path) -> dict[str, UserError]:
    """Each kind of UserError core raises, triggered for real on temporary files."""
    weights, data = config.weights_dir, config.data_dir
    weights.mkdir(parents=True)
    no_sidecar = weights / "lonely.keras"
    no_sidecar.write_bytes(b"not a model")
    bad_sidecar = weights / "bad.keras"
    bad_sidecar.write_bytes(b"not a model")
    bad_sidecar.with_suffix(".json").write_text("{not json")
    no_train = data / "empty-set"
    no_train.mkdir(parents=True)
    dataset = make_pets(data / "pets", n_train=2, n_validation=1, size=8)
    for photo in (dataset / "validation" / "dogs").iterdir():
        photo.unlink()
    (dataset / "validation" / "dogs").rmdir()
    cache = tmp_path / "keras" / "datasets"
    cache.mkdir(parents=True)
    (cache / "images.tar.gz").write_bytes(b"not an archive")
    lease.acquire_lock(weights, weights / "runs" / "one")
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    return {
        "missing model": raised(lambda: load_classifier(weights / "model.keras")),
        "no model, no zero-shot": raised(lambda: load_default(config)),
        "missing sidecar": raised(lambda: load_classifier(no_sidecar)),
        "bad sidecar": raised(lambda: load_classifier(bad_sidecar)),
        "missing data folder": raised(lambda: folders.class_folders(data / "gone")),
        "no train/": raised(lambda: folders.class_folders(no_train)),
        "missing validation class": raised(lambda: folders.scan(dataset)),
        "outside the roots": raised(
            lambda: folders.check_data_path(str(outside), config.data_roots)
        ),
        "unreadable archive": raised(
            lambda: pets._unpack(cache / "images.tar.gz", tmp_path / "unpacked")
        ),
        "already downloaded": raised(lambda: pets.download_pets(dataset)),
        "missing backbone file": raised(
            lambda: resolve_backbone_weights(str(data / "resnet50_notop.h5"))
        ),
        "missing photo": raised(lambda: load_image(data / "pets" / "gone.jpg")),
        "busy": raised(lambda: lease.acquire_lock(weights, weights / "runs" / "two")),
        "storage": raised(lambda: lease.acquire_lock(a_file / "weights", tmp_path)),
        "storage while saving": raised(lambda: _write_under(a_file)),
        "run check": raised(
            lambda: jobs.check(no_train, TrainConfig(backbone_weights="none"), config.data_roots)
        ),
    }


def _write_under(a_file: Path) -> None:
    with writing("saving the model model.keras"):
        (a_file / "model.keras").write_bytes(b"")


def test_every_core_error_as_a_page_shows_it_names_no_server_path(config, tmp_path):
    prefixes = {str(tmp_path), str(tmp_path.resolve())}
    errors = every_error(config, tmp_path)
    with_paths = [name for name, error in errors.items() if any(p in str(error) for p in prefixes)]
    # The test means something: most of core's messages do carry paths (for the CLI).
    assert len(with_paths) >= 8, with_paths
    for name, error in errors.items():
        for operator in (True, False):
            shown = public(str(error), config, operator)
            assert shown.strip(), name
            assert not any(prefix in shown for prefix in prefixes), (name, shown)
            assert "/tmp" not in shown, (name, shown)
            if not operator:
                assert "CATDOG_" not in shown, (name, shown)

    # Named as a visitor may read them: below a data root, in Keras' cache, by file name.
    def shown(name: str) -> str:
        return public(str(errors[name]), config)

    assert "pets/validation/ has no dogs/ folder" in shown("missing validation class")
    assert "keras-cache/datasets/images.tar.gz" in shown("unreadable archive")
    assert "resnet50_notop.h5 does not exist" in shown("missing backbone file")
    assert "CATDOG_DATA_ROOTS" in shown("outside the roots")


def test_public_leaves_urls_labels_and_words_alone(config):
    text = "Could not download https://www.robots.ox.ac.uk/~vgg/data/pets/ (cats/dogs, 1/2)."
    assert public(text, config) == text
    assert public(f"{config.data_dir}2 is not {config.data_dir}.", config) == "data2 is not data/."


def test_the_manifest_and_the_caption_name_no_server_path(config, tmp_path):
    backbone = config.data_dir / "weights" / "resnet50_notop.h5"
    run = config.weights_dir / "runs" / "20260101-000000"
    info = ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights=str(backbone))
    save_classifier(tiny_model(), info, run / "model.keras")
    (config.weights_dir / "current").symlink_to(run.resolve())
    loaded = display.LoadedModel(Explainer(load_default(config)))
    explanation = loaded.explainer.explain([np.zeros((8, 8, 3), np.uint8)])[0]
    layer = loaded.explainer.classifier.default_layer
    record = export.manifest(loaded, explanation, layer, {}, config)
    text = json.dumps(record)
    assert str(tmp_path) not in text and str(tmp_path.resolve()) not in text
    assert record["model"]["file"] == "runs/20260101-000000/model.keras"
    assert record["model"]["backbone_weights"] == "resnet50_notop.h5"
    assert record["model"]["sha256"]
    caption = display.describe(loaded.explainer.classifier.info)
    assert "backbone weights: resnet50_notop.h5" in caption and str(tmp_path) not in caption


def test_the_manifest_says_how_the_map_was_drawn(tiny_weights):
    """alpha, ReLU, colormap and upsampling reproduce the picture as much as the layer does."""
    from core.explain.settings import UPSAMPLING, Photo, Settings, View
    from tests.support.photos import png_bytes

    config = Config(weights_dir=tiny_weights)
    loaded = display.LoadedModel(Explainer(load_default(config)))
    photo = Photo.of(png_bytes(seed=3), "pet.png")
    settings = Settings(
        photo=photo,
        layer=loaded.explainer.classifier.default_layer,
        alpha=0.7,
        relu=False,
        colormap="viridis",
        upsampling=UPSAMPLING[1],
    )
    explanation = loaded.explainer.explain([np.zeros((8, 8, 3), np.uint8)])[0]
    view = View(settings, settings.key("m"), np.zeros((8, 8, 3), np.uint8), explanation)
    record = json.loads(export.downloads(view, loaded, config)[2].data)
    assert record["look"] == {"alpha": 0.7, "relu": False, "colormap": "viridis", "smooth": False}


def test_an_unforeseen_error_shows_a_visitor_no_traceback(tiny_weights, tmp_path, monkeypatch):
    """A bug in core reaches a visitor of the public Explain page as Streamlit's one generic line:
    no traceback, no error type, no message (which names a server path here), under the
    deployed .streamlit/config.toml (showErrorDetails = "none")."""
    from streamlit import config as streamlit_config

    from tests.support import apps
    from tests.support.photos import png_bytes

    # The deployed settings, read by Streamlit's own parser as `streamlit run` reads them.
    monkeypatch.chdir(ROOT)
    streamlit_config.get_config_options(force_reparse=True)
    monkeypatch.setenv("CATDOG_PUBLIC", "1")
    monkeypatch.setenv("CATDOG_WEIGHTS_DIR", str(tiny_weights))
    monkeypatch.setenv("CATDOG_VALIDATION_DIR", str(tmp_path / "no-validation"))
    at = apps.open_page("app.py")
    assert not at.exception

    secret = str(tmp_path / "server-only" / "state.bin")

    def broken(*args, **kwargs):
        raise RuntimeError(f"unforeseen: {secret} is corrupt")

    monkeypatch.setattr(Explainer, "explain", broken)
    at.sidebar.file_uploader[0].set_value(("pet.png", png_bytes(seed=29), "image/png")).run()
    (shown,) = at.exception  # the error did reach the page
    assert shown.message.strip() and "\n" not in shown.message.strip()  # one line
    assert not shown.stack_trace and not shown.proto.type
    page = apps.shown_text(at)
    for leak in (secret, str(tmp_path), "RuntimeError", "unforeseen", "Traceback", ".py"):
        assert leak not in page, leak
