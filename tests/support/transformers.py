"""Transformers built from Keras layers, as people build them: ViTs (a class token or none, extra
tokens, any patch size), one whose patches come from reshaping the photo, and a Swin-shaped model
whose windows attend inside (N, H, W, C) maps. Random weights; keras-hub is not used (it pulls a
second TensorFlow beside tensorflow-cpu)."""

from __future__ import annotations

from pathlib import Path

import keras

from tests.support.vit_layers import ClassTokenPositions

# The operator's module that defines ClassTokenPositions (--custom-objects, CATDOG_CUSTOM_OBJECTS).
VIT_LAYERS = Path(__file__).with_name("vit_layers.py")


def block(x, heads: int, width: int, index: int, mlp: int = 0):
    """A pre-norm transformer block (ViT's): x + attention(norm(x)), then x + MLP(norm(x)), the
    MLP `mlp` wide (default twice the width; ViT-B's is four times)."""
    y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block{index}_norm1")(x)
    y = keras.layers.MultiHeadAttention(heads, width // heads, name=f"block{index}_attention")(
        y, y
    )
    x = keras.layers.Add(name=f"block{index}_attended")([x, y])
    y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"block{index}_norm2")(x)
    y = keras.layers.Dense(mlp or 2 * width, activation="gelu", name=f"block{index}_mlp1")(y)
    y = keras.layers.Dense(width, name=f"block{index}_mlp2")(y)
    return keras.layers.Add(name=f"block{index}_out")([x, y])


def vit(
    size: tuple[int, int] = (32, 32),
    patch: int = 8,
    extra: int = 1,
    blocks: int = 2,
    width: int = 16,
    heads: int = 2,
    classes: int = 3,
    seed: int = 0,
    mlp: int = 0,
) -> keras.Model:
    """A ViT: a Conv2D patch embedding, `extra` tokens ahead of the patches (1: a class token,
    whose final state the head reads), `blocks` blocks; with extra=0 the head averages the
    tokens. 0-255 RGB in (rescaled inside), logits out."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((*size, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, -1, name="rescale")(inputs)
    x = keras.layers.Conv2D(width, patch, patch, name="patch_embedding")(x)
    x = keras.layers.Reshape((-1, width), name="patch_tokens")(x)
    x = ClassTokenPositions(extra, name="tokens_and_positions")(x)
    for index in range(blocks):
        x = block(x, heads, width, index, mlp)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    pooled = x[:, 0] if extra else keras.layers.GlobalAveragePooling1D(name="pool")(x)
    logits = keras.layers.Dense(classes, name="head")(pooled)
    return keras.Model(inputs, logits, name=f"vit_p{patch}_e{extra}")


def vit_reshaped_patches(size: int = 32, patch: int = 8, width: int = 16) -> keras.Model:
    """A ViT whose patches are cut by reshaping the photo (no 4-D layer has the patch grid), and
    whose head averages the tokens."""
    keras.utils.set_random_seed(1)
    cells = size // patch
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.layers.Reshape((cells, patch, cells, patch, 3), name="cut")(x)
    x = keras.layers.Permute((1, 3, 2, 4, 5), name="patches_first")(x)
    x = keras.layers.Reshape((cells * cells, patch * patch * 3), name="flat_patches")(x)
    x = keras.layers.Dense(width, name="patch_embedding")(x)
    x = ClassTokenPositions(0, name="positions")(x)
    x = block(x, 2, width, 0)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x), name="vit_reshaped")


def swin_shaped(size: int = 32, width: int = 16, window: int = 4) -> keras.Model:
    """Swin-shaped: (N, H, W, C) maps whose windows attend inside (MultiHeadAttention over a
    window's cells), two stages with a patch merging between; the head averages the last map."""
    keras.utils.set_random_seed(2)
    inputs = keras.Input((size, size, 3), name="image")
    x = keras.layers.Rescaling(1 / 127.5, -1, name="rescale")(inputs)
    x = keras.layers.Conv2D(width, 4, 4, name="patch_embedding")(x)
    for stage in range(2):
        if stage:
            x = keras.layers.Conv2D(2 * width, 2, 2, name="patch_merging")(x)
            width *= 2
        x = window_block(x, window, width, stage)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x), name="swin_shaped")


def window_block(x, window: int, width: int, index: int):
    """x + window attention(norm(x)), then x + MLP(norm(x)), on an (N, H, W, C) map."""
    height, breadth = x.shape[1], x.shape[2]
    window = min(window, height)
    rows, columns = height // window, breadth // window
    y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"stage{index}_norm1")(x)
    y = keras.layers.Reshape((rows, window, columns, window, width))(y)
    y = keras.layers.Permute((1, 3, 2, 4, 5))(y)
    y = keras.layers.Reshape((rows * columns, window * window, width))(y)
    y = keras.layers.MultiHeadAttention(
        2, width // 2, attention_axes=(2,), name=f"stage{index}_window_attention"
    )(y, y)
    y = keras.layers.Reshape((rows, columns, window, window, width))(y)
    y = keras.layers.Permute((1, 3, 2, 4, 5))(y)
    y = keras.layers.Reshape((height, breadth, width))(y)
    x = keras.layers.Add(name=f"stage{index}_attended")([x, y])
    y = keras.layers.LayerNormalization(epsilon=1e-6, name=f"stage{index}_norm2")(x)
    y = keras.layers.Dense(2 * width, activation="gelu", name=f"stage{index}_mlp1")(y)
    y = keras.layers.Dense(width, name=f"stage{index}_mlp2")(y)
    return keras.layers.Add(name=f"stage{index}_out")([x, y])
