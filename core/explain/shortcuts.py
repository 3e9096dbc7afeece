"""Is it really the shortcut? Hide the region a flagged strategy points at in its photos and see
how many predictions flip or lose confidence: the share of the class that leans on it.

The region is where the strategy's mean map is at least half its largest value, stretched to each
photo; it is hidden by a strong blur of the photo or by the photo's mean colour (both offered:
a blur keeps colour and layout, the mean removes every detail). One forward pass per photo: the
photos' confidence before is the run's.
"""

from __future__ import annotations

import cv2
import numpy as np
import tensorflow as tf

from core.explain.overlay import upsample
from core.explain.strategies import Strategy
from core.models.info import Classifier, compiled_forward

HOW = ("blur", "mean")
REGION = 0.5  # the region: cells at least this share of the mean map's largest value
WEAKER = 0.1  # a prediction "loses confidence" when its class's probability drops this much
BATCH = 16


def region(strategy: Strategy, height: int, width: int) -> np.ndarray:
    """(height, width) bool: where the strategy's mean map is at least REGION of its peak."""
    scaled = strategy.mean_map / max(float(strategy.mean_map.max()), 1e-12)
    return upsample(scaled, height, width) >= REGION


def hidden(photo: np.ndarray, mask: np.ndarray, how: str = "blur") -> np.ndarray:
    """A copy of the RGB uint8 `photo` with `mask` blurred away (`_blurred`) or filled with the
    photo's mean colour; the photo is not changed."""
    if how not in HOW:
        raise ValueError(f"Hide by one of {HOW}, not {how!r}.")
    if how == "mean":
        filler = np.broadcast_to(photo.reshape(-1, 3).mean(axis=0), photo.shape)
    else:
        filler = _blurred(photo)
    return np.where(mask[..., None], filler, photo).astype(np.uint8)


def _blurred(photo: np.ndarray) -> np.ndarray:
    """A strong blur, cheap at any size: the photo shrunk 16 times (area-averaged), stretched back
    (bilinear), then a light Gaussian to hide the cells' seams."""
    height, width = photo.shape[:2]
    small = (max(1, width // 16), max(1, height // 16))
    small = cv2.resize(photo, small, interpolation=cv2.INTER_AREA)
    back = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(back, (0, 0), sigmaX=4)


def check(
    classifier: Classifier,
    photos: list[np.ndarray],
    strategy: Strategy,
    how: str = "blur",
    confidence: np.ndarray | None = None,
) -> dict:
    """Hide the strategy's region in `photos` (its members, RGB uint8 at the model's input size)
    and compare the predictions: {"hidden", "photos", "flipped", "weaker", "share"}.

    `flipped`: no longer predicted as the strategy's class; `weaker`: still predicted so, with its
    probability down by at least WEAKER; `share` = (flipped + weaker) / photos. `confidence`: the
    class's probability on each photo before, as the run found it (else one more pass each).
    """
    names = list(classifier.info.class_names)
    label = names.index(strategy.label)
    if confidence is None:
        confidence = _probabilities(classifier, photos)[:, label]
    masks = {shape: region(strategy, *shape) for shape in {p.shape[:2] for p in photos}}
    after = _probabilities(classifier, [hidden(p, masks[p.shape[:2]], how) for p in photos])
    flipped = int((after.argmax(axis=1) != label).sum())
    kept = after.argmax(axis=1) == label
    weaker = int((kept & (np.asarray(confidence) - after[:, label] >= WEAKER)).sum())
    count = len(photos)
    return {
        "hidden": how,
        "photos": count,
        "flipped": flipped,
        "weaker": weaker,
        "share": (flipped + weaker) / count if count else None,
    }


def _probabilities(classifier: Classifier, photos: list[np.ndarray]) -> np.ndarray:
    """(N, K) class probabilities, one compiled forward pass per photo, in batches."""
    forward = compiled_forward(classifier.model)
    rows = []
    for start in range(0, len(photos), BATCH):
        batch = np.stack(photos[start : start + BATCH]).astype(np.float32)
        rows.append(classifier.probabilities(forward(tf.constant(batch)).numpy()))
    return np.concatenate(rows) if rows else np.zeros((0, len(classifier.info.class_names)))
