"""Models a person brings: check one, store it under weights/imported/<name>/, explain it.

A brought model is saved as it came (a legacy .h5 converted to .keras) beside a sidecar naming its
classes and its preprocessing. Loading it (core.model.load_classifier) builds the one model every
consumer explains: 0-255 RGB in, `Preprocess` (the sidecar's mode), the model's own layers
flattened into one graph (nested backbones' conv layers reachable), logits out (the final softmax
or sigmoid removed). Nothing here changes the loaded model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import keras

from core.cams.base import flatten_model
from core.config import Config
from core.data.classes import DataError, check_class_names
from core.model import (
    IMPORTED,
    CaffePreprocess,
    Classifier,
    ModelError,
    ModelInfo,
    conv_layer_shapes,
    default_layer,
    offered_layers,
    save_classifier,
)
from core.preprocessing import PREPROCESSING, Preprocess
from core.safe_load import ImportRefused, check_shape, load_source

# A model whose input is None x None is shown photos at this size (ResNet-50's and ImageNet's).
FREE_INPUT_SIZE = 224
# keras.applications backbones recognised by a layer name only they have -> (name, preprocessing);
# checked in this order (ResNet50V2 also has conv5_block3_out).
KNOWN_BACKBONES = (
    ("post_relu", "ResNetV2", "tf"),
    ("conv5_block3_out", "ResNet", "caffe"),
    ("block_16_project", "MobileNetV2", "tf"),
    ("conv_pw_13", "MobileNet", "tf"),
    ("block1a_project_conv", "EfficientNet", "none"),
    ("conv5_block16_concat", "DenseNet", "torch"),
    ("block5_conv3", "VGG", "caffe"),
    ("mixed10", "InceptionV3", "tf"),
    ("block14_sepconv2_act", "Xception", "tf"),
)
# Final activations removed so that logits are explained.
ACTIVATIONS = ("softmax", "sigmoid")


@dataclass(frozen=True)
class ModelFacts:
    """What `inspect_model` found in a model file: the form shows it, the import relies on it."""

    input_size: tuple[int, int]  # (height, width) photos are resized to
    size_assumed: bool  # the model takes None x None: input_size is FREE_INPUT_SIZE, by choice
    outputs: int  # units of the output layer: 1 (one sigmoid logit), 2 or K
    activation: str  # the final activation removed to explain logits: sigmoid, softmax or linear
    default_layer: str  # explained unless a person picks another
    layers: tuple[str, ...]  # offered layers, fine to coarse; any 4-D layer may be named too
    preprocessing: str | None  # proposed for a known keras.applications backbone, else None
    description: str  # one line, e.g. "MobileNetV2 backbone, 160 x 160 input, 3 softmax outputs"


def propose_preprocessing(model_or_path: keras.Model | Path) -> str | None:
    """The preprocessing a known keras.applications backbone inside was trained with, else None.

    A guess from layer names (ResNet50: caffe, MobileNetV2: tf, EfficientNet: none, DenseNet:
    torch, ...): the seed article's ResNet-50 was trained with 1/255 ("rescale"), so the form
    proposes and the person confirms. A model this app built ("none": CaffePreprocess inside).
    Raises ImportRefused for a path that is not a loadable Keras file.
    """
    model = model_or_path
    if not isinstance(model, keras.Model):
        model = load_source(Path(model_or_path), Config().max_model_mb * 2**20)
    known = known_backbone(model)
    return known[1] if known else None


def known_backbone(model: keras.Model) -> tuple[str, str] | None:
    """(backbone name, preprocessing) of the keras.applications backbone in `model`, else None."""
    names = set(_layer_names(model))
    if any(isinstance(layer, (CaffePreprocess, Preprocess)) for layer in _all_layers(model)):
        return ("catdog", "none")
    for marker, backbone, mode in KNOWN_BACKBONES:
        if marker in names:
            return backbone, mode
    return None


def _all_layers(model: keras.Model) -> list:
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if isinstance(layer, keras.Model):
            layers.extend(_all_layers(layer))
    return layers


def _layer_names(model: keras.Model) -> list[str]:
    return [layer.name for layer in _all_layers(model)]


def inspect_model(path: Path, max_bytes: int | None = None) -> ModelFacts:
    """Load `path` (safe_mode=True) and say what it is; ImportRefused (one sentence) if unusable.

    Refused: not a .keras or full-model .h5 file, over `max_bytes` (default: the config's cap),
    a Lambda layer or a custom object, more than one input or output, no 4-D layer, a
    multi-unit sigmoid output (multi-label).
    """
    path = Path(path)
    model = load_source(path, max_bytes)
    return facts_of(model, path.name)


def facts_of(model: keras.Model, name: str) -> ModelFacts:
    """The ModelFacts of a loaded model (`name` for the sentences); ImportRefused if unusable."""
    check_shape(model, name)
    size, assumed = input_size_of(model)
    activation = final_activation(model)
    outputs = int(model.output_shape[-1])
    if activation == "sigmoid" and outputs > 1:
        raise ImportRefused(
            f"{name} ends in {outputs} sigmoid units (several labels per photo); this app "
            "explains one sigmoid unit, softmax units or logits."
        )
    flat = explained_model(model, "none", size)
    layers = offered_layers(flat)
    if not layers:
        raise ImportRefused(
            f"{name} has no layer with a 4-D (height, width, channels) output, so there is no map "
            "to draw: Grad-CAM needs a convolutional model."
        )
    known = known_backbone(model)
    shown = f"{size[0]} x {size[1]}" + (" (the model takes any size: 224 chosen)" * assumed)
    description = (
        f"{known[0] if known else 'Unrecognised'} backbone, {shown} input, {outputs} "
        f"{activation} output{'s' if outputs > 1 else ''}, {len(conv_layer_shapes(flat))} "
        "4-D layers"
    )
    return ModelFacts(
        input_size=size,
        size_assumed=assumed,
        outputs=outputs,
        activation=activation,
        default_layer=default_layer(layers, flat),
        layers=tuple(layers),
        preprocessing=known[1] if known else None,
        description=description,
    )


def input_size_of(model: keras.Model) -> tuple[tuple[int, int], bool]:
    """((height, width) photos are resized to, True when the model left it free: None x None)."""
    height, width = model.input_shape[1:3]
    free = height is None or width is None
    return (height or FREE_INPUT_SIZE, width or FREE_INPUT_SIZE), free


def _last_layer(model: keras.Model):
    """The layer that makes the model's output, looked for inside nested models too."""
    if isinstance(model, keras.Sequential):
        layer = model.layers[-1]
    else:
        layer = model.outputs[0]._keras_history.operation
    return _last_layer(layer) if isinstance(layer, keras.Model) else layer


def _activation(layer) -> str:
    """ "softmax", "sigmoid" or "linear": what the layer's activation does to its logits."""
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    if isinstance(layer, (keras.layers.Dense, keras.layers.Activation)):
        name = keras.activations.serialize(layer.activation)
        name = name if isinstance(name, str) else name.get("config", {}).get("name", "")
        return name if name in ACTIVATIONS else "linear"
    return "linear"


def final_activation(model: keras.Model) -> str:
    """The activation of the model's last layer: "softmax", "sigmoid" or "linear" (logits)."""
    return _activation(_last_layer(model))


def explained_model(model: keras.Model, preprocessing: str, size: tuple[int, int]) -> keras.Model:
    """One flat keras.Model, 0-255 RGB (N, h, w, 3) in, logits out: what every consumer explains.

    `Preprocess(preprocessing)` in front; nested models inlined (core.cams.flatten_model, whose
    layers are clones: `model` is not changed); the final softmax or sigmoid removed, so scores are
    logits: a Softmax or Activation layer is dropped, a Dense layer's activation replaced by a
    linear twin with the same weights.
    """
    # The names are unlikely to be the model's own (the app's models have a "preprocess" layer).
    inputs = keras.Input((*size, 3), name="catdog_image")
    preprocess = Preprocess(preprocessing, name="catdog_preprocess")
    wrapped = keras.Model(inputs, model(preprocess(inputs)))
    flat = flatten_model(wrapped)
    last = flat.outputs[0]._keras_history.operation
    if _activation(last) == "linear":
        return flat
    if isinstance(last, keras.layers.Dense):
        twin = keras.layers.Dense.from_config({**last.get_config(), "activation": "linear"})
        logits = twin(last.input)
        twin.set_weights(last.get_weights())
    else:
        logits = last.input
    return keras.Model(flat.input, logits, name=f"{model.name}_logits")


def _slug(name: str) -> str:
    """A folder name from a person's model name: letters, digits, '-' and '_'."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.casefold()).strip("-_")[:60]
    if not slug:
        raise ImportRefused(f"The name {name!r} has no letter or digit: give the model a name.")
    return slug


def _check_outputs(facts: ModelFacts, classes: tuple[str, ...], name: str) -> None:
    k = len(classes)
    if facts.outputs not in ({1, 2} if k == 2 else {k}) or (
        facts.outputs == 1 and facts.activation == "softmax"
    ):
        expected = "1 (sigmoid) or 2" if k == 2 else str(k)
        raise ImportRefused(
            f"{name} gives {facts.outputs} {facts.activation} output(s), but {k} classes were "
            f"named ({', '.join(classes[:3])}{', …' if k > 3 else ''}): {expected} expected."
        )


def import_model(
    source: Path,
    weights_dir: Path,
    classes: list[str],
    preprocessing: str,
    name: str | None = None,
    max_bytes: int | None = None,
) -> Path:
    """Store a person's model as weights_dir/imported/<name>/model.keras + model.json.

    `classes` in output order; `preprocessing` a PREPROCESSING name; `name` defaults to the file's
    stem; `max_bytes` to the config's cap (CATDOG_MAX_MODEL_MB). A legacy .h5 is converted to
    .keras. Returns the model.keras path. Raises ImportRefused (ModelError), one sentence, with
    nothing written: every refusal of `inspect_model`, a reserved or repeated class name, an
    unknown preprocessing, an output count that does not match the classes, a name already taken.
    """
    source = Path(source)
    if preprocessing not in PREPROCESSING:
        raise ImportRefused(
            f"Preprocessing {preprocessing!r} is not one of {', '.join(PREPROCESSING)}."
        )
    try:
        classes = check_class_names([c.strip() for c in classes], "The class list")
    except DataError as error:
        raise ImportRefused(str(error)) from None
    folder = Path(weights_dir) / IMPORTED / _slug(name or source.stem)
    if folder.exists():
        raise ImportRefused(
            f"An imported model named {folder.name!r} already exists: choose another name."
        )
    model = load_source(source, max_bytes)
    facts = facts_of(model, source.name)
    _check_outputs(facts, classes, source.name)
    known = known_backbone(model)
    info = ModelInfo(
        kind=IMPORTED,
        class_names=classes,
        image_size=max(facts.input_size),
        input_size=facts.input_size,
        backbone=known[0] if known else "unknown",
        backbone_weights=source.name,
        preprocessing=preprocessing,
        extra={
            "source": source.name,
            "activation": facts.activation,
            "size_assumed": facts.size_assumed,
        },
    )
    return save_classifier(model, info, folder / "model.keras")


def imported_models(weights_dir: Path) -> list[Path]:
    """The model.keras of every imported model under weights_dir/imported/, by folder name."""
    root = Path(weights_dir) / IMPORTED
    if not root.is_dir():
        return []
    return sorted(p / "model.keras" for p in root.iterdir() if (p / "model.keras").is_file())


def explained_classifier(model: keras.Model, info: ModelInfo, name: str) -> Classifier:
    """The Classifier of a loaded imported model (or one given --classes/--preprocessing).

    Its model is `explained_model`'s: 0-255 RGB at the sidecar's input size, logits out. Raises
    ModelError (one sentence) when the model does not fit the sidecar.
    """
    facts = facts_of(model, name)
    _check_outputs(facts, info.class_names, name)
    size = info.input_size or (info.image_size, info.image_size)
    takes = tuple(model.input_shape[1:3])
    if any(t is not None and t != s for t, s in zip(takes, size)):
        raise ModelError(
            f"{name} takes {takes[0]} x {takes[1]} photos, but its sidecar says "
            f"{size[0]} x {size[1]}."
        )
    return Classifier(explained_model(model, info.preprocessing, tuple(size)), info)


def info_for(model: keras.Model, classes, preprocessing: str | None, name: str) -> ModelInfo:
    """The ModelInfo of a model given with --classes and --preprocessing and no sidecar."""
    size, assumed = input_size_of(model)
    known = known_backbone(model)
    return ModelInfo(
        kind=IMPORTED,
        class_names=tuple(classes),
        image_size=max(size),
        input_size=size,
        backbone=known[0] if known else "unknown",
        backbone_weights=name,
        preprocessing=preprocessing or "none",
        extra={"size_assumed": assumed},
    )
