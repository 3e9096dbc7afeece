"""Colour a [0, 1] heatmap and blend it over the photo at the photo's own resolution."""

from __future__ import annotations

import functools

import cv2
import numpy as np
from matplotlib import colormaps

COLORMAPS = ("jet", "turbo", "inferno", "viridis")
DIVERGING = "RdBu_r"  # for signed maps: blue below zero, red above
DIVERGING_ENDS = ("blue", "red")  # DIVERGING's colour below zero (against), then above (for)


def signed_legend(what: str) -> str:
    """The legend under a signed map (ReLU off): which colour speaks for `what`, which against."""
    against, for_ = DIVERGING_ENDS
    return f"Signed map: {for_} for {what}, {against} against, white neither."


@functools.lru_cache(maxsize=16)
def _lookup_table(name: str) -> np.ndarray:
    """(256, 3) uint8 RGB table of a matplotlib colormap (read-only, shared)."""
    if name not in colormaps:
        raise ValueError(f"Unknown colormap {name!r}; try one of {COLORMAPS}.")
    table = (colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3] * 255.0 + 0.5).astype(np.uint8)
    table.flags.writeable = False
    return table


def upsample(heatmap: np.ndarray, height: int, width: int, smooth: bool = True) -> np.ndarray:
    """Stretch a heatmap to (height, width); bilinear keeps values within the input's range."""
    interpolation = cv2.INTER_LINEAR if smooth else cv2.INTER_NEAREST
    return cv2.resize(heatmap.astype(np.float32), (width, height), interpolation=interpolation)


def colorize(
    heatmap: np.ndarray, height: int, width: int, colormap: str = "jet", smooth: bool = True
) -> np.ndarray:
    """A [0, 1] heatmap as an (height, width, 3) uint8 RGB picture.

    Nearest upsampling (`smooth=False`) shows the map's true grid.
    """
    levels = np.clip(upsample(heatmap, height, width, smooth) * 255.0 + 0.5, 0, 255).astype(
        np.uint8
    )
    return _lookup_table(colormap)[levels]


def signed_to_unit(raw_map: np.ndarray) -> np.ndarray:
    """A signed map (ReLU off) to [0, 1] with 0 at 0.5, for a diverging colormap such as RdBu_r."""
    scale = np.abs(raw_map).max(initial=0.0)
    return 0.5 + 0.5 * raw_map / scale if scale > 0 else np.full_like(raw_map, 0.5)


def blend(photo: np.ndarray, colored: np.ndarray, alpha: float) -> np.ndarray:
    """alpha * heatmap + (1 - alpha) * photo, both RGB uint8 of the same size."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    if photo.shape != colored.shape:
        raise ValueError(f"photo {photo.shape} and heatmap {colored.shape} differ in size.")
    return cv2.addWeighted(colored, alpha, photo, 1.0 - alpha, 0.0)


def overlay(
    photo: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4, colormap: str = "jet"
) -> np.ndarray:
    """The heatmap coloured, stretched to the photo and blended over it, as RGB uint8."""
    height, width = photo.shape[:2]
    return blend(photo, colorize(heatmap, height, width, colormap), alpha)
