"""All stages fused (`--layer fused`): golden values, one model pass, the reserved name, ResNet-50.

`fuse` is checked by hand on small arrays; the pipeline is checked to add the fused map from the
pass that makes the stage maps, to keep a model's own layer named "fused" as itself (reached in
the CLI as `layer:fused`), and to fuse ResNet-50's four stages on conv2's 56x56 grid.
"""

import json

import cv2
import keras
import numpy as np
import pytest
from PIL import Image

from core.cams import FUSED, fuse
from core.cli.commands import main
from core.explain.explainer import Explainer
from core.models.build import head_units
from core.models.info import Classifier, ModelInfo, save_classifier
from core.models.preprocessing import CaffePreprocess
from tests.support.models import TINY_SIZE, tiny_model


def test_fuse_is_the_geometric_mean_of_the_relud_max_scaled_maps():
    # Image 0: ReLU then / max 4 gives [[0, .5], [1, 0]]; the 1x1 map stretches to a constant 1.
    # Image 1: its own maximum (8) scales it; the coarse map (0.5 / 0.5) is again 1.
    fine = np.array([[[-1.0, 2.0], [4.0, 0.0]], [[8.0, 2.0], [-3.0, 4.0]]])
    coarse = np.array([[[3.0]], [[0.5]]])
    fused = fuse([fine, coarse])
    expected = np.sqrt([[[0.0, 0.5], [1.0, 0.0]], [[1.0, 0.25], [0.0, 0.5]]])
    assert fused.shape == (2, 2, 2) and fused.dtype == np.float32
    np.testing.assert_allclose(fused, expected, atol=1e-6)


def test_fuse_stretches_bilinearly_and_a_cold_stage_zeroes_the_map():
    # [0, 4] -> [0, 1] on a 1x4 grid, half-pixel centres: samples at -0.25, 0.25, 0.75, 1.25.
    half = np.array([[[0.0, 4.0]]])
    fused = fuse([half, np.ones((1, 1, 4))])
    np.testing.assert_allclose(fused[0, 0], np.sqrt([0.0, 0.25, 0.75, 1.0]), atol=1e-6)
    # A stage with no positive evidence: the product, so the fused map, is zero (not NaN).
    cold = fuse([half, -np.ones((1, 1, 4))])
    assert np.array_equal(cold, np.zeros((1, 1, 4), np.float32))


def tiny_explainer(model=None, layers=None) -> Explainer:
    return Explainer(Classifier(model or tiny_model(), ModelInfo(image_size=TINY_SIZE)), layers)


def count_runs(explainer: Explainer, monkeypatch, method: str = "Grad-CAM") -> list:
    """Count the calls of the method's pipeline's one pass (forward and backward)."""
    cam, calls = explainer.cam(method), []
    original = cam._run
    monkeypatch.setattr(cam, "_run", lambda *a, **k: calls.append(1) or original(*a, **k))
    return calls


def test_one_pass_gives_every_layer_and_their_fusion(monkeypatch):
    photo = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    explainer = tiny_explainer()  # all offered layers: conv_a (8x8), conv_b (4x4)
    assert list(explainer.layer_choices) == ["conv_a", "conv_b", FUSED]
    calls = count_runs(explainer, monkeypatch)
    (explanation,) = explainer.explain([photo], "dog")
    assert len(calls) == 1 and set(explanation.raw_maps) == {"conv_a", "conv_b", FUSED}
    stages = [explanation.raw_maps[name][None] for name in ("conv_a", "conv_b")]
    np.testing.assert_allclose(explanation.raw_maps[FUSED], fuse(stages)[0], atol=1e-6)
    assert explanation.heatmap(FUSED).shape == (8, 8)
    one = tiny_explainer(layers=["conv_b"]).explain([photo], "dog")[0]
    assert set(one.raw_maps) == {"conv_b"}


def model_with_a_layer_named_fused(name: str = FUSED) -> keras.Model:
    """The tiny model's graph, BatchNorm (frozen) after its first conv, their ReLU named `name`.

    Offered: `name` (8x8) and conv_b (4x4); conv_a and bn_a are (N, H, W, C) but not offered.
    """
    keras.utils.set_random_seed(1)
    inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3), name="image")
    x = CaffePreprocess(name="preprocess")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv_a")(x)
    x = keras.layers.BatchNormalization(name="bn_a")(x)
    x = keras.layers.Activation("relu", name=name)(x)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inputs, keras.layers.Dense(head_units(2), name="logit")(x))


def test_a_model_layer_named_fused_is_kept_as_itself():
    model = model_with_a_layer_named_fused()
    moving_mean = model.get_layer("bn_a").moving_mean.numpy().copy()
    photo = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    both = tiny_explainer(model).explain([photo], "cat")[0]  # offered: fused (8x8), conv_b
    alone = tiny_explainer(model, [FUSED]).explain([photo], "cat")[0]
    assert set(both.raw_maps) == {FUSED, "conv_b"}
    np.testing.assert_allclose(both.raw_maps[FUSED], alone.raw_maps[FUSED], atol=1e-5)
    assert np.array_equal(model.get_layer("bn_a").moving_mean.numpy(), moving_mean)


def test_fused_on_a_model_with_batch_norm_uses_its_frozen_statistics():
    model = model_with_a_layer_named_fused("relu_a")
    photos = np.random.default_rng(2).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    explainer = tiny_explainer(model, ["relu_a", "conv_b"])
    assert explainer.fused_from == ("relu_a", "conv_b")
    batch = explainer.explain(list(photos), "dog")
    # Inference mode: each photo's fused map is the same alone as in a batch of three.
    for photo, in_batch in zip(photos, batch):
        alone = explainer.explain([photo], "dog")[0].raw_maps[FUSED]
        assert np.isfinite(alone).all() and alone.min() >= 0
        np.testing.assert_allclose(in_batch.raw_maps[FUSED], alone, atol=1e-5)


def test_fused_is_made_of_the_offered_layers_whatever_else_is_explained(capsys, tmp_path):
    model = model_with_a_layer_named_fused("relu_a")  # offered: relu_a, conv_b
    photo = np.random.default_rng(4).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    offered = tiny_explainer(model)
    more = tiny_explainer(model, ["relu_a", "conv_b", "conv_a"])  # conv_a: not offered
    assert offered.fused_from == more.fused_from == ("relu_a", "conv_b")
    assert list(more.layer_choices) == ["relu_a", "conv_b", "conv_a", FUSED]
    np.testing.assert_array_equal(
        offered.explain([photo], "dog")[0].raw_maps[FUSED],
        more.explain([photo], "dog")[0].raw_maps[FUSED],
    )
    assert tiny_explainer(model, ["relu_a", "conv_a"]).fused_from == ()  # one offered: none
    # The CLI: evaluate's fused row is the same with another --layer beside it.
    info = ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none")
    weights = save_classifier(model, info, tmp_path / "m.keras")
    (tmp_path / "photos").mkdir()
    Image.fromarray(photo).save(tmp_path / "photos" / "a.png")
    common = ["evaluate", "--data", tmp_path / "photos", "--weights", weights, "--steps", "2"]
    figures = []
    for extra in ([], ["--layer", "conv_a"]):
        argv = [*common, "--method", "Grad-CAM", "--layer", FUSED, *extra]
        assert main(list(map(str, argv))) == 0
        lines = capsys.readouterr().out.splitlines()[3:]  # the header, the table's two
        rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in lines]
        figures.append({tuple(row[:-6]): row[-6:] for row in rows})  # six faithfulness columns
    assert figures[0][("Grad-CAM",)] == figures[1][("Grad-CAM", FUSED)]
    assert set(figures[1]) == {("Grad-CAM", FUSED), ("Grad-CAM", "conv_a")}


def test_layer_fused_reaches_the_model_layer_in_the_cli(capsys, tmp_path):
    weights = save_classifier(
        model_with_a_layer_named_fused(),
        ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none"),
        tmp_path / "m.keras",
    )
    photo = tmp_path / "a.png"
    Image.fromarray(np.full((12, 10, 3), 90, np.uint8)).save(photo)
    common = [photo, "--weights", weights, "--out", tmp_path / "out", "--raw"]
    assert main(list(map(str, ["explain", *common, "--layer", "layer:fused"]))) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["layer"] == "layer:fused"
    alone = Explainer(
        Classifier(keras.models.load_model(weights), ModelInfo(image_size=8)), [FUSED]
    )
    expected = alone.explain([np.asarray(Image.open(photo))], record["target"])[0]
    np.testing.assert_allclose(
        np.load(tmp_path / "out" / "a_raw.npy"), expected.raw_maps[FUSED], atol=1e-5
    )
    # "fused" alone means the fusion, which this model's own layer of that name rules out.
    assert main(list(map(str, ["explain", *common, "--layer", "fused"]))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--layer layer:fused" in err


@pytest.mark.resnet
def test_resnet50_stages_fuse_on_the_56_grid_warm_where_every_stage_is(resnet50, monkeypatch):
    explainer = Explainer(Classifier(resnet50, ModelInfo()))  # its four stages
    # Layer-CAM: with random weights a Grad-CAM stage map may be negative everywhere (nothing to
    # fuse); Layer-CAM's are >= 0 and warm somewhere at every stage.
    calls = count_runs(explainer, monkeypatch, "Layer-CAM")
    photo = np.random.default_rng(3).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    (explanation,) = explainer.explain([photo], "dog", "Layer-CAM")
    fused = explanation.raw_maps[FUSED]
    assert len(calls) == 1 and explainer.layer_choices[FUSED] == (56, 56)
    assert fused.shape == (56, 56) and np.isfinite(fused).all() and fused.min() >= 0
    # Each stage ReLU'd, max-scaled and stretched to 56x56: a geometric mean lies between the
    # coldest and the warmest of them, so it is warm (>= t) wherever every stage is (>= t).
    stages = [explanation.heatmap(layer) for layer in explainer.layers]
    assert all(stage.max() == pytest.approx(1.0) for stage in stages)
    stretched = np.stack(
        [cv2.resize(stage, (56, 56), interpolation=cv2.INTER_LINEAR) for stage in stages]
    )
    assert (fused >= stretched.min(axis=0) - 1e-5).all()
    assert (fused <= stretched.max(axis=0) + 1e-5).all() and fused.max() > 0


def test_fused_needs_two_offered_layers_and_explain_takes_one_layer(capsys, tmp_path):
    keras.utils.set_random_seed(2)
    inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="only_conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    one_conv = keras.Model(inputs, keras.layers.Dense(1)(x))
    info = ModelInfo(image_size=TINY_SIZE, backbone="tiny", backbone_weights="none")
    weights = save_classifier(one_conv, info, tmp_path / "one.keras")
    photo = tmp_path / "a.png"
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(photo)
    for layer, says in [("fused", "--layer only_conv"), ("all", "--layer all is for evaluate")]:
        argv = ["explain", photo, "--weights", weights, "--out", tmp_path, "--layer", layer]
        assert main(list(map(str, argv))) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err


def test_the_sanity_check_of_the_fused_map_randomises_the_layers_it_is_made_of(monkeypatch):
    from core.explain import faithfulness

    explainer = tiny_explainer()
    model = explainer.classifier.model
    assert explainer.fused_from == ("conv_a", "conv_b")
    kept = {name: model.get_layer(name).get_weights() for name in explainer.fused_from}
    # Spies: which layers the cascade re-initialises (and whether their weights really change),
    # and which model and layers each map of the check is computed from.
    changed, maps = {}, []
    reinitialise, methods = faithfulness.reinitialise, dict(faithfulness.METHODS)

    def spy_reinitialise(layer, seed):
        before = layer.get_weights()
        reinitialise(layer, seed)
        after = layer.get_weights()
        changed[layer.name] = any(not np.array_equal(a, b) for a, b in zip(before, after))

    def spy_method(cam_class):
        def build(cam_model, layers, **options):
            maps.append((cam_model, tuple(layers), options.get("fused_from")))
            return cam_class(cam_model, layers, **options)

        return build

    monkeypatch.setattr(faithfulness, "reinitialise", spy_reinitialise)
    monkeypatch.setattr(faithfulness, "METHODS", {k: spy_method(c) for k, c in methods.items()})
    photo = np.random.default_rng(5).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    steps = explainer.sanity_check(photo, FUSED, "dog", "Layer-CAM")
    assert steps and all(step["class_index"] == 1 for step in steps)
    # Both layers the fused map is made of were randomised, their weights changed...
    assert {name: changed.get(name) for name in explainer.fused_from} == {
        "conv_a": True,
        "conv_b": True,
    }
    assert {"conv_a", "conv_b"} <= {step["randomised"] for step in steps}
    # ...and every map of the check, the original's and each step's, is fused from them.
    assert len(maps) == 1 + len(steps)
    assert all(m[1:] == (explainer.fused_from, explainer.fused_from) for m in maps), maps
    # The randomising happened on a copy: the explained model keeps its weights.
    assert maps[0][0] is model and all(m[0] is not model for m in maps[1:])
    for name, weights in kept.items():
        now = model.get_layer(name).get_weights()
        assert all(np.array_equal(a, b) for a, b in zip(weights, now)), name


def test_the_page_labels_a_fused_or_guided_map_without_claiming_it_is_before_relu():
    from core.explain.explainer import Explanation
    from core.explain.figures import map_figures

    maps = {"conv": np.array([[-1.0, 2.0]]), "fused": np.array([[0.0, 1.0]])}
    cam = Explanation({"cat": 1.0}, "cat", "cat", 1.5, maps, 0.1)
    assert [label for label, _ in map_figures(cam, "conv")][0] == "raw map min (before ReLU)"
    assert dict(map_figures(cam, "conv"))["cells ≤ 0"] == "50%"
    assert [label for label, _ in map_figures(cam, "fused")][0] == "map min"
    guided = Explanation({"cat": 1.0}, "cat", "cat", 1.5, maps, 0.1, pixels={"conv": np.ones(3)})
    assert [label for label, _ in map_figures(guided, "conv")][0] == "map min"
