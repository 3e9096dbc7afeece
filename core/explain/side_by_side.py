"""Two models, one photo: what each may be asked to explain, their maps on the photo's own grid,
and where the two maps differ.

Each model is explained as on the Explain page (its own input size, layers and classes); here the
two maps, each at its layer's resolution (7×7 for ResNet-50's last stage, 8×8 or 4×4 for a tiny
model), are brought to one grid, the photo's, so that they can be subtracted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.config import PREDICTED_TARGET
from core.explain.explainer import Explanation
from core.explain.overlay import DIVERGING, colorize, upsample

DIFFERENCE = (
    "Model A's map minus model B's, each scaled to its own maximum first. Red: where A looks and "
    "B does not; blue: where B looks and A does not; white: where they agree (both look, or "
    "neither does)."
)


def shared_targets(first: Sequence[str], second: Sequence[str]) -> list[str]:
    """The targets two models share: predicted, then each class name both have (first's order).

    Empty when they share no class name: then each model's target is picked on its own.
    """
    both = set(second)
    shared = [name for name in first if name in both]
    return [PREDICTED_TARGET, *shared] if shared else []


def on_photo(heatmap: np.ndarray, height: int, width: int) -> np.ndarray:
    """A [0, 1] heatmap stretched (bilinear) to the photo's (height, width), still in [0, 1]."""
    return np.clip(upsample(heatmap, height, width), 0.0, 1.0)


def difference(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """`first` minus `second`, two [0, 1] maps on one grid: in [-1, 1], 0 where they agree."""
    if first.shape != second.shape:
        raise ValueError(f"maps of {first.shape} and {second.shape}: bring both to one grid")
    return first.astype(np.float32) - second.astype(np.float32)


def difference_picture(signed: np.ndarray) -> np.ndarray:
    """A [-1, 1] difference as RGB on the diverging colormap: 0 white, +1 red, -1 blue.

    The scale is fixed (not stretched to the largest difference), so two nearly equal maps look
    nearly white.
    """
    height, width = signed.shape
    return colorize(0.5 + 0.5 * np.clip(signed, -1.0, 1.0), height, width, DIVERGING)


@dataclass(frozen=True)
class SideBySide:
    """Two explanations of one photo, their maps on the photo's grid, and A minus B."""

    maps: tuple[np.ndarray, np.ndarray]  # each in [0, 1], (height, width) of the photo
    difference: np.ndarray  # maps[0] - maps[1], in [-1, 1]
    # One line when the two maps explain different classes ("predicted": each its own top class).
    note: str | None = None


def two_classes(first: Explanation, second: Explanation) -> str | None:
    """One line when A and B explain different classes, so their difference compares two classes
    (e.g. "predicted", each model's own top class); None when both explain the same one."""
    if first.title == second.title:
        return None
    return (
        f"A explains '{first.title}', B explains '{second.title}': "
        "the difference compares two classes."
    )


def side_by_side(
    first: Explanation,
    first_layer: str,
    second: Explanation,
    second_layer: str,
    shape: tuple[int, ...],
) -> SideBySide:
    """Each explanation's normalised map (ReLU, scaled to [0, 1]) at its layer, upsampled to the
    photo's `shape` (height, width, ...), their difference, and a note if they explain two
    classes."""
    height, width = shape[:2]
    maps = (
        on_photo(first.heatmap(first_layer), height, width),
        on_photo(second.heatmap(second_layer), height, width),
    )
    return SideBySide(maps, difference(*maps), two_classes(first, second))
