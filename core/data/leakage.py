"""Leakage between splits: a validation or test photo that is a copy of a training photo.

Datasets gathered from the web hold the same photo twice, resized or saved again as JPEG; when the
two copies land in different splits, the validation and test figures measure memory, not skill.
Each photo gets a perceptual hash (pHash: the signs of the lowest 8 x 8 frequencies of its
32 x 32 grey thumbnail's DCT, Zauner 2010; the `imagehash` library), which resizing and
re-encoding barely move, and two photos whose hashes differ in at most `MAX_DISTANCE` of 64 bits
are near-duplicates. No model is needed.
"""

from __future__ import annotations

import cv2
import imagehash
import numpy as np
from PIL import Image

# Bits (of 64) two hashes may differ in and still be one photo: copies of the 800 pets photos
# halved and saved again as JPEG (quality 70) differ by 0-2 bits, two distinct photos by 12 or
# more (tests/test_leakage.py checks both on the real photos).
MAX_DISTANCE = 6
THUMBNAIL = 64  # pixels: the photo is area-averaged to this before hashing (pHash uses 32)
MAX_PAIRS = 200  # pairs a report lists; all are counted


def photo_hash(photo: np.ndarray) -> int:
    """The 64-bit pHash of an (H, W, 3) uint8 RGB photo, as an int."""
    height, width = photo.shape[:2]
    scale = THUMBNAIL / max(height, width)
    if scale < 1:  # area-averaged first: pHash's own resize of a 12-MP photo is slow
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        photo = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
    bits = imagehash.phash(Image.fromarray(photo)).hash.flatten()
    return int(np.packbits(bits).view(">u8")[0])


def near_duplicates(
    hashes: dict[str, list[int]], max_distance: int = MAX_DISTANCE, limit: int = MAX_PAIRS
) -> tuple[int, list[tuple[str, int, str, int, int]]]:
    """How many pairs of photos in different splits have hashes within `max_distance` bits, and
    the closest `limit` of them as (split, index, other split, index, distance), closest first.

    `hashes` maps a split ("train", "validation", "test") to its photos' hashes, in order. Only
    the closest are kept: a thousand blank photos in two splits make a million pairs.
    """
    count, found = 0, []
    names = list(hashes)
    for a, first in enumerate(names):
        for second in names[a + 1 :]:
            left = np.asarray(hashes[first], dtype=np.uint64)
            right = np.asarray(hashes[second], dtype=np.uint64)
            for start in range(0, len(left), 1024):  # 1,024 x N distances at a time
                distance = np.bitwise_count(left[start : start + 1024, None] ^ right[None, :])
                close = np.argwhere(distance <= max_distance)
                count += len(close)
                order = np.argsort(distance[close[:, 0], close[:, 1]], kind="stable")[:limit]
                found += [
                    (first, start + int(i), second, int(j), int(distance[i, j]))
                    for i, j in close[order]
                ]
                found = sorted(found, key=lambda pair: pair[-1])[:limit]
    return count, found
