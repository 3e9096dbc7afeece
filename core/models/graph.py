"""How a model's graph is read: flattened into one graph, its layers with a map, those offered
for explaining and the default one.

A layer has a map when it outputs (N, H, W, C), or transformer tokens on a patch grid
(core/models/tokens.py). No model is changed here.
"""

from __future__ import annotations

import functools

import keras

from core.config import STAGE_LAYERS
from core.models.keras_internals import run_graph
from core.models.preprocessing import CaffePreprocess, Preprocess
from core.models.tokens import (
    FREE_SIDE,
    Grid,
    has_attention,
    token_grids,
    transformer_layers,
)

# ResNet-50's 7x7 output: Selvaraju et al.'s layer.
LAST_STAGE = STAGE_LAYERS[-1]

# Layers only a deeper ResNet (101, 152) or a ResNetV2 has: their stages are not ResNet-50's.
NOT_RESNET50 = ("conv4_block7_out", "post_relu")

# 4-D layers never offered by default: they pad, crop or reorder a map, and add no feature.
NOT_FEATURES = (
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.Permute,
    keras.layers.Reshape,
    keras.layers.Rescaling,
    keras.layers.Normalization,
)

def flatten_model(model: keras.Model) -> keras.Model:
    """A copy of `model` with its nested sub-models inlined: same layers (cloned) and same weights.

    The usual transfer-learning recipe nests the backbone as ONE layer, which hides its conv
    outputs ("Graph disconnected", keras-team/keras-io#1999). Re-running the graph op by op on a
    new input gives a flat model in which every layer's output is reachable. Layers are cloned, not
    reused, so each has one output tensor and the caller's model is left exactly as it was.
    """

    def call(operation, *args, **kwargs):
        if isinstance(operation, keras.Sequential):
            x = args[0]
            for layer in operation.layers:
                x = call(layer, x)
            return x
        if isinstance(operation, keras.Model):
            # Keras' graph walker: every operation goes through `call`, so nested models unfold.
            return run_graph(operation, args[0], lambda op: functools.partial(call, op))
        if not isinstance(operation, keras.layers.Layer):
            # An op called on a symbolic tensor (`x[:, 0]`, keras.ops.*): stateless, called again.
            return operation(*args, **kwargs)
        clone = operation.__class__.from_config(operation.get_config())
        outputs = clone(*args, **kwargs)
        clone.set_weights(operation.get_weights())
        return outputs

    inputs = keras.Input(model.input_shape[1:])
    return keras.Model(inputs, call(model, inputs), name=f"{model.name}_flat")

def offered_layers(model: keras.Model) -> dict[str, tuple[int, int]]:
    """Layers offered for explaining, name -> (height, width), in graph order.

    ResNet-50's four stages (a ResNet-50 only: `resnet50_shaped`); a transformer's blocks
    (`tokens.transformer_layers`); else the last 4-D layer of each spatial resolution (five for
    MobileNetV2: 112, 56, 28, 14 and 7 at 224 px), padding and rescaling layers left out, and the
    default layer. Any other layer with a map (`map_grids`) may still be named.
    """
    shapes = conv_layer_shapes(model)
    if resnet50_shaped(shapes):
        return {name: shapes[name] for name in STAGE_LAYERS}
    grids = map_grids(model)
    if is_transformer(model, grids):
        return {name: grids[name].size for name in transformer_layers(model, grids)[0]}
    last = {}  # (h, w) -> the last feature layer at that resolution
    for name, size in shapes.items():
        if not isinstance(model.get_layer(name), NOT_FEATURES):
            last[size] = name
    kept = set(last.values()) | ({default_layer(shapes, model)} if shapes else set())
    return {name: size for name, size in shapes.items() if name in kept}

def default_layer(layers, model: keras.Model | None = None) -> str:
    """The layer of `layers` explained unless a person picks another.

    ResNet-50's last stage (Selvaraju et al.'s choice); a transformer's last block whose patches
    reach the score (`tokens.transformer_layers`); else, with the `model` given, its last
    4-D layer that is no pooling, padding or reshaping layer (the last convolutional output
    before pooling: post_relu in a ResNetV2); else the last of `layers`.
    """
    if resnet50_shaped(layers if model is None else conv_layer_shapes(model)):
        return LAST_STAGE
    if model is not None and is_transformer(model, grids := map_grids(model)):
        return transformer_layers(model, grids)[1]
    names = list(layers)
    if model is not None:
        skipped = (*NOT_FEATURES, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
        features = [n for n in names if not isinstance(model.get_layer(n), skipped)]
        names = features or names
    return names[-1]

def resnet50_shaped(names) -> bool:
    """Whether layer `names` are ResNet-50's: its four stages, none of a ResNet-101/152 or V2."""
    names = set(names)
    return set(STAGE_LAYERS) <= names and not names & set(NOT_RESNET50)

def map_grids(model: keras.Model) -> dict[str, Grid]:
    """Every layer with a map, in graph order, -> its Grid: the 4-D (N, H, W, C) layers
    (`conv_layer_shapes`) and the token layers on a patch grid (`tokens.token_grids`)."""
    shapes = conv_layer_shapes(model)
    size = tuple(side or FREE_SIDE for side in model.input_shape[1:3])
    grids = {name: Grid(*hw) for name, hw in shapes.items()} | token_grids(model, shapes, size)
    return {layer.name: grids[layer.name] for layer in model.layers if layer.name in grids}

def is_transformer(model: keras.Model, grids: dict[str, Grid]) -> bool:
    """Whether `model` has attention layers or token maps: its blocks are offered."""
    return has_attention(model) or any(grid.tokens for grid in grids.values())

def conv_layer_shapes(model: keras.Model) -> dict[str, tuple[int, int]]:
    """Every layer with a 4-D (N, H, W, C) output, in graph order, mapped to (H, W).

    The input and the preprocessing layers (0-255 pixels rescaled) are not among them.
    """
    shapes = {}
    for layer in model.layers:
        if isinstance(layer, (keras.layers.InputLayer, CaffePreprocess, Preprocess)):
            continue
        shape = getattr(layer.output, "shape", ())
        if len(shape) == 4:
            shapes[layer.name] = (int(shape[1]), int(shape[2]))
    return shapes
