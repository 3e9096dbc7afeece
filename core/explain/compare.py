"""The Compare page's grid: each chosen method at each chosen layer, its time and deletion AUC."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.cams import uses_layer
from core.explain.explainer import NO_LAYER, Explainer
from core.explain.faithfulness import curves


@dataclass(frozen=True)
class Cell:
    method: str
    layer: str  # NO_LAYER for a method whose map no layer changes (Guided Backprop)
    heatmap: np.ndarray  # [0, 1] at the layer's resolution
    seconds: float  # the method's time for the photo (all layers come from one pass)
    deletion_auc: float


def compare(
    explainer: Explainer,
    photo: np.ndarray,
    methods: list[str],
    layers: list[str],
    target: str = "predicted",
    steps: int = 25,
) -> list[Cell]:
    """One pass per method (all layers at once), then a deletion curve per cell.

    A method the layer does not change (`uses_layer`: Guided Backprop) gives one cell, at
    NO_LAYER. Score-CAM's and the curves' passes are counted (core.pace) towards `cost`.
    """
    model_input = explainer.model_input(photo)
    cells = []
    for method in methods:
        explanation = explainer.explain([photo], target, method)[0]
        index = explainer.scored_class(explanation)
        for layer in cell_layers(method, layers):
            # Any layer's key holds a layerless method's map: the first one asked for.
            heatmap = explanation.heatmap(layers[0] if layer == NO_LAYER else layer)
            deletion = curves(
                explainer.classifier.model, model_input, heatmap, index, steps, insertion=False
            )
            cells.append(
                Cell(method, layer, heatmap, explanation.seconds, deletion["deletion_auc"])
            )
    return cells


def cell_layers(method: str, layers: list[str]) -> list[str]:
    """The layers `method` is shown at: each of `layers`, or NO_LAYER once when none changes it."""
    return layers if uses_layer(method) or not layers else [NO_LAYER]


# Why methods coincide, for the page: the layers in question feed global average pooling, then
# a dense layer.
WHY_THE_SAME = (
    "A layer that feeds global average pooling and then a dense layer (ResNet-50's "
    "conv5_block3_out) gets the same gradient at every position, so Grad-CAM, HiResCAM and "
    "XGrad-CAM are one method there."
)


def coincidences(cells: list[Cell], tolerance: float = 1e-4) -> list[str]:
    """One line per layer where several methods gave one normalised map, within `tolerance`."""
    lines = []
    for layer in dict.fromkeys(cell.layer for cell in cells):
        groups: list[list[Cell]] = []
        for cell in (c for c in cells if c.layer == layer):
            # A guided method's map is at the input's resolution, a CAM's at the layer's.
            match = next(
                (
                    g
                    for g in groups
                    if g[0].heatmap.shape == cell.heatmap.shape
                    and np.allclose(g[0].heatmap, cell.heatmap, atol=tolerance)
                ),
                None,
            )
            if match:
                match.append(cell)
            else:
                groups.append([cell])
        lines += [
            f"At {layer}, {', '.join(c.method for c in g)} give the same map."
            for g in groups
            if len(g) > 1
        ]
    return lines


def cost(explainer: Explainer, methods: list[str], layers: list[str], steps: int = 25) -> int:
    """Forward passes the grid needs: each method's own, then one deletion curve per cell.

    A method's own passes cover all its layers at once, at its default options; a layerless
    method has one cell.
    """
    cells = sum(len(cell_layers(m, layers)) for m in methods)
    return sum(explainer.cost(m) for m in methods) + cells * (steps + 1)
