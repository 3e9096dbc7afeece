"""Is a map faithful? Deletion and insertion curves, average drop and increase, a sanity check.

Deletion/insertion curves (Petsiuk et al. 2018) and average drop and increase in confidence
(Chattopadhay et al. 2018) are each shown beside a random map of the same size. The sanity check is
Adebayo et al. 2018's: cascading randomisation of the top layers of a copy of the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import cv2
import keras
import numpy as np
import tensorflow as tf
from scipy.stats import spearmanr

from core.cams import METHODS
from core.cams.base import class_probabilities, normalize
from core.explain.overlay import upsample
from core.models.info import compiled_forward
from core.pace import advance, listening

# Inputs per forward pass: on 2 cores, 8 ResNet-50 inputs pass as fast per input as 32 (compiled),
# and a Cancel on the page stops the work at the end of a batch, under a second later.
BATCH = 8


def pixel_order(heatmap: np.ndarray, size: int | tuple[int, int], seed: int = 0) -> np.ndarray:
    """Flat indices of a (height, width) input (an int: square), hottest first, ties seeded.

    Ties are taken in a seeded random order.

    Ties (a map's many zeros) are not taken row by row, so a flat region is deleted evenly instead
    of from the top.
    """
    height, width = (size, size) if isinstance(size, int) else size
    values = upsample(heatmap, height, width).ravel()
    tie_breaker = np.random.default_rng(seed).permutation(values.size)
    return np.lexsort((tie_breaker, -values))


def curves(
    model: keras.Model,
    image: np.ndarray,
    heatmap: np.ndarray,
    class_index: int,
    steps: int = 50,
    blur_sigma: float = 11.0,
    batch_size: int = BATCH,
    insertion: bool = True,
    seed: int = 0,
) -> dict:
    """Deletion and insertion curves of the class probability and their AUCs, for one input.

    The input is one (H, W, 3) model input. Deletion sets pixels to black, hottest first; insertion
    copies them, hottest first, onto a blurred image.

    A faithful map makes the probability fall fast on deletion (low AUC) and rise fast on insertion
    (high AUC).
    """
    height, width = image.shape[:2]
    pixels = height * width
    order = pixel_order(heatmap, (height, width), seed)
    counts = np.round(np.linspace(0, pixels, steps + 1)).astype(int)
    rank = np.empty(pixels, dtype=np.int64)
    rank[order] = np.arange(pixels)
    # Pixel p is among the first k when its rank < k: every step's mask comes from one comparison.
    masks = (rank[None, :] < counts[:, None]).reshape(-1, height, width, 1)
    blurred = (
        cv2.GaussianBlur(image, (0, 0), blur_sigma).reshape(image.shape)
        if blur_sigma
        else np.zeros_like(image)
    )
    batch = [image[None] * (1 - masks)]
    if insertion:
        batch.append(blurred[None] * (1 - masks) + image[None] * masks)
    probabilities = predict_probabilities(model, np.concatenate(batch), class_index, batch_size)
    fractions = counts / pixels
    result = {"fractions": fractions, "deletion": probabilities[: steps + 1]}
    result["deletion_auc"] = float(np.trapezoid(result["deletion"], fractions))
    if insertion:
        result["insertion"] = probabilities[steps + 1 :]
        result["insertion_auc"] = float(np.trapezoid(result["insertion"], fractions))
    return result


def confidence_change(
    model: keras.Model, image: np.ndarray, heatmap: np.ndarray, class_index: int
) -> dict:
    """Average drop (%) and increase (0/1) in confidence with the input multiplied by the map."""
    explanation = image * upsample(heatmap, *image.shape[:2])[..., None]
    original, masked = predict_probabilities(model, np.stack([image, explanation]), class_index)
    return {
        "average_drop": float(max(0.0, original - masked) / max(original, 1e-12) * 100.0),
        "increase": float(masked > original),
    }


def predict_probabilities(
    model: keras.Model, images: np.ndarray, class_index: int, batch_size: int = BATCH
) -> np.ndarray:
    """(N,) the class's probability for each of (N, H, W, 3) model inputs, in compiled batches
    (`compiled_forward`: an eager ResNet-50 pass held GBs, evaluate's 6 GB), each counted
    (core.pace)."""
    forward, outputs = compiled_forward(model), []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        outputs.append(forward(tf.constant(batch, tf.float32)))
        advance(len(batch))
    logits = tf.concat(outputs, axis=0)
    return class_probabilities(logits, tf.fill([len(images)], class_index)).numpy()


def random_map(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, shape)


def faithfulness_passes(steps: int = 50) -> int:
    """The forward passes `faithfulness` makes: for the map and a random one, both curves at
    `steps` + 1 points and the confidence change's two."""
    return 2 * (2 * (steps + 1) + 2)


def faithfulness(
    model: keras.Model,
    image: np.ndarray,
    heatmap: np.ndarray,
    class_index: int,
    steps: int = 50,
    seed: int = 0,
) -> dict:
    """Curves and confidence figures for the map and for a random map of the same size."""
    baseline = random_map(heatmap.shape, seed)
    return {
        "map": {
            **curves(model, image, heatmap, class_index, steps),
            **confidence_change(model, image, heatmap, class_index),
        },
        "random": {
            **curves(model, image, baseline, class_index, steps),
            **confidence_change(model, image, baseline, class_index),
        },
    }


def layer_groups(model: keras.Model, depth: int) -> list[tuple[str, list[str]]]:
    """The top `depth` groups of weighted layers, output side first.

    A group is a ResNet block (conv5_block3) or a single layer.
    """
    groups: dict[str, list[str]] = {}
    for layer in reversed(model.layers):
        if layer.weights:
            match = re.match(r"(conv\d+_block\d+)_", layer.name)
            groups.setdefault(match.group(1) if match else layer.name, []).append(layer.name)
    return list(groups.items())[:depth]


# A map "changed" once SSIM, |Spearman| and Spearman of |maps| are all below this.
SANITY_THRESHOLD = 0.5
SSIM_WINDOW = 11  # tf.image.ssim's default filter size


def reinitialise(layer: keras.layers.Layer, seed: int) -> None:
    """Fresh weights from the layer's own initializers: He/Glorot kernels, zero biases.

    BatchNorm gets gamma 1, beta 0, moving mean 0 and moving variance 1, so its statistics stay
    valid (no negative variance).
    """
    for i, variable in enumerate(layer.weights):
        initializer = getattr(layer, f"{variable.name}_initializer", None)
        if initializer is None:  # a layer without named initializers: Keras' own defaults
            initializer = (
                keras.initializers.GlorotUniform()
                if len(variable.shape) > 1
                else keras.initializers.Zeros()
            )
        config = initializer.get_config()
        if "seed" in config:
            initializer = initializer.__class__.from_config({**config, "seed": seed + i})
        variable.assign(initializer(variable.shape, variable.dtype))


def similarity(original: np.ndarray, randomised: np.ndarray, size: tuple[int, int]) -> dict:
    """Spearman of the raw maps, Spearman of their absolute values, SSIM of the normalised maps.

    SSIM is taken after the overlay's bilinear upsampling to the model's input `size` (height,
    width; tf.image.ssim's 11-px window does not fit a 7x7 map). A figure that cannot be computed
    (a constant map) is None.
    """
    height, width = size
    signed = spearmanr(original.ravel(), randomised.ravel()).statistic
    absolute = spearmanr(np.abs(original).ravel(), np.abs(randomised).ravel()).statistic
    ssim = float("nan")  # tf.image.ssim needs at least its 11-px window
    if min(height, width) >= SSIM_WINDOW:
        a, b = (
            upsample(normalize(m), height, width)[None, ..., None] for m in (original, randomised)
        )
        ssim = float(tf.image.ssim(tf.constant(a), tf.constant(b), max_val=1.0)[0])
    figures = {"spearman": signed, "spearman_abs": absolute, "ssim": ssim}
    return {k: None if not np.isfinite(v) else float(v) for k, v in figures.items()}


def sanity_check(
    model: keras.Model,
    layer: str,
    image: np.ndarray,
    class_index: int,
    method: str = "Grad-CAM",
    depth: int = 3,
    seed: int = 0,
    layers: list[str] | None = None,
    progress: Callable[[], None] | None = None,
) -> list[dict]:
    """The cascading randomisation of Adebayo et al. (2018), on a COPY of the model.

    From the top, one layer group after another is re-initialised with its own initializers, and
    each map is compared with the original. The class stays the one the original explained
    ("predicted", a contrast's pair and "top-1 vs top-2" are resolved once, up front). `layers`
    are those the map at `layer` is made from: all that are fused for FUSED; default [layer].
    A guided method's map is its per-pixel magnitude, the one the page shows. `progress()`
    hears each of its `sanity_steps` done: the original map, the copy, each group randomised.
    """
    progress = progress or (lambda: None)
    layers = layers or [layer]
    with listening(None):  # its steps are told whole, not the forward passes inside them
        return _randomised(model, layer, image, class_index, method, depth, seed, layers, progress)


def _randomised(model, layer, image, class_index, method, depth, seed, layers, progress):
    fused_from = tuple(layers) if len(layers) > 1 else ()  # several: the layers FUSED is made of
    original = METHODS[method](model, layers, fused_from=fused_from)(image[None], class_index)
    fixed_class, reference = int(original.class_index[0]), int(original.reference[0])
    original = original.maps[layer][0]
    progress()
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    progress()
    steps = []
    for step, (key, group) in enumerate(layer_groups(copy, depth)):
        for name in group:
            reinitialise(copy.get_layer(name), seed + 1000 * step)
        cam = METHODS[method](copy, layers, fused_from=fused_from)
        randomised = cam(image[None], fixed_class, reference=reference).maps[layer][0]
        figures = (
            similarity(original, randomised, image.shape[:2])
            if np.isfinite(randomised).all()
            else {"spearman": None, "spearman_abs": None, "ssim": None}
        )
        steps.append({"randomised": key, "class_index": fixed_class, **figures})
        progress()
    return steps


def sanity_steps(model: keras.Model, depth: int = 3) -> int:
    """The steps `sanity_check` reports: the original map, the copy, one per layer group."""
    return 2 + len(layer_groups(model, depth))


def sanity_verdict(steps: list[dict]) -> tuple[str, str]:
    """("pass" | "fail" | "unknown", one line).

    A step that could not be computed never counts as a pass.
    """
    missing = [
        step["randomised"]
        for step in steps
        if None in (step["spearman"], step["spearman_abs"], step["ssim"])
    ]
    if not steps or missing:
        return (
            "unknown",
            f"No verdict: the similarity could not be computed after randomising "
            f"{', '.join(missing) or 'anything'}.",
        )
    last = steps[-1]
    if max(abs(last["spearman"]), abs(last["spearman_abs"]), last["ssim"]) < SANITY_THRESHOLD:
        return "pass", (
            "The map changes when the model is randomised (SSIM and |Spearman| below "
            f"{SANITY_THRESHOLD}): it depends on what the model learned."
        )
    return "fail", (
        "The map stays similar when the model's top layers are randomised (SSIM or |Spearman| of "
        f"{SANITY_THRESHOLD} or more): it may show the photo's structure more than what the model "
        "uses."
    )
