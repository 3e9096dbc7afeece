"""Keras models built in code: the tiny 8x8 classifier most tests use, and the hand-set golden one.

`reference_map` is tf-keras-vis's map for the same score, the independent computation the parity
tests compare ours with.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from core.models.build import head_units  # noqa: E402
from core.models.preprocessing import CaffePreprocess  # noqa: E402

TINY_SIZE = 8  # the tiny model's input side, in pixels
RESNET_SEED = 0  # the random ResNet-50's weights (no ImageNet download here)


def tiny_model(seed: int = 0, dropout: float = 0.5, classes: int = 2) -> keras.Model:
    """8x8x3 in, two named convs (8x8 and 4x4), pooling, dropout, a logit head; seeded.

    Two classes: one logit, as the app builds it; K > 2: K logits.
    """
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((TINY_SIZE, TINY_SIZE, 3), name="image")
    x = CaffePreprocess(name="preprocess")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_a")(x)
    x = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)  # inference mode must switch it off
    logit = keras.layers.Dense(head_units(classes), name="logit")(x)
    return keras.Model(inputs, logit, name="tiny")


def golden_model() -> keras.Model:
    """4x4x1 input -> two all-ones 3x3 filters -> channel-first flatten -> +-1 dense.

    The filters' biases are -50 and -75, followed by ReLU.
    """
    inputs = keras.Input((4, 4, 1))
    conv = keras.layers.Conv2D(2, 3, activation="relu", name="conv")
    x = conv(inputs)
    # (2, 2, 2) channel-first, so the dense weights read per channel
    x = keras.layers.Permute((3, 1, 2))(x)
    x = keras.layers.Flatten()(x)
    dense = keras.layers.Dense(1, use_bias=False)
    logit = dense(x)
    conv.set_weights([np.ones((3, 3, 1, 2)), np.array([-50.0, -75.0])])
    dense.set_weights([np.array([[1, 1, 1, -1, 1, -1, -1, -1]], dtype=np.float32).T])
    return keras.Model(inputs, logit)


def sequential_cnn(classes: int = 3, size: int = 32) -> keras.Model:
    """A small Sequential CNN with a softmax head, as a notebook would make one."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="avg_pool"),
            keras.layers.Dense(classes, activation="softmax", name="probabilities"),
        ],
        name="small_cnn",
    )


def mobilenet_v2(classes: int = 2) -> keras.Model:
    """MobileNetV2 (random weights, 160 px), pooled, with a softmax head on its own graph."""
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(
        weights=None, input_shape=(160, 160, 3), include_top=False
    )
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(base.output)
    head = keras.layers.Dense(classes, activation="softmax", name="probabilities")(pooled)
    return keras.Model(base.input, head, name="mobilenet_pets")


def reference_map(cam_class, model, score, images, layer: str, **options) -> np.ndarray:
    """tf-keras-vis's map for `score` at `layer`, raw and signed like ours.

    Not resized, not normalised, no ReLU: what a CAM computes, before any display step.
    """
    return cam_class(model, clone=True)(
        score,
        images,
        penultimate_layer=layer,
        expand_cam=False,
        normalize_cam=False,
        activation_modifier=None,
        **options,
    )
