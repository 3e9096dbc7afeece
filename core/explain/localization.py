"""Does the map point at the pet? The pointing game and its energy form, beside a centre prior.

The pet's mask comes from Oxford-IIIT Pet's trimaps (1 pet, 2 background, 3 the border between
them: the pet is everything that is not background), its head box from the XML files (trainval
photos only). Maps are compared at the photo's own size, after the overlay's bilinear upsampling.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from core.explain.overlay import upsample

TOLERANCE = 15  # px: the pointing game's tolerance (Zhang et al. 2016)
TRIMAP_BACKGROUND = 2  # Oxford-IIIT Pet trimaps: 1 pet, 2 background, 3 border


def pointing_hit(heatmap: np.ndarray, mask: np.ndarray, tolerance: int = TOLERANCE) -> bool:
    """Is the map's hottest point (at the mask's size) within `tolerance` px of the object?"""
    upsampled = upsample(heatmap, *mask.shape)
    y, x = np.unravel_index(np.argmax(upsampled), upsampled.shape)
    # Distance of every pixel to the nearest object pixel (0 inside the object).
    distance = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    return bool(distance[y, x] <= tolerance)


def energy_share(heatmap: np.ndarray, mask: np.ndarray) -> float | None:
    """The share of the map's positive mass inside the object (Wang et al. 2020).

    None for an all-zero map, which has no mass to share.
    """
    positive = np.maximum(upsample(heatmap, *mask.shape), 0.0)
    total = positive.sum()
    return float(positive[mask].sum() / total) if total > 0 else None


def centre_prior(height: int, width: int) -> np.ndarray:
    """The baseline: a Gaussian bump at the photo's centre, where pets tend to be.

    Its sigma is a quarter of each side.
    """
    ys, xs = np.mgrid[0:height, 0:width]
    return np.exp(
        -(
            ((ys - (height - 1) / 2) / (height / 4)) ** 2
            + ((xs - (width - 1) / 2) / (width / 4)) ** 2
        )
        / 2
    )


def read_trimap(path: Path) -> np.ndarray:
    """(H, W) bool: True on the pet (trimap values 1 and 3)."""
    return np.asarray(Image.open(path)) != TRIMAP_BACKGROUND


def read_head_box(path: Path, height: int, width: int) -> np.ndarray:
    """(H, W) bool: True inside the head box of an Oxford-IIIT Pet XML annotation."""
    box = ElementTree.parse(path).getroot().find("object/bndbox")
    x0, y0, x1, y1 = (int(float(box.find(k).text)) for k in ("xmin", "ymin", "xmax", "ymax"))
    mask = np.zeros((height, width), bool)
    mask[max(y0, 0) : y1 + 1, max(x0, 0) : x1 + 1] = True
    return mask


def annotations_for(photo: Path, folder: Path, height: int, width: int) -> dict[str, np.ndarray]:
    """The photo's masks found under `folder`: "pet", "head", or none.

    They are read from trimaps/<stem>.png and xmls/<stem>.xml. A mask of another size than the
    photo's is ignored (the annotation is of another image).
    """
    masks = {}
    trimap = Path(folder) / "trimaps" / f"{photo.stem}.png"
    if trimap.is_file():
        masks["pet"] = read_trimap(trimap)
    head = Path(folder) / "xmls" / f"{photo.stem}.xml"
    if head.is_file():
        masks["head"] = read_head_box(head, height, width)
    return {name: mask for name, mask in masks.items() if mask.shape == (height, width)}


def localization(heatmap: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, float | None]:
    """Pointing hit (0/1) and energy share for each mask.

    For example {"pet pointing": 1.0, "pet energy": 0.83, ...}.
    """
    figures: dict[str, float | None] = {}
    for name, mask in masks.items():
        figures[f"{name} pointing"] = float(pointing_hit(heatmap, mask))
        figures[f"{name} energy"] = energy_share(heatmap, mask)
    return figures
