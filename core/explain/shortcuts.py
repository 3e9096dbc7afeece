"""Is it really the shortcut? Hide the region a flagged strategy points at in its photos and see
how many predictions flip or lose confidence: the share of the class that leans on it.

The region is where the strategy's mean map is at least half its largest value, stretched to each
photo; it is hidden by a strong blur of the photo or by the photo's mean colour (both offered:
a blur keeps colour and layout, the mean removes every detail). One forward pass per photo: the
photos' confidence before is the run's. Hiding costs little beside that pass: only the region and
a margin are blurred, and each hidden photo is written straight into the batch the model reads.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.explain.overlay import upsample
from core.explain.strategies import Strategy
from core.models.info import Classifier, compiled_forward

HOW = ("blur", "mean")
REGION = 0.5  # the region: cells at least this share of the mean map's largest value
WEAKER = 0.1  # a prediction "loses confidence" when its class's probability drops this much
BATCH = 16
SIGMA = 4  # px: the light Gaussian that hides a blur's seams
MARGIN = 4 * SIGMA  # px beyond the region that the Gaussian reads (its kernel reaches 3 sigma)


def region(strategy: Strategy, height: int, width: int) -> np.ndarray:
    """(height, width) bool: where the strategy's mean map is at least REGION of its peak."""
    scaled = strategy.mean_map / max(float(strategy.mean_map.max()), 1e-12)
    return upsample(scaled, height, width) >= REGION


def hidden(photo: np.ndarray, mask: np.ndarray, how: str = "blur") -> np.ndarray:
    """A copy of the (H, W, 3) RGB uint8 `photo` with the (H, W) bool `mask` blurred away
    (`_blurred`) or filled with the photo's mean colour (each channel's mean, truncated to an
    integer); the photo is not changed. ValueError for another `how`."""
    out = photo.copy()
    hide_into(out, photo, mask, how)
    return out


def hide_into(out: np.ndarray, photo: np.ndarray, mask: np.ndarray, how: str) -> None:
    """`hidden`, written into `out` (the photo's shape, any dtype: a row of the model's float32
    batch), which must already hold the photo."""
    if how not in HOW:
        raise ValueError(f"Hide by one of {HOW}, not {how!r}.")
    if how == "mean":
        # Whole sums in doubles are exact, so the floor is the truncated mean.
        sums = np.array(cv2.sumElems(np.ascontiguousarray(photo))[:3])
        out[mask] = sums // (photo.shape[0] * photo.shape[1])
        return
    if mask.any():
        box = _box(mask)
        out[box][mask[box]] = _blurred(photo, box)[mask[box]]


def _box(mask: np.ndarray) -> tuple[slice, slice]:
    """The (non-empty) mask's bounding box grown by MARGIN px, within the photo."""
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (
        slice(max(rows[0] - MARGIN, 0), rows[-1] + 1 + MARGIN),
        slice(max(columns[0] - MARGIN, 0), columns[-1] + 1 + MARGIN),
    )


def _blurred(photo: np.ndarray, box: tuple[slice, slice]) -> np.ndarray:
    """The `box` of a strong blur of the photo, cheap at any size: the photo shrunk 16 times
    (area-averaged), stretched back (bilinear), then a light Gaussian (SIGMA) to hide the cells'
    seams. The Gaussian runs on the box only: within MARGIN of its inner edges it reads what it
    would read on the whole photo, and at the photo's edges it reflects the same pixels."""
    height, width = photo.shape[:2]
    small = (max(1, width // 16), max(1, height // 16))
    small = cv2.resize(photo, small, interpolation=cv2.INTER_AREA)
    back = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.GaussianBlur(np.ascontiguousarray(back[box]), (0, 0), sigmaX=SIGMA)


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
    after = _probabilities(classifier, photos, masks, how)
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


def _probabilities(
    classifier: Classifier,
    photos: list[np.ndarray],
    masks: dict[tuple[int, int], np.ndarray] | None = None,
    how: str = "blur",
) -> np.ndarray:
    """(N, K) class probabilities of `photos` (all of the model's input size), each hidden where
    `masks` (photo size -> mask) say, one compiled forward pass per photo, in batches of BATCH."""
    forward = compiled_forward(classifier.model)
    rows = []
    for start in range(0, len(photos), BATCH):
        batch = hidden_batch(photos[start : start + BATCH], masks, how)
        rows.append(classifier.probabilities(forward(batch).numpy()))
    return np.concatenate(rows) if rows else np.zeros((0, len(classifier.info.class_names)))


def hidden_batch(
    photos: list[np.ndarray], masks: dict[tuple[int, int], np.ndarray] | None, how: str
) -> np.ndarray:
    """(N, H, W, 3) float32: the N >= 1 photos (uint8, all H x W), each hidden where `masks` (photo
    size -> mask; None: nothing hidden) say, as the model reads them."""
    batch = np.empty((len(photos), *photos[0].shape), np.float32)
    for row, photo in zip(batch, photos):
        row[...] = photo  # one pass: the photo, as float32, where the model reads it
        if masks is not None:
            hide_into(row, photo, masks[photo.shape[:2]], how)
    return batch
