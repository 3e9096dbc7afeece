"""What a person's model is, read before anything is stored: its input size, outputs and final
activation, the layers it offers and its default one, a proposed preprocessing; and the one model
every consumer explains (`explained_model`): 0-255 RGB in, `Preprocess` (the sidecar's mode), the
model's own layers flattened into one graph (nested backbones' conv layers reachable), logits out
(the final softmax or sigmoid removed). Nothing here changes the model it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras

from core.config import settings
from core.models.graph import (
    default_layer,
    flatten_model,
    is_transformer,
    map_grids,
    offered_layers,
)
from core.models.keras_internals import producer
from core.models.preprocessing import PREPROCESSING, CaffePreprocess, Preprocess
from core.models.safe_load import ImportRefused, check_shape, load_source
from core.models.tokens import block_outputs

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


# Activation layers other than Softmax, read by their class name (refused as a final layer).
ACTIVATION_LAYERS = (
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.PReLU,
)


# Final activations whose output is explained as it is: logits, or log_softmax's (logits less
# their logsumexp: the same softmax probabilities).
LOGITS = ("linear", "log_softmax")


@dataclass(frozen=True)
class ModelFacts:
    """What `inspect_model` found in a model file: the form shows it, the import relies on it."""

    input_size: tuple[int, int]  # (height, width) photos are resized to
    size_assumed: bool  # the model takes None x None: input_size is FREE_INPUT_SIZE, by choice
    outputs: int  # units of the output layer: 1 (one sigmoid logit), 2 or K
    activation: str  # the final one: sigmoid or softmax (removed), linear or log_softmax (kept)
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
        model = load_source(Path(model_or_path), settings().max_model_mb * 2**20)
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
    return examined(model, name)[0]


def examined(
    model: keras.Model, name: str, preprocessing: str = "none", size: tuple[int, int] | None = None
) -> tuple[ModelFacts, keras.Model]:
    """The model's facts and `explained_model(model, preprocessing, size)`, built once.

    `size` defaults to the model's own (`input_size_of`). ImportRefused (one sentence) for a model
    that cannot be explained: see `inspect_model`, and a final activation that is neither
    softmax, sigmoid nor logits (tanh, relu, ...: no class probabilities to read).
    """
    check_shape(model, name)
    own_size, assumed = input_size_of(model)
    size = tuple(size or own_size)
    activation = final_activation(model)
    outputs = int(model.output_shape[-1])
    if activation not in (*ACTIVATIONS, *LOGITS):
        raise ImportRefused(
            f"{name} ends in a {activation} activation, which gives no class probabilities: "
            "this app explains a model ending in softmax, sigmoid or logits (no activation)."
        )
    if activation == "sigmoid" and outputs > 1:
        raise ImportRefused(
            f"{name} ends in {outputs} sigmoid units (several labels per photo); this app "
            "explains one sigmoid unit, softmax units or logits."
        )
    flat = explained_model(model, preprocessing, size)
    layers = offered_layers(flat)
    if not layers:
        raise ImportRefused(
            f"{name} has no layer with a map (a 4-D (height, width, channels) output, or "
            "transformer tokens on a patch grid), so there is no map to draw."
        )
    known = known_backbone(model)
    shown = f"{size[0]} x {size[1]}" + (" (the model takes any size: 224 chosen)" * assumed)
    description = (
        f"{known[0] if known else 'Unrecognised'} backbone, {shown} input, {outputs} "
        f"{activation} output{'s' if outputs > 1 else ''}, {_maps_described(flat)}"
    )
    facts = ModelFacts(
        input_size=size,
        size_assumed=assumed,
        outputs=outputs,
        activation=activation,
        default_layer=default_layer(layers, flat),
        layers=tuple(layers),
        preprocessing=known[1] if known else None,
        description=description,
    )
    return facts, flat


def _maps_described(model: keras.Model) -> str:
    """"53 4-D layers", or for a transformer its blocks and how its tokens are read."""
    grids = map_grids(model)
    tokens = [grid for grid in grids.values() if grid.tokens]
    if not is_transformer(model, grids):
        return f"{len(grids)} 4-D layers"
    blocks = len(block_outputs(model, grids))
    said = f"a transformer of {blocks} block{'s' * (blocks != 1)}"
    if tokens:
        grid = tokens[-1]
        extra = f" after {grid.extra} extra token(s), dropped" if grid.extra else ""
        how = "assumed from the input's shape" if grid.assumed else "the patch embedding's"
        said += f" whose tokens are read as {grid.height} × {grid.width} patches{extra} ({how})"
    last_block = (block_outputs(model, grids) or [None])[-1]
    if last_block and default_layer(grids, model) != last_block:
        said += (
            "; after its last attention no patch token reaches the score (a class-token head), so "
            "the input to that attention is explained by default"
        )
    return said


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
        layer = producer(model.outputs[0])
    return _last_layer(layer) if isinstance(layer, keras.Model) else layer


def _activation(layer) -> str:
    """The name of the layer's activation ("softmax", "sigmoid", "tanh", ...); "linear" for none.

    A Softmax layer is "softmax"; an activation layer (ReLU, ELU, ...) its own name; a layer
    with an `activation` (Dense, Conv2D, Activation) that activation's; any other "linear".
    """
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    if isinstance(layer, ACTIVATION_LAYERS):
        return type(layer).__name__.lower()
    if not hasattr(layer, "activation"):
        return "linear"
    name = keras.activations.serialize(layer.activation)
    if isinstance(name, dict):  # a layer (class_name) or a function ("function", its name)
        function = name.get("class_name") == "function"
        name = name.get("config", {}).get("name") if function else name.get("class_name")
    return str(name or "linear").lower()


def final_activation(model: keras.Model) -> str:
    """The activation of the model's last layer: "softmax", "sigmoid", "linear" (logits), ..."""
    return _activation(_last_layer(model))


def explained_model(model: keras.Model, preprocessing: str, size: tuple[int, int]) -> keras.Model:
    """One flat keras.Model, 0-255 RGB (N, h, w, 3) in, logits out: what every consumer explains.

    `Preprocess(preprocessing)` in front; nested models inlined (graph.flatten_model, whose
    layers are clones: `model` is not changed); the final softmax or sigmoid removed, so scores are
    logits: a Softmax or Activation layer is dropped, a Dense layer's activation replaced by a
    linear twin with the same weights.
    """
    # The names are unlikely to be the model's own (the app's models have a "preprocess" layer).
    inputs = keras.Input((*size, 3), name="catdog_image")
    preprocess = Preprocess(preprocessing, name="catdog_preprocess")
    wrapped = keras.Model(inputs, model(preprocess(inputs)))
    flat = flatten_model(wrapped)
    last = producer(flat.outputs[0])
    if _activation(last) not in ACTIVATIONS:
        return flat
    if isinstance(last, keras.layers.Dense):
        twin = keras.layers.Dense.from_config({**last.get_config(), "activation": "linear"})
        logits = twin(last.input)
        twin.set_weights(last.get_weights())
    elif isinstance(last, (keras.layers.Activation, keras.layers.Softmax)):
        logits = last.input
    else:
        raise ImportRefused(
            f"{model.name} ends in a {type(last).__name__} layer with a {_activation(last)} "
            "activation inside: end it in a Dense layer or a separate Softmax or Activation layer."
        )
    return keras.Model(flat.input, logits, name=f"{model.name}_logits")


def preprocessing_question(model: keras.Model) -> str:
    """One sentence asking for the preprocessing, with the proposal for `model` if there is one."""
    proposed = propose_preprocessing(model)
    guess = (
        f"it looks like a backbone trained with '{proposed}'"
        if proposed
        else "no known backbone was recognised"
    )
    return (
        f"Give --preprocessing ({', '.join(PREPROCESSING)}): {guess}; a model trained with "
        "1/255 takes 'rescale'."
    )
