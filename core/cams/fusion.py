"""All stages fused (`--layer fused`): the offered layers' maps of one pass combined into one map.

The fused map is the geometric mean of the stage maps, each ReLU'd, scaled to [0, 1] by its own
maximum and stretched (bilinear) to the finest stage's grid: a cell is warm only where every stage
agrees. This is the "product of the normalised stage maps" (the L-th root keeps it on the stages'
own scale and does not change where it is warm). Layer-CAM's fusion (Jiang et al. 2021, section
3.3: an element-wise maximum of tanh-scaled maps) was not chosen: a maximum keeps the evidence of
any one stage, and Grad-CAM's shallow stages light up edges and fur all over the photo; the product
lets the deepest stage's class specificity gate the fine stages' detail, whatever the method.
"""

from __future__ import annotations

import cv2
import numpy as np

FUSED = "fused"  # the layer choice that means "all offered layers fused"; a reserved name


def normalize(raw_map: np.ndarray) -> np.ndarray:
    """ReLU, then scale to [0, 1] by the map's maximum; an all-zero map stays zero, never NaN."""
    positive = np.maximum(raw_map, 0.0)
    top = positive.max(initial=0.0)
    return positive / top if top > 0 else np.zeros_like(positive)


def fused_layers(offered, explained) -> tuple[str, ...]:
    """The layers FUSED is made from: the `offered` ones (the model's) among those `explained`.

    The one rule for "is FUSED offered": two or more such layers, and no model layer named
    FUSED offered or explained (its map keeps that key). Else () : nothing is fused.
    """
    explained = set(explained)
    chosen = tuple(name for name in offered if name in explained)
    if len(chosen) < 2 or FUSED in offered or FUSED in explained:
        return ()
    return chosen


def fuse(maps: list[np.ndarray]) -> np.ndarray:
    """L >= 1 raw maps, each (N, h_l, w_l) signed -> (N, H, W) float32 >= 0 on the finest grid.

    Each image's map at each layer is ReLU'd and divided by its own maximum (an all-zero map stays
    zero), stretched bilinearly (OpenCV, half-pixel centres) to the largest (H, W), and the L maps
    are multiplied and the L-th root taken. A stage with no positive evidence zeroes the fused map.
    """
    height, width = max((m.shape[1:] for m in maps), key=lambda shape: shape[0] * shape[1])
    fused = np.ones((len(maps[0]), height, width), np.float32)
    for layer_maps in maps:
        fused *= stretched_units(layer_maps, height, width)
    return np.maximum(fused, 0.0) ** (1.0 / len(maps))


def stretched_units(raw_maps: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, h, w) raw maps -> (N, height, width) float32 in [0, 1]: each ReLU'd, scaled by its
    maximum, stretched bilinearly (OpenCV, half-pixel centres)."""
    return np.stack(
        [
            cv2.resize(
                normalize(np.asarray(m, np.float32)),
                (width, height),
                interpolation=cv2.INTER_LINEAR,
            )
            for m in raw_maps
        ]
    )
