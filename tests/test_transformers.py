"""Transformers: tokens read on their patch grid, blocks offered, the default reaching the score,
every fitting method; and a model's own layers loaded only from the operator's module.

The golden ViT (8 x 8 photo, 4 x 4 patches, 2 channels) is set by hand: channel 0 of a patch token
is the patch's mean red, channel 1 its mean green; a class token ahead of them; a block whose
attention and MLP are zero (its output is its input); the head averages the 5 tokens and weighs
them (1, -1). The logit's gradient at every token of the block's output is then (1, -1) / 5, so
Grad-CAM's channel weights are (1, -1) / 5 and its map is (red - green) / 5 per patch, the class
token left out; Layer-CAM keeps the positive gradient only: red / 5.
"""

from __future__ import annotations

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image

from core.cams import METHODS, PREDICTED, is_guided
from core.cams.guided import NoReLUError
from core.errors import ModelError
from core.explain.explainer import Explainer
from core.models.custom_objects import OPTION, load_module, load_operator_module
from core.models.facts import inspect_model
from core.models.graph import map_grids, offered_layers
from core.models.imported import import_model
from core.models.info import Classifier, ModelInfo
from core.models.load import load_classifier
from core.models.safe_load import ImportRefused
from core.models.tokens import reaching
from tests.support.transformers import (
    VIT_LAYERS,
    block,
    swin_shaped,
    vit,
    vit_reshaped_patches,
)
from tests.support.vit_layers import ClassTokenPositions

CAMS = [name for name in METHODS if not is_guided(name)]
DOG = 1


def golden_vit() -> keras.Model:
    inputs = keras.Input((8, 8, 3), name="image")
    embed = keras.layers.Conv2D(2, 4, 4, name="patch_embedding")
    x = keras.layers.Reshape((4, 2), name="patch_tokens")(embed(inputs))
    tokens = ClassTokenPositions(1, name="tokens_and_positions")
    x = block(tokens(x), heads=1, width=2, index=0)
    head = keras.layers.Dense(1, name="logit")
    model = keras.Model(inputs, head(keras.layers.GlobalAveragePooling1D(name="pool")(x)))
    kernel = np.zeros((4, 4, 3, 2), np.float32)
    kernel[:, :, 0, 0] = kernel[:, :, 1, 1] = 1 / 16  # mean red, mean green
    embed.set_weights([kernel, np.zeros(2, np.float32)])
    for layer in model.layers:
        if layer.name.startswith("block0_") and layer.weights and "norm" not in layer.name:
            layer.set_weights([np.zeros(w.shape, np.float32) for w in layer.weights])
    tokens.set_weights([np.zeros(w.shape, np.float32) for w in tokens.weights])
    head.set_weights([np.array([[1.0], [-1.0]], np.float32), np.zeros(1, np.float32)])
    return model


def golden_photo() -> np.ndarray:
    photo = np.zeros((1, 8, 8, 3), np.float32)
    photo[0, :4, :4, 0] = 200  # top left: red
    photo[0, :4, 4:, 1] = 100  # top right: green
    photo[0, 4:, :4, :2] = 50  # bottom left: red and green alike
    return photo


@pytest.mark.parametrize(
    "method, expected",
    [
        ("Grad-CAM", [[40, -20], [0, 0]]),
        ("HiResCAM", [[40, -20], [0, 0]]),
        ("XGrad-CAM", [[40, -20], [0, 0]]),
        ("Layer-CAM", [[40, 0], [10, 0]]),
    ],
)
def test_golden_map_of_a_hand_set_vit_lies_on_its_patches_without_the_class_token(
    method, expected
):
    model = golden_vit()
    grid = map_grids(model)["block0_out"]
    assert (grid.size, grid.tokens, grid.extra, grid.assumed) == ((2, 2), True, 1, False)
    maps = METHODS[method](model, ["block0_out"])(golden_photo(), DOG).maps["block0_out"]
    np.testing.assert_allclose(maps[0], expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize(
    "build, offered, default",
    [
        # The head reads the class token: after the last attention no patch reaches the score.
        (lambda: vit(), {"block0_out": (4, 4), "block1_norm1": (4, 4)}, "block1_norm1"),
        (lambda: vit(extra=0), {"block0_out": (4, 4), "block1_out": (4, 4)}, "block1_out"),
        # A class token, a distillation token and a register; patches of 4 px: an 8 x 8 grid.
        (lambda: vit(patch=4, extra=3), {"block0_out": (8, 8), "block1_norm1": (8, 8)}, None),
        (lambda: vit(size=(32, 64), extra=0, blocks=3), None, "block2_out"),
        (lambda: swin_shaped(), {"stage0_out": (8, 8), "stage1_out": (4, 4)}, "stage1_out"),
    ],
)
def test_blocks_are_offered_and_the_default_is_the_last_whose_patches_reach_the_score(
    build, offered, default
):
    model = build()
    layers = offered_layers(model)
    classifier = Classifier(model, ModelInfo(kind="imported", class_names=("a", "b", "c")))
    if offered is not None:
        assert layers == offered
    if default is not None:
        assert classifier.default_layer == default
    assert classifier.default_layer in reaching(model, map_grids(model))
    assert "patch_embedding" not in layers and "patch_tokens" not in layers
    if model.name == "vit_p8_e0":
        assert list(offered_layers(vit(size=(32, 64), extra=0, blocks=3))) == [
            "block0_out",
            "block1_out",
            "block2_out",
        ]
        assert map_grids(vit(size=(32, 64)))["block1_out"].size == (4, 8)  # rows, columns


def test_a_grid_no_layer_has_is_assumed_from_the_input_and_said():
    model = vit_reshaped_patches()
    grid = map_grids(model)["block0_out"]
    assert (grid.size, grid.extra, grid.assumed) == ((4, 4), 0, True)
    info = ModelInfo(kind="imported", class_names=("cat", "dog"), image_size=32)
    photo = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    explanation = Explainer(Classifier(model, info)).explain([photo], "dog")[0]
    assert "read as 4 × 4 patches" in explanation.grid_notes["block0_out"]
    assert "assumed from the input's shape" in explanation.grid_notes["block0_out"]
    assert explanation.raw_maps["block0_out"].shape == (4, 4)


@pytest.mark.parametrize("build", [vit, lambda: vit(patch=4, extra=0), swin_shaped])
@pytest.mark.parametrize("method", CAMS)
def test_every_cam_method_on_transformers_batch_equals_one_at_a_time(build, method):
    model = build()
    weights = [w.copy() for w in model.get_weights()]
    layers = list(offered_layers(model))
    images = np.random.default_rng(3).uniform(0, 255, (3, 32, 32, 3)).astype(np.float32)
    before = images.copy()
    cam = METHODS[method](model, layers, top_n=8) if method == "Score-CAM" else None
    cam = cam or METHODS[method](model, layers)
    batch = cam(images, PREDICTED)
    for i in range(len(images)):
        single = cam(images[i : i + 1], PREDICTED)
        for layer in layers:
            assert batch.maps[layer].shape[1:] == map_grids(model)[layer].size
            assert np.isfinite(batch.maps[layer]).all()
            np.testing.assert_allclose(
                batch.maps[layer][i], single.maps[layer][0], rtol=1e-4, atol=1e-5
            )
    assert np.array_equal(images, before)
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))


@pytest.mark.parametrize("method", ["Guided Backprop", "Guided Grad-CAM"])
def test_guided_methods_on_a_gelu_vit_are_refused_with_the_reason(method):
    with pytest.raises(NoReLUError, match="needs ReLUs.*gelu"):
        METHODS[method](vit(), ["block0_out"])


def test_faithfulness_and_sanity_check_of_a_vit_map_are_finite():
    info = ModelInfo(kind="imported", class_names=("a", "b", "c"), image_size=32)
    explainer = Explainer(Classifier(vit(), info))
    photo = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    layer = explainer.classifier.default_layer
    explanation = explainer.explain([photo], "a", "Grad-CAM")[0]
    figures = explainer.faithfulness(photo, explanation, layer, steps=8)
    assert "NaN" not in json.dumps(figures, default=str)
    steps = explainer.sanity_check(photo, layer, "a", "Grad-CAM")
    assert steps
    assert all(step["spearman"] is None or np.isfinite(step["spearman"]) for step in steps)


# A model's own layers: the operator's module, never a visitor's ---------------------------------


@pytest.fixture
def registry():
    """Keras' custom objects as they were before the test, restored after it."""
    known = keras.saving.get_custom_objects()
    before = dict(known)
    known.pop("ClassTokenPositions", None)
    yield known
    known.clear()
    known.update(before)


@pytest.fixture
def saved_vit(tmp_path, registry):
    path = tmp_path / "vit.keras"
    vit(extra=1).save(path)
    return path


def test_a_custom_layer_is_refused_naming_the_option_until_the_operator_loads_it(
    saved_vit, tmp_path, registry
):
    with pytest.raises(ImportRefused, match=f"ClassTokenPositions.*{OPTION}.*CATDOG_CUSTOM"):
        inspect_model(saved_vit)
    with pytest.raises(ModelError, match=f"ClassTokenPositions.*{OPTION}"):
        load_classifier(saved_vit, ("a", "b", "c"), "none")
    assert load_module(VIT_LAYERS) == ("ClassTokenPositions",)
    facts = inspect_model(saved_vit)
    assert facts.default_layer == "block1_norm1"
    assert "2 blocks whose tokens are read as 4 × 4 patches after 1 extra" in facts.description
    path = import_model(saved_vit, tmp_path / "weights", ["a", "b", "c"], "none")
    photo = np.random.default_rng(5).integers(0, 256, (50, 40, 3), dtype=np.uint8)
    explanation = Explainer(load_classifier(path)).explain([photo], "b")[0]
    assert explanation.raw_maps["block1_norm1"].shape == (4, 4)
    assert np.abs(explanation.raw_maps["block1_norm1"]).max() > 0


def test_the_operator_setting_loads_the_module_before_any_model(saved_vit, monkeypatch):
    monkeypatch.setenv("CATDOG_CUSTOM_OBJECTS", str(VIT_LAYERS))
    assert load_operator_module() == ("ClassTokenPositions",)
    assert inspect_model(saved_vit).layers == ("block0_out", "block1_norm1")


def test_a_module_that_fails_is_one_sentence(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('no such layer today')\n")
    with pytest.raises(ModelError, match="broken.py failed to import: no such layer today"):
        load_module(broken)
    with pytest.raises(ModelError, match="No Python module at"):
        load_module(tmp_path / "missing.py")


def test_cli_explains_a_vit_with_custom_objects_and_refuses_it_without(saved_vit, tmp_path):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((48, 48, 3), 120, np.uint8)).save(photo)
    command = [
        sys.executable, "-m", "core", "explain", str(photo), "--weights", str(saved_vit),
        "--classes", "a,b,c", "--preprocessing", "none", "--out", str(tmp_path / "out"),
    ]  # fmt: skip
    refused = subprocess.run(command, capture_output=True, text=True)
    assert refused.returncode == 2 and OPTION in refused.stderr
    done = subprocess.run(
        [*command, "--custom-objects", str(VIT_LAYERS)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "photo_overlay.png").is_file()
    imported = subprocess.run(
        [
            sys.executable, "-m", "core", "import-model", str(saved_vit), "--classes", "a,b,c",
            "--preprocessing", "none", "--weights-dir", str(tmp_path / "weights"),
            "--custom-objects", str(VIT_LAYERS),
        ],  # fmt: skip
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    assert (tmp_path / "weights" / "imported" / "vit" / "model.keras").is_file()
