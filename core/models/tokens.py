"""Transformers' maps: tokens read on their patch grid, blocks found, the default layer chosen.

A ViT's blocks output tokens (N, T, C): T = extra + h * w, the extra ones (a class token, DeiT's
distillation token, register tokens) ahead of the h x w patches, as in timm and DINOv2. A map is
the patches' tokens reshaped to (N, h, w, C), the extra ones dropped: pytorch-grad-cam's and
torch-cam's `reshape_transform`. The grid is the model's own where a 4-D layer has h * w cells
(the patch embedding's convolution); else it is assumed from the input's aspect ratio, and said.

A block is what follows one attention layer up to the next (Keras' MultiHeadAttention or
GroupedQueryAttention); its output is its last residual sum (Add). A class-token ViT reads the
patches only through the class token: after its last attention no patch token reaches the score,
so Grad-CAM there is zero; the default layer is the last whose patch tokens reach the score
(`reaching`), checked with one gradient pass on a random photo.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

# Tokens ahead of the patches that a grid drops: a class token (ViT), a distillation token too
# (DeiT), and up to four registers beside them (Darcet et al. 2024's ViT with registers).
MAX_EXTRA_TOKENS = 8
# An assumed grid's height / width may differ from the input's by this share (padding, rounding).
ASPECT_TOLERANCE = 0.1
ATTENTION = (keras.layers.MultiHeadAttention, keras.layers.GroupQueryAttention)
# Layers that reshape, normalise or drop tokens: never a block's output, nor the default.
NOT_FEATURES = (keras.layers.Reshape, keras.layers.Permute, keras.layers.Dropout)
# A photo side for models that take any size, in the reaching check only.
FREE_SIDE = 224


@dataclass(frozen=True)
class Grid:
    """Where a layer's map lies: height x width cells; for tokens, how they are read."""

    height: int
    width: int
    tokens: bool = False  # the layer outputs (N, T, C) tokens, reshaped to (N, h, w, C)
    extra: int = 0  # tokens ahead of the patches, dropped
    assumed: bool = False  # no 4-D layer has this grid: taken from the input's aspect ratio

    @property
    def size(self) -> tuple[int, int]:
        return self.height, self.width

    def describe(self, layer: str) -> str:
        """One sentence on how the tokens of `layer` are read (the grid assumed or found)."""
        dropped = f", the {self.extra} token(s) ahead of them dropped" if self.extra else ""
        source = (
            "assumed from the input's shape: no layer of the model has that grid"
            if self.assumed
            else "the model's patch grid"
        )
        return (
            f"`{layer}` outputs {self.extra + self.height * self.width} tokens, read as "
            f"{self.height} × {self.width} patches{dropped} ({source})."
        )


def to_grid(tensor: tf.Tensor, grid: Grid) -> tf.Tensor:
    """(N, T, C) tokens -> (N, h, w, C) patches, the extra tokens dropped; a 4-D map as it is."""
    if not grid.tokens:
        return tensor
    return tf.reshape(tensor[:, grid.extra :, :], (-1, grid.height, grid.width, tensor.shape[-1]))


def token_grids(
    model: keras.Model, maps: dict[str, tuple[int, int]], input_size: tuple[int, int]
) -> dict[str, Grid]:
    """Each (N, T, C) layer of `model` whose tokens lie on a patch grid -> its Grid.

    `maps` are the model's 4-D layers, name -> (h, w), in graph order; `input_size` the photo's
    (height, width). The grid of the latest 4-D layer before the tokens with T - extra cells wins.
    """
    grids, seen = {}, []
    for layer in model.layers:
        if layer.name in maps:
            seen.append(maps[layer.name])
            continue
        shape = getattr(getattr(layer, "output", None), "shape", ())
        if len(shape) == 3 and shape[1] is not None:
            grid = _grid_of(int(shape[1]), seen, input_size)
            if grid:
                grids[layer.name] = grid
    return grids


def _grid_of(tokens: int, seen: list, input_size: tuple[int, int]) -> Grid | None:
    for extra in range(min(MAX_EXTRA_TOKENS, tokens - 4) + 1):
        for height, width in reversed(seen):
            if height * width == tokens - extra:
                return Grid(height, width, True, extra)
    aspect = input_size[0] / input_size[1]
    for extra in range(min(MAX_EXTRA_TOKENS, tokens - 4) + 1):
        patches = tokens - extra
        shapes = [(h, patches // h) for h in range(2, patches // 2 + 1) if patches % h == 0]
        close = [hw for hw in shapes if abs(hw[0] / hw[1] - aspect) <= ASPECT_TOLERANCE * aspect]
        if close:
            height, width = min(close, key=lambda hw: abs(math.log(hw[0] / hw[1] / aspect)))
            return Grid(height, width, True, extra, assumed=True)
    return None


def has_attention(model: keras.Model) -> bool:
    return any(isinstance(layer, ATTENTION) for layer in model.layers)


def block_outputs(model: keras.Model, grids: dict[str, Grid]) -> list[str]:
    """The output of each attention block among the map layers `grids`, in graph order.

    A block runs from one attention layer to the next; its output is its last residual sum (Add),
    else its last map layer that does not reshape or drop. With no attention layer (blocks that
    are layers of their own, MLP-Mixer's), every token layer that is a residual sum or a layer
    from outside Keras.
    """
    layers = model.layers
    starts = [i for i, layer in enumerate(layers) if isinstance(layer, ATTENTION)]
    if not starts:
        return [
            layer.name
            for layer in layers
            if layer.name in grids
            and grids[layer.name].tokens
            and (isinstance(layer, keras.layers.Add) or not _is_keras(layer))
        ]
    outputs = []
    for start, end in zip(starts, [*starts[1:], len(layers)]):
        inside = [layer for layer in layers[start + 1 : end] if layer.name in grids]
        sums = [layer for layer in inside if isinstance(layer, keras.layers.Add)]
        features = [layer for layer in inside if not isinstance(layer, NOT_FEATURES)]
        if last := (sums or features)[-1:]:
            outputs.append(last[0].name)
    return outputs


def _is_keras(layer) -> bool:
    return type(layer).__module__.startswith("keras")


_REACHING: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def reaching(model: keras.Model, grids: dict[str, Grid]) -> frozenset[str]:
    """The layers of `grids` whose patch cells reach the model's output: a non-zero gradient.

    One forward and backward pass on a random photo (0-255, seeded), the logits weighed by random
    signs so that no sum cancels; computed once per model. After a class-token ViT's last
    attention, the patch tokens never reach the score and are left out.
    """
    if model in _REACHING:
        return _REACHING[model]
    names = list(grids)
    probe = keras.Model(model.inputs, [*(model.get_layer(n).output for n in names), model.output])
    height, width = (side or FREE_SIDE for side in model.input_shape[1:3])
    rng = np.random.default_rng(0)
    photo = tf.constant(rng.uniform(0, 255, (1, height, width, 3)), tf.float32)
    with tf.GradientTape() as tape:
        *maps, logits = probe(photo, training=False)
        weights = tf.constant(rng.choice([-1.0, 1.0], logits.shape[-1]), logits.dtype)
        score = tf.reduce_sum(logits * weights)
    gradients = tape.gradient(score, maps)
    found = frozenset(
        name
        for name, gradient in zip(names, gradients)
        if gradient is not None
        and float(tf.reduce_max(tf.abs(to_grid(tf.cast(gradient, tf.float32), grids[name])))) > 0
    )
    _REACHING[model] = found
    return found


def transformer_layers(model: keras.Model, grids: dict[str, Grid]) -> tuple[list[str], str]:
    """(the layers offered, the default) of a model with attention or tokens.

    Offered: each block's output whose patches reach the score, and the default. The default: the
    last block's output if its patches reach the score; else the last map layer whose patches do
    (a class-token ViT: its last block's input to attention, pytorch-grad-cam's `norm1`).
    """
    reached = reaching(model, grids)
    every_block = block_outputs(model, grids)
    blocks = [name for name in every_block if name in reached]
    last_block = (every_block or [None])[-1]
    if last_block in reached:
        default = last_block
    else:
        candidates = [
            name
            for name in grids
            if name in reached and not isinstance(model.get_layer(name), NOT_FEATURES)
        ]
        default = (candidates or blocks or list(grids))[-1]
    offered = [name for name in grids if name in blocks or name == default]
    return offered, default
