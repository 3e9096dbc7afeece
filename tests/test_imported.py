"""A person's own model: imported, refused in one sentence, explained like tf-keras-vis does.

The seed article's model (ResNet-50 nested in a Sequential, 1/255, Dense(2, softmax)), a small
Sequential CNN and a MobileNetV2 at 160 px: Grad-CAM equal to tf-keras-vis's on the flat twin
(tf-keras-vis fails on the nested model itself), faithfulness and the sanity check finite.
"""

from pathlib import Path

import keras
import numpy as np
import pytest

from core.cams import METHODS
from core.config import Config
from core.data.choices import weights_files
from core.errors import ModelError
from core.explain.explainer import Explainer
from core.models.build import build_classifier
from core.models.facts import inspect_model, propose_preprocessing
from core.models.imported import PREPROCESSING, ImportRefused, import_model, imported_models
from core.models.info import IMPORTED, ModelInfo, save_classifier
from core.models.load import load_classifier
from core.models.preprocessing import Preprocess
from core.training.store import prune
from tests.support.photos import png_bytes

RNG = np.random.default_rng(0)


def small_cnn(size=(32, 32), classes=3, head="softmax") -> keras.Sequential:
    """A Sequential CNN with a max-pooling step, its probabilities from a Dense softmax."""
    return keras.Sequential(
        [
            keras.Input((*size, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(6, 3, activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="avg_pool"),
            keras.layers.Dense(classes, activation=head, name="probabilities"),
        ],
        name="small_cnn",
    )


def seed_model(size=224) -> keras.Sequential:
    """The seed article's model: ResNet-50 nested as ONE layer, a Dense(2, softmax) head."""
    backbone = keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(size, size, 3)
    )
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            backbone,
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, activation="softmax"),
        ],
        name="seed",
    )


def mobilenet(classes=3) -> keras.Model:
    """MobileNetV2 (random weights, 160 px) nested in a functional model, K softmax units."""
    base = keras.applications.MobileNetV2(
        include_top=False, weights=None, input_shape=(160, 160, 3)
    )
    inputs = keras.Input((160, 160, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(base(inputs))
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(pooled))


def saved(model: keras.Model, path) -> object:
    model.save(path)
    return path


def photos_for(size, n=2) -> list[np.ndarray]:
    return [RNG.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n)]


def preprocessed(images: np.ndarray, mode: str) -> np.ndarray:
    return keras.ops.convert_to_numpy(Preprocess(mode)(images))


def flat_twin(model: keras.Model) -> keras.Model:
    """The model's graph rebuilt with Keras' functional API from its OWN layers, flattened by
    hand (not by core.models.graph.flatten_model): a nested backbone's input to the head's output.

    Takes [backbone or first layer, layer, ...] with one input each: the seed model, the small
    CNN, the nested MobileNetV2.
    """
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    first = layers[0]
    x = first.output
    for layer in layers[1:]:
        x = layer(x)
    return keras.Model(first.input, x, name=f"{model.name}_twin")


def check_trust(classifier, original, mode: str, layer: str) -> None:
    """Probabilities as the original model's; Grad-CAM = tf-keras-vis's on the original's own
    layers (`flat_twin`, its final activation made linear by tf-keras-vis); checks run, finite."""
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear

    explainer = Explainer(classifier)
    photos = photos_for(classifier.input_size)
    images = np.stack(photos).astype(np.float32)
    inputs = preprocessed(images, mode)
    expected = keras.ops.convert_to_numpy(original(inputs))
    logits = keras.ops.convert_to_numpy(classifier.model(images))
    np.testing.assert_allclose(classifier.probabilities(logits), expected, rtol=1e-4, atol=1e-5)
    twin = flat_twin(original)
    for k in range(len(classifier.info.class_names)):
        name = classifier.info.class_names[k]
        ours = np.stack([e.raw_maps[layer] for e in explainer.explain(photos, name)])
        score = (
            (lambda out: out[:, 0] * (1 if k else -1))
            if logits.shape[1] == 1
            else (lambda out, k=k: out[:, k])
        )
        # The layer itself: tf-keras-vis would otherwise step back to the last Conv2D before an
        # Activation layer such as conv5_block3_out or out_relu.
        reference = Gradcam(twin, model_modifier=ReplaceToLinear(), clone=True)(
            score,
            inputs,
            penultimate_layer=layer,
            seek_penultimate_conv_layer=False,
            expand_cam=False,
            normalize_cam=False,
            activation_modifier=None,
        )
        np.testing.assert_allclose(ours, reference, rtol=1e-3, atol=1e-5 * np.abs(ours).max())
        assert np.abs(reference).max() > 0  # a map of zeros would match anything
    explanation = explainer.explain(photos[:1])[0]
    curves = explainer.faithfulness(photos[0], explanation, layer, steps=4)
    for which in ("map", "random"):
        assert np.isfinite(curves[which]["deletion_auc"]) and np.isfinite(
            curves[which]["insertion_auc"]
        )
    steps = explainer.sanity_check(photos[0], layer, "predicted", "Grad-CAM")
    assert steps and all(np.isfinite(step["ssim"]) for step in steps)


def test_small_sequential_cnn_imports_and_matches_tf_keras_vis(tmp_path):
    model = small_cnn()
    path = import_model(saved(model, tmp_path / "cnn.keras"), tmp_path, ["a", "b", "c"], "tf")
    assert path == tmp_path / IMPORTED / "cnn" / "model.keras" and imported_models(tmp_path) == [
        path
    ]
    classifier = load_classifier(path)
    assert classifier.info.kind == IMPORTED and classifier.info.preprocessing == "tf"
    assert list(classifier.layers) == ["conv1", "pool1", "conv2"]
    assert classifier.default_layer == "conv2"  # the last convolution before pooling
    check_trust(classifier, model, "tf", "conv2")
    check_trust(classifier, model, "tf", "conv1")


@pytest.mark.slow
@pytest.mark.resnet
def test_seed_style_nested_resnet_matches_tf_keras_vis_on_its_flat_twin(tmp_path):
    model = seed_model()
    source = saved(model, tmp_path / "seed.keras")
    assert propose_preprocessing(source) == "caffe"  # a guess: it was trained with 1/255
    classifier = load_classifier(import_model(source, tmp_path, ["cat", "dog"], "rescale"))
    assert list(classifier.layers) == [
        "conv2_block3_out",
        "conv3_block4_out",
        "conv4_block6_out",
        "conv5_block3_out",
    ]
    assert classifier.default_layer == "conv5_block3_out"
    check_trust(classifier, model, "rescale", "conv5_block3_out")


@pytest.mark.slow
@pytest.mark.resnet
def test_mobilenet_v2_at_160_px_offers_five_resolutions_and_matches_tf_keras_vis(tmp_path):
    model = mobilenet()
    source = saved(model, tmp_path / "mobilenet.keras")
    facts = inspect_model(source)
    assert facts.preprocessing == "tf" and facts.input_size == (160, 160)
    classifier = load_classifier(import_model(source, tmp_path, ["a", "b", "c"], "tf"))
    assert list(classifier.layers.values()) == [(80, 80), (40, 40), (20, 20), (10, 10), (5, 5)]
    assert classifier.default_layer == "out_relu" == facts.default_layer
    check_trust(classifier, model, "tf", "out_relu")


def test_a_wrong_proposal_is_overridden(tmp_path):
    # A ResNet-50 (small input: cheap) proposes "caffe"; trained with 1/255, it is imported so.
    model = seed_model(size=32)
    source = saved(model, tmp_path / "seed.keras")
    assert inspect_model(source).preprocessing == "caffe"
    classifier = load_classifier(import_model(source, tmp_path, ["cat", "dog"], "rescale"))
    images = np.stack(photos_for((32, 32))).astype(np.float32)
    logits = keras.ops.convert_to_numpy(classifier.model(images))
    expected = keras.ops.convert_to_numpy(model(images / 255.0))
    np.testing.assert_allclose(classifier.probabilities(logits), expected, rtol=1e-4, atol=1e-6)
    assert classifier.info.preprocessing == "rescale"


def test_each_preprocessing_is_the_keras_applications_formula():
    images = RNG.uniform(0, 255, (2, 4, 5, 3)).astype(np.float32)
    formulas = {
        "caffe": keras.applications.resnet50.preprocess_input,
        "tf": keras.applications.mobilenet_v2.preprocess_input,
        "torch": keras.applications.densenet.preprocess_input,
        "rescale": lambda x: x / 255.0,
        "none": lambda x: x,
    }
    assert set(formulas) == set(PREPROCESSING)
    for mode, formula in formulas.items():
        np.testing.assert_allclose(
            preprocessed(images, mode), formula(images.copy()), rtol=1e-5, atol=1e-4
        )


@pytest.mark.parametrize(
    "head, units, classes",
    [("sigmoid", 1, ["cat", "dog"]), ("softmax", 2, ["cat", "dog"]), ("linear", 3, list("abc"))],
)
def test_the_explained_score_is_the_logit_before_the_final_activation(
    tmp_path, head, units, classes
):
    model = small_cnn(classes=units, head=head)
    classifier = load_classifier(
        import_model(saved(model, tmp_path / "m.keras"), tmp_path, classes, "none")
    )
    images = np.stack(photos_for((32, 32))).astype(np.float32)
    logits = keras.ops.convert_to_numpy(classifier.model(images))
    dense = model.get_layer("probabilities")
    features = keras.Model(model.inputs[0], dense.input)(images)
    expected = keras.ops.convert_to_numpy(features @ dense.kernel + dense.bias)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    assert model.get_layer("probabilities").activation.__name__ == head  # never changed


def test_a_separate_softmax_layer_is_dropped(tmp_path):
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    logits = keras.layers.Dense(3, name="logits")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, keras.layers.Softmax()(logits))
    path = import_model(saved(model, tmp_path / "m.keras"), tmp_path, list("abc"), "none")
    classifier = load_classifier(path)
    images = np.stack(photos_for((16, 16))).astype(np.float32)
    expected = keras.Model(inputs, logits)(images)
    np.testing.assert_allclose(classifier.model(images), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("final", ["softmax", "sigmoid", "log_softmax"])
def test_a_final_activation_layer_is_removed_or_kept_as_logits(tmp_path, final):
    units, classes = (1, ["cat", "dog"]) if final == "sigmoid" else (3, list("abc"))
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    scores = keras.layers.Dense(units, name="scores")(keras.layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, keras.layers.Activation(final, name="final")(scores))
    classifier = load_classifier(
        import_model(saved(model, tmp_path / "m.keras"), tmp_path, classes, "none")
    )
    images = np.stack(photos_for((16, 16))).astype(np.float32)
    outputs = keras.ops.convert_to_numpy(model(images))
    probabilities = classifier.probabilities(classifier.model(images))
    if final == "sigmoid":
        np.testing.assert_allclose(probabilities[:, 1], outputs[:, 0], rtol=1e-5, atol=1e-6)
    else:
        expected = np.exp(outputs) if final == "log_softmax" else outputs
        np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)
    if final != "log_softmax":  # the explained score is the logit before the activation
        logits = keras.Model(inputs, scores)(images)
        np.testing.assert_allclose(classifier.model(images), logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "head, units",
    [("tanh", 1), ("relu", 3), ("softplus", 3), ("elu_layer", 3)],
)
def test_a_final_activation_with_no_probabilities_is_refused(tmp_path, head, units):
    classes = ["cat", "dog"] if units == 1 else list("abc")
    if head == "elu_layer":
        model = small_cnn(classes=units, head=None)
        model.add(keras.layers.ELU())
    else:
        model = small_cnn(classes=units, head=head)
    source = saved(model, tmp_path / "m.keras")
    with pytest.raises(ImportRefused, match="activation, which gives no class probabilities"):
        import_model(source, tmp_path / "w", classes, "none")
    assert not (tmp_path / "w").exists()
    with pytest.raises(ImportRefused):
        load_classifier(source, tuple(classes), "none")  # --weights with --classes


def test_an_upper_case_suffix_imports(tmp_path):
    model = small_cnn()
    for name in ("MODEL.KERAS", "LEGACY.H5", "Other.Hdf5"):
        source = saved(model, tmp_path / name.lower())
        source = source.rename(tmp_path / name)
        path = import_model(source, tmp_path / "w", list("abc"), "none")
        assert path.is_file() and load_classifier(path).info.class_names == tuple("abc")


def test_an_oversized_config_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from core.models import custom_objects

    source = saved(small_cnn(), tmp_path / "cnn.keras")
    monkeypatch.setattr(custom_objects, "MAX_CONFIG_BYTES", 100)
    with pytest.raises(ImportRefused, match="config.json is .* MB, over the"):
        inspect_model(source)


def test_legacy_h5_is_converted_to_keras(tmp_path):
    model = small_cnn()
    path = import_model(saved(model, tmp_path / "old.h5"), tmp_path / "w", list("abc"), "rescale")
    assert path.suffix == ".keras" and not list((tmp_path / "w").rglob("*.h5"))
    classifier = load_classifier(path)
    images = np.stack(photos_for((32, 32))).astype(np.float32)
    np.testing.assert_allclose(
        classifier.probabilities(classifier.model(images)), model(images / 255.0), atol=1e-5
    )
    # Never offered as backbone weights, never pruned.
    assert weights_files((tmp_path / "w",)) == []
    prune(tmp_path / "w", keep=1)
    assert path.is_file()


def test_non_square_input_is_kept(tmp_path):
    model = small_cnn(size=(48, 32))
    path = import_model(saved(model, tmp_path / "tall.keras"), tmp_path, list("abc"), "none")
    classifier = load_classifier(path)
    assert classifier.input_size == (48, 32) and classifier.info.input_size == (48, 32)
    explainer = Explainer(classifier)
    photo = photos_for((100, 30), 1)[0]
    explanation = explainer.explain([photo])[0]
    assert explanation.raw_maps["conv2"].shape == (21, 13)  # 48 x 32 -> 46 x 30 -> 23 x 15
    curves = explainer.faithfulness(photo, explanation, "conv2", steps=4)
    assert curves["map"]["deletion"].shape == (5,) and np.isfinite(curves["map"]["insertion_auc"])
    steps = explainer.sanity_check(photo, "conv2", "predicted", "Grad-CAM")
    assert all(np.isfinite(step["spearman"]) for step in steps)


def test_free_input_size_becomes_224_and_says_so(tmp_path):
    model = small_cnn(size=(None, None))
    facts = inspect_model(saved(model, tmp_path / "free.keras"))
    assert facts.input_size == (224, 224) and facts.size_assumed
    assert "any size" in facts.description
    classifier = load_classifier(
        import_model(tmp_path / "free.keras", tmp_path, list("abc"), "tf")
    )
    assert classifier.input_size == (224, 224)
    assert Explainer(classifier).explain(photos_for((50, 70), 1))[0].raw_maps["conv2"].shape == (
        109,
        109,
    )


class Unknown(keras.layers.Layer):
    def call(self, x):
        return x


def refusals(tmp_path) -> dict:
    """name -> (source file, classes, keyword arguments): each to be refused."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    (tmp_path / "notes.keras").write_text("not a model")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    lam = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Lambda(lambda t: t / 255.0)])
    lam.add(keras.layers.Conv2D(2, 3))
    lam.add(keras.layers.GlobalAveragePooling2D())
    lam.add(keras.layers.Dense(2, activation="softmax"))
    custom = keras.Sequential([keras.Input((8, 8, 3)), Unknown(), keras.layers.Conv2D(2, 3)])
    custom.add(keras.layers.GlobalAveragePooling2D())
    custom.add(keras.layers.Dense(2))
    flat = keras.Sequential(
        [keras.Input((8, 8, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    two_out = keras.Model(inputs, [keras.layers.Dense(2)(pooled), keras.layers.Dense(3)(pooled)])
    return {
        "not keras": (tmp_path / "notes.keras", ["a", "b"], {}),
        "an image": (tmp_path / "photo.png", ["a", "b"], {}),
        "lambda": (saved(lam, tmp_path / "lambda.keras"), ["a", "b"], {}),
        "lambda h5": (saved(lam, tmp_path / "lambda.h5"), ["a", "b"], {}),
        "custom": (saved(custom, tmp_path / "custom.keras"), ["a", "b"], {}),
        "no 4-D": (saved(flat, tmp_path / "flat.keras"), ["a", "b"], {}),
        "two outputs": (saved(two_out, tmp_path / "two.keras"), ["a", "b"], {}),
        "wrong count": (saved(small_cnn(), tmp_path / "three.keras"), ["a", "b"], {}),
        "over the cap": (
            saved(small_cnn(), tmp_path / "big.keras"),
            list("abc"),
            {"max_bytes": 9},
        ),
        "reserved": (saved(small_cnn(), tmp_path / "res.keras"), ["a", "predicted", "c"], {}),
        "one class": (saved(small_cnn(), tmp_path / "one.keras"), ["a"], {}),
    }


def test_each_refusal_is_one_sentence_and_writes_nothing(tmp_path):
    weights = tmp_path / "weights"
    for name, (source, classes, kwargs) in refusals(tmp_path).items():
        with pytest.raises(ModelError) as refused:
            import_model(source, weights, classes, "none", **kwargs)
        message = str(refused.value)
        assert isinstance(refused.value, ImportRefused), name
        assert "\n" not in message and message.endswith((".", ")")), (name, message)
        assert not weights.exists(), name
    with pytest.raises(ImportRefused, match="not one of"):
        import_model(tmp_path / "three.keras", weights, list("abc"), "imagenet")
    assert not weights.exists()


def test_two_inputs_are_refused(tmp_path):
    a, b = keras.Input((8, 8, 3)), keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3)(keras.layers.Add()([a, b]))
    model = keras.Model([a, b], keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x)))
    with pytest.raises(ImportRefused, match="2 input"):
        inspect_model(saved(model, tmp_path / "two.keras"))


def test_a_name_already_taken_is_refused(tmp_path):
    source = saved(small_cnn(), tmp_path / "cnn.keras")
    first = import_model(source, tmp_path / "w", list("abc"), "none", name="Mine")
    with pytest.raises(ImportRefused, match="already exists"):
        import_model(source, tmp_path / "w", list("xyz"), "none", name="mine")
    assert first.parent.name == "mine" and load_classifier(first).info.class_names == tuple("abc")


def test_models_this_app_builds_are_not_preprocessed_twice(tmp_path):
    """The fixture saved before #20 and a build_classifier("none") model load as saved."""
    for path in (Path(__file__).parent / "fixtures" / "tiny_v1.keras", tmp_path / "built.keras"):
        if path.parent == tmp_path:
            model = build_classifier("none", Config(image_size=32))
            save_classifier(model, ModelInfo(image_size=32, backbone_weights="none"), path)
        classifier = load_classifier(path)
        assert not any(isinstance(layer, Preprocess) for layer in classifier.model.layers)
        raw = keras.saving.load_model(path, compile=False)
        size = classifier.input_size
        images = np.stack(photos_for(size)).astype(np.float32)
        np.testing.assert_array_equal(classifier.model(images), raw(images))
    # The same built model given --preprocessing none: flattened, the very same outputs.
    given = load_classifier(tmp_path / "built.keras", preprocessing="none")
    assert any(isinstance(layer, Preprocess) for layer in given.model.layers)
    np.testing.assert_allclose(given.model(images), raw(images), rtol=1e-5, atol=1e-5)
    assert propose_preprocessing(raw) == "none"  # CaffePreprocess is inside


def test_a_model_this_app_built_is_refused_a_second_preprocessing(tmp_path):
    path = tmp_path / "built.keras"
    model = build_classifier("none", Config(image_size=32))
    save_classifier(model, ModelInfo(image_size=32, backbone_weights="none"), path)
    with pytest.raises(ImportRefused, match="preprocesses 0-255 pixels inside it: its "):
        load_classifier(path, preprocessing="caffe")  # --preprocessing caffe
    with pytest.raises(ImportRefused, match="preprocess twice"):
        import_model(path, tmp_path / "w", ["cat", "dog"], "rescale")
    assert not (tmp_path / "w").exists()
    # "none" is what it takes: imported, it gives the very outputs it was saved with.
    imported = load_classifier(import_model(path, tmp_path / "w", ["cat", "dog"], "none"))
    images = np.stack(photos_for((32, 32))).astype(np.float32)
    np.testing.assert_allclose(imported.model(images), model(images), rtol=1e-5, atol=1e-5)


def test_an_imported_model_is_loaded_once_and_flattened_once(tmp_path, monkeypatch):
    from core.models import facts, safe_load

    calls = {"load": 0, "flatten": 0}

    def counted(name, function):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(safe_load, "_load", counted("load", safe_load._load))
    monkeypatch.setattr(facts, "flatten_model", counted("flatten", facts.flatten_model))
    path = import_model(saved(small_cnn(), tmp_path / "cnn.keras"), tmp_path, list("abc"), "tf")
    assert calls == {"load": 1, "flatten": 1}
    load_classifier(path)
    assert calls == {"load": 1, "flatten": 2}


def test_a_plain_keras_file_with_flags_needs_no_sidecar(tmp_path):
    model = small_cnn(classes=1, head="sigmoid")
    path = saved(model, tmp_path / "plain.keras")
    classifier = load_classifier(path, ("cat", "dog"), "rescale")
    assert classifier.info.kind == IMPORTED and classifier.info.class_names == ("cat", "dog")
    assert METHODS["Grad-CAM"](classifier.model, ["conv2"])(
        np.zeros((1, 32, 32, 3), np.float32)
    ).maps["conv2"].shape == (1, 13, 13)
    with pytest.raises(ModelError, match="no sidecar"):
        load_classifier(path, preprocessing="rescale")
    # --classes without --preprocessing: asked for, as import-model asks (nothing assumed).
    with pytest.raises(
        ImportRefused, match="^plain.keras has no sidecar, so give --preprocessing"
    ):
        load_classifier(path, ("cat", "dog"))


def test_a_model_computing_channels_first_is_refused_in_one_sentence(tmp_path, capsys):
    """(N, H, W, 3) in, then a Permute and channels_first convolutions (ported from PyTorch, say):
    its conv outputs are (N, C, H, W), which a map would read with the channels as its height."""
    from core.cli.commands import main

    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Permute((3, 1, 2))(inputs)
    x = keras.layers.Conv2D(
        4, 3, padding="same", activation="relu", data_format="channels_first", name="conv_a"
    )(x)
    x = keras.layers.GlobalAveragePooling2D(data_format="channels_first")(x)
    source = saved(keras.Model(inputs, keras.layers.Dense(1)(x)), tmp_path / "first.keras")
    said = "first.keras computes channels_first inside \\(layer 'conv_a'\\): its maps"
    with pytest.raises(ImportRefused, match=said):
        inspect_model(source)
    with pytest.raises(ImportRefused, match=said):
        import_model(source, tmp_path / "w", ["cat", "dog"], "none")
    assert not (tmp_path / "w").exists()
    photo = tmp_path / "a.png"
    photo.write_bytes(png_bytes())
    argv = ["explain", str(photo), "--weights", str(source), "--classes", "cat,dog"]
    assert main([*argv, "--preprocessing", "none", "--out", str(tmp_path / "o")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: first.keras computes channels_first inside (layer 'conv_a')")


@pytest.mark.parametrize("kind", ["bad json", "truncated h5"])
def test_a_damaged_model_file_is_refused_in_one_sentence(tmp_path, kind):
    import zipfile

    if kind == "bad json":
        path = tmp_path / "model.keras"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{not json")
            archive.writestr("model.weights.h5", b"")
    else:
        path = tmp_path / "model.h5"
        whole = saved(small_cnn(), tmp_path / "whole.h5").read_bytes()
        path.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(ImportRefused) as refused:
        inspect_model(path)
    assert "\n" not in str(refused.value) and path.name in str(refused.value)
