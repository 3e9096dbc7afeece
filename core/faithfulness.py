"""Is a map faithful? Deletion/insertion curves (Petsiuk et al. 2018), average drop and increase in
confidence (Chattopadhay et al. 2018), each beside a random map of the same size; and the sanity check
of Adebayo et al. 2018 (cascading randomisation of the top layers of a copy of the model)."""

from __future__ import annotations

import re

import cv2
import keras
import numpy as np
import tensorflow as tf
from scipy.stats import spearmanr

from core.cams import METHODS
from core.cams.base import class_probabilities
from core.overlay import upsample


def pixel_order(heatmap: np.ndarray, size: int) -> np.ndarray:
    """Flat indices of a size x size input, hottest first (stable for ties)."""
    return np.argsort(-upsample(heatmap, size, size).ravel(), kind="stable")


def curves(model: keras.Model, image: np.ndarray, heatmap: np.ndarray, class_index: int, steps: int = 50,
           blur_sigma: float = 11.0, batch_size: int = 32, insertion: bool = True) -> dict:
    """Deletion (pixels set to black, hottest first) and insertion (pixels copied onto a blurred image)
    curves of the class probability, with their areas under the curve, for one model input (S, S, 3).

    A faithful map makes the probability fall fast on deletion (low AUC) and rise fast on insertion (high AUC).
    """
    size = image.shape[0]
    order = pixel_order(heatmap, size)
    counts = np.round(np.linspace(0, size * size, steps + 1)).astype(int)
    rank = np.empty(size * size, dtype=np.int64)
    rank[order] = np.arange(size * size)
    # Pixel p is among the first k when its rank < k: every step's mask comes from one comparison.
    masks = (rank[None, :] < counts[:, None]).reshape(-1, size, size, 1)
    blurred = cv2.GaussianBlur(image, (0, 0), blur_sigma).reshape(image.shape) if blur_sigma else np.zeros_like(image)
    batch = [image[None] * (1 - masks)]
    if insertion:
        batch.append(blurred[None] * (1 - masks) + image[None] * masks)
    probabilities = predict_probabilities(model, np.concatenate(batch), class_index, batch_size)
    fractions = counts / (size * size)
    result = {"fractions": fractions, "deletion": probabilities[: steps + 1]}
    result["deletion_auc"] = float(np.trapezoid(result["deletion"], fractions))
    if insertion:
        result["insertion"] = probabilities[steps + 1 :]
        result["insertion_auc"] = float(np.trapezoid(result["insertion"], fractions))
    return result


def confidence_change(model: keras.Model, image: np.ndarray, heatmap: np.ndarray, class_index: int) -> dict:
    """Average drop (%) and increase (0/1) in confidence when the input is multiplied by the map."""
    size = image.shape[0]
    explanation = image * upsample(heatmap, size, size)[..., None]
    original, masked = predict_probabilities(model, np.stack([image, explanation]), class_index)
    return {"average_drop": float(max(0.0, original - masked) / max(original, 1e-12) * 100.0),
            "increase": float(masked > original)}


def predict_probabilities(model: keras.Model, images: np.ndarray, class_index: int, batch_size: int = 32) -> np.ndarray:
    outputs = [model(tf.constant(images[i : i + batch_size], tf.float32), training=False) for i in range(0, len(images), batch_size)]
    logits = tf.concat(outputs, axis=0)
    return class_probabilities(logits, tf.fill([len(images)], class_index)).numpy()


def random_map(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, shape)


def faithfulness(model: keras.Model, image: np.ndarray, heatmap: np.ndarray, class_index: int, steps: int = 50,
                 seed: int = 0) -> dict:
    """Curves and confidence figures for the map and for a random map of the same size."""
    baseline = random_map(heatmap.shape, seed)
    return {"map": {**curves(model, image, heatmap, class_index, steps), **confidence_change(model, image, heatmap, class_index)},
            "random": {**curves(model, image, baseline, class_index, steps), **confidence_change(model, image, baseline, class_index)}}


def layer_groups(model: keras.Model, depth: int) -> list[tuple[str, list[str]]]:
    """The top `depth` groups of weighted layers, output side first: ResNet blocks (conv5_block3) or single layers."""
    groups: dict[str, list[str]] = {}
    for layer in reversed(model.layers):
        if layer.weights:
            match = re.match(r"(conv\d+_block\d+)_", layer.name)
            groups.setdefault(match.group(1) if match else layer.name, []).append(layer.name)
    return list(groups.items())[:depth]


def sanity_check(model: keras.Model, layer: str, image: np.ndarray, class_index: int, method: str = "Grad-CAM",
                 depth: int = 3, seed: int = 0) -> list[dict]:
    """Randomise the top layers of a COPY of the model one group at a time (cascading), and give the rank
    correlation of each map with the original. A map that stays the same does not depend on the model."""
    original = METHODS[method](model, [layer])(image[None], class_index)["maps"][layer][0]
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    rng = np.random.default_rng(seed)
    steps = []
    for key, group in layer_groups(copy, depth):
        for name in group:
            target = copy.get_layer(name)
            target.set_weights([rng.normal(0.0, w.std() or 0.05, w.shape).astype(w.dtype) for w in target.get_weights()])
        randomised = METHODS[method](copy, [layer])(image[None], class_index)["maps"][layer][0]
        correlation = spearmanr(original.ravel(), randomised.ravel()).statistic
        steps.append({"randomised": key, "rank_correlation": None if np.isnan(correlation) else float(correlation)})
    return steps
