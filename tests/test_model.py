"""The classifier: flat ResNet-50, preprocessing, weights files, sidecar checks, zero-shot fold."""

import json

import keras
import numpy as np
import pytest

from core.config import STAGE_LAYERS, Config
from core.errors import ModelError, StorageError
from core.explain.explainer import Explainer
from core.images import to_model_input
from core.models.build import (
    IMAGENET_CATS,
    IMAGENET_DOGS,
    FoldCatDog,
    build_classifier,
    build_zero_shot,
)
from core.models.info import Classifier, ModelInfo, save_classifier
from core.models.load import load_classifier, load_default
from core.models.preprocessing import CaffePreprocess
from tests.support.models import TINY_SIZE, tiny_model


def test_preprocessing_matches_keras_resnet50():
    rgb = np.random.default_rng(0).uniform(0, 255, (2, 5, 5, 3)).astype(np.float32)
    expected = keras.applications.resnet50.preprocess_input(rgb.copy())
    np.testing.assert_allclose(CaffePreprocess()(rgb), expected, rtol=1e-6)


def test_fold_is_the_log_odds_of_summed_group_probabilities():
    logits = np.random.default_rng(1).normal(size=(3, 1000)).astype(np.float32)
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    dog, cat = probabilities[:, IMAGENET_DOGS].sum(-1), probabilities[:, IMAGENET_CATS].sum(-1)
    np.testing.assert_allclose(FoldCatDog()(logits)[:, 0], np.log(dog / cat), rtol=1e-4)


@pytest.mark.resnet
def test_classifier_is_one_flat_graph_with_frozen_batchnorm():
    model = build_classifier("none")
    names = [layer.name for layer in model.layers]
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)
    for stage in STAGE_LAYERS:
        assert stage in names
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1)
    batchnorms = [
        layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(batchnorms) == 53 and not any(layer.trainable for layer in batchnorms)


@pytest.mark.resnet
def test_backbone_weights_from_a_local_file(tmp_path):
    # ImageNet's weights file is stood in for by one the test writes from a random ResNet-50.
    keras.utils.set_random_seed(7)
    source = keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(224, 224, 3)
    )
    path = tmp_path / "resnet50_notop.weights.h5"
    source.save_weights(path)
    model = build_classifier(str(path))
    np.testing.assert_array_equal(
        model.get_layer("conv1_conv").get_weights()[0],
        source.get_layer("conv1_conv").get_weights()[0],
    )
    np.testing.assert_array_equal(
        model.get_layer("conv5_block3_3_conv").get_weights()[0],
        source.get_layer("conv5_block3_3_conv").get_weights()[0],
    )
    with pytest.raises(ModelError, match="does not exist"):
        build_classifier(str(tmp_path / "absent.h5"))


@pytest.mark.resnet
def test_imagenet_download_failure_is_one_clear_sentence(monkeypatch, tmp_path):
    # The real Keras download code, pointed at an empty cache and an address that refuses at once.
    from keras.src.utils import file_utils

    real_get_file = file_utils.get_file

    def offline_get_file(fname, origin, **kwargs):
        kwargs["cache_dir"] = str(tmp_path)
        return real_get_file(fname, "http://127.0.0.1:9/" + fname, **kwargs)

    monkeypatch.setattr(file_utils, "get_file", offline_get_file)
    with pytest.raises(ModelError) as caught:
        build_classifier("imagenet")
    message = str(caught.value)
    assert (
        "\n" not in message
        and "could not be downloaded" in message
        and "CATDOG_BACKBONE_WEIGHTS" in message
    )
    with pytest.raises(ModelError, match="no zero-shot fallback") as caught:
        load_default(Config(weights_dir=tmp_path / "no-weights", imagenet_weights=""))
    # The zero-shot classifier needs the with-top file: its own setting is named.
    assert "with-top file" in str(caught.value) and "CATDOG_IMAGENET_WEIGHTS" in str(caught.value)


@pytest.mark.resnet
def test_zero_shot_from_a_local_with_top_file(tmp_path):
    keras.utils.set_random_seed(8)
    source = keras.applications.ResNet50(
        include_top=True, weights=None, classifier_activation=None
    )
    path = tmp_path / "resnet50.weights.h5"
    source.save_weights(path)
    classifier = build_zero_shot(str(path))
    assert classifier.info.kind == "zero-shot"
    photo = np.random.default_rng(2).integers(0, 256, (64, 48, 3), dtype=np.uint8)
    explanation = Explainer(classifier, ["conv5_block3_out"]).explain([photo], target="dog")[0]
    # Reference: the source model's own ImageNet logits on the same input, folded by hand.
    inputs = keras.applications.resnet50.preprocess_input(to_model_input([photo], 224))
    logits = source.predict(inputs, verbose=0)[0]
    log_odds = np.logaddexp.reduce(logits[list(IMAGENET_DOGS)]) - np.logaddexp.reduce(
        logits[list(IMAGENET_CATS)]
    )
    assert explanation.score == pytest.approx(log_odds, rel=1e-3, abs=1e-3)
    assert explanation.probabilities["dog"] == pytest.approx(1 / (1 + np.exp(-log_odds)), abs=1e-4)
    top = int(np.argmax(logits))
    assert (explanation.note is None) == (top in IMAGENET_DOGS or top in IMAGENET_CATS)
    assert explanation.heatmap("conv5_block3_out").shape == (7, 7)


def test_save_load_round_trip_with_sidecar(tiny, tmp_path):
    info = ModelInfo(image_size=TINY_SIZE, backbone="tiny", trained_on="pets", val_accuracy=0.5)
    path = save_classifier(tiny, info, tmp_path / "model.keras")
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["class_names"] == ["cat", "dog"] and len(sidecar["sha256"]) == 64
    loaded = load_classifier(path)
    assert loaded.info.trained_on == "pets" and loaded.info.val_accuracy == 0.5
    images = (
        np.random.default_rng(3).uniform(0, 255, (2, TINY_SIZE, TINY_SIZE, 3)).astype(np.float32)
    )
    np.testing.assert_allclose(
        loaded.model.predict(images, verbose=0), tiny.predict(images, verbose=0), rtol=1e-6
    )
    # No temporaries are left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.keras"]


def test_mismatched_or_broken_models_are_refused(tiny, tmp_path):
    path = save_classifier(
        tiny, ModelInfo(image_size=TINY_SIZE, backbone="tiny"), tmp_path / "model.keras"
    )
    sidecar = path.with_suffix(".json")
    good = json.loads(sidecar.read_text())

    def refused(match):
        with pytest.raises(ModelError, match=match) as caught:
            load_classifier(path)
        assert "\n" not in str(caught.value)

    sidecar.write_text(json.dumps({**good, "image_size": 224}))
    refused("sidecar expects")
    # A sidecar whose class count does not match the model's outputs, and one class alone.
    sidecar.write_text(json.dumps({**good, "class_names": ["cat", "dog", "fox"]}))
    refused("gives 1 output.s., but 3 classes were named .cat, dog, fox.: 3 expected")
    sidecar.write_text(json.dumps({**good, "class_names": ["cat"]}))
    refused("names 1 class.es.; a model tells 2 to 1,000 apart")
    sidecar.write_text("{not json")
    refused("not a valid sidecar")
    sidecar.write_text(json.dumps(good))
    path.write_bytes(path.read_bytes()[:1000])
    refused("SHA-256")
    sidecar.write_text(json.dumps({**good, "sha256": None}))
    refused("not a loadable Keras model")
    sidecar.unlink()
    refused("has no sidecar")
    with pytest.raises(ModelError, match="No model at"):
        load_classifier(tmp_path / "absent.keras")


def test_failed_save_keeps_the_previous_model(tiny, tmp_path, monkeypatch):
    path = save_classifier(
        tiny, ModelInfo(image_size=TINY_SIZE, backbone="tiny"), tmp_path / "model.keras"
    )
    before = path.read_bytes()
    other = tiny_model(seed=9)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(other, "save", disk_full)
    with pytest.raises(StorageError, match="disk is full"):
        save_classifier(other, ModelInfo(image_size=TINY_SIZE, backbone="tiny"), path)
    assert path.read_bytes() == before and load_classifier(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.keras"]


def test_safe_mode_refuses_lambda_layers(tmp_path):
    inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3))
    x = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    x = keras.layers.Conv2D(2, 3, name="conv")(x)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(x)))
    path = save_classifier(
        model, ModelInfo(image_size=TINY_SIZE, backbone="tiny"), tmp_path / "model.keras"
    )
    with pytest.raises(ModelError, match="not a loadable Keras model"):
        load_classifier(path)


def test_a_model_that_is_not_the_architecture_its_sidecar_names_is_refused(tiny, tmp_path):
    path = save_classifier(
        tiny, ModelInfo(image_size=TINY_SIZE, backbone="ResNet50"), tmp_path / "model.keras"
    )
    with pytest.raises(ModelError, match="is not a ResNet-50 \\(no conv5_block3_out layer\\)"):
        load_classifier(path)


def resnet_classifier(builder) -> Classifier:
    """A keras.applications ResNet (random weights, 64 px: small and fast) with a head on its
    own graph."""
    base = builder(weights=None, include_top=False, input_shape=(64, 64, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(base.output)
    return Classifier(keras.Model(base.input, keras.layers.Dense(2)(pooled)), ModelInfo())


@pytest.mark.resnet
def test_other_resnets_are_not_read_by_resnet_50s_stage_names():
    # ResNet50V2: its last convolutional output before pooling is post_relu (after post_bn),
    # not conv5_block3_out; each resolution's last 4-D layer is offered.
    v2 = resnet_classifier(keras.applications.ResNet50V2)
    assert v2.default_layer == "post_relu"
    assert v2.layers == {
        "conv1_conv": (32, 32),
        "conv2_block3_1_relu": (16, 16),
        "conv3_block4_1_relu": (8, 8),
        "conv4_block6_1_relu": (4, 4),
        "post_relu": (2, 2),
    }
    # ResNet101: conv4_block6_out is mid-stage (its stage ends at conv4_block23_out).
    deep = resnet_classifier(keras.applications.ResNet101)
    assert deep.default_layer == "conv5_block3_out"
    assert deep.layers == {
        "conv1_relu": (32, 32),
        "conv2_block3_out": (16, 16),
        "conv3_block4_out": (8, 8),
        "conv4_block23_out": (4, 4),
        "conv5_block3_out": (2, 2),
    }
    # ResNet-50 itself keeps its four stages.
    assert list(resnet_classifier(keras.applications.ResNet50).layers) == list(STAGE_LAYERS)
