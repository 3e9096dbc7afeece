"""The Compare screen: one photo, every method at every layer, each with its time and deletion AUC.

The photo and the model are the ones the Explain page chose (ui/photos.py, ui/models.py); the
grid's own widgets have their own keys, as the Explain page's take other options.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.cams import METHODS
from core.config import Config
from core.explain import display, guide
from core.explain.compare import WHY_THE_SAME, Cell, coincidences, compare, cost
from core.explain.explainer import NO_LAYER, Explainer
from core.explain.overlay import blend, colorize
from core.explain.settings import FOLDED, ExplanationKey, Photo
from core.images import photo_for_model, shrink
from ui.access import shown
from ui.explain.cache import build_guided_first
from ui.explain.present import duration
from ui.explain.widgets import target_select, view_radio
from ui.models import Chosen
from ui.photos import photo_source
from ui.picture_cache import kept_picture
from ui.slots import button_result, stopper

VIEW, TARGET = "compare_view", "compare_target"  # not the Explain page's "view" and "target"


@kept_picture()
def cached_picture(_photo: Photo, photo_id: str, _config: Config) -> np.ndarray:
    """The photo as the model gets it (display size), decoded once; ImageError if unreadable."""
    return photo_for_model(_photo.data, _photo.name, _config)


@dataclass(frozen=True)
class GridSettings:
    """What the grid explains: the photo, its methods (rows), its layers (columns), the class and
    the zero-shot model's view."""

    photo: Photo | None
    methods: tuple[str, ...]
    layers: tuple[str, ...]
    target: str
    view: str = FOLDED

    def key(self, model_key: str) -> ExplanationKey:
        """What the grid is kept for: this photo, model, class and view (every method runs with
        its defaults)."""
        return ExplanationKey(self.photo.digest, model_key, self.target, view=self.view)


def show_model(chosen: Chosen, config: Config) -> None:
    info = chosen.loaded.explainer.classifier.info
    st.caption(shown(display.model_caption(chosen.entry, info), config))


def settings_widgets(chosen: Chosen, config: Config) -> GridSettings:
    """The photo and the view in the sidebar; the grid's methods, layers and class above it, with
    what filling it costs."""
    explainer = chosen.loaded.explainer
    with st.sidebar:
        photo = photo_source(config, guide.subject(explainer.class_names))
        view_radio(chosen.loaded, VIEW)
    methods = st.multiselect("Methods", list(METHODS), default=list(METHODS), key="methods")
    offered, choices = list(explainer.classifier.layers), list(explainer.layer_choices)
    layers = st.multiselect("Layers", choices, default=offered, key="layers")
    target = target_select(explainer, TARGET)
    st.caption(
        f"About {cost(explainer, methods, layers):,} forward passes, each method with its "
        "default options."
    )
    view = st.session_state.get(VIEW, FOLDED)
    return GridSettings(photo, tuple(methods), tuple(layers), target, view)


def show_grid_on_click(chosen: Chosen, grid: GridSettings, config: Config) -> None:
    """The photo the grid is for (chosen on this page or kept from the Explain page), the button
    that fills the grid, and the grid once filled; ImageError for a photo it cannot read."""
    explainer = chosen.loaded.explainer
    picture = cached_picture(grid.photo, grid.photo.digest, config)
    st.image(shrink(picture, 192), caption=grid.photo.name, alt=f"The photo {grid.photo.name}")
    methods, layers, made_for = list(grid.methods), list(grid.layers), grid.key(chosen.key)
    cells = button_result(
        "Fill the grid",
        "fill",
        made_for,
        "fill the grid",
        functools.partial(fill_grid, explainer, picture, grid, stopper("fill", made_for)),
        "Explaining with every method at every layer",
        cost(explainer, methods, layers) if methods and layers else 0,
        type="primary",
        disabled=not (grid.methods and grid.layers),
    )
    if cells is not None:
        thumb = shrink(picture, config.thumbnail_side)
        show_grid(cells, thumb, explainer.layer_choices, config.alpha)


def fill_grid(
    explainer: Explainer, picture: np.ndarray, grid: GridSettings, stop: tuple, step
) -> list[Cell]:
    """Every method at every layer (the guided clone built first, under a bar of its own with
    the grid's Cancel, `stop`, when a guided method is among them); `button_result`'s bar counts
    the passes."""
    methods = list(grid.methods)
    build_guided_first(explainer.classifier.model, methods, "fill guided", stop)
    return compare(explainer, picture, methods, list(grid.layers), grid.target)


def show_grid(cells: list[Cell], thumb: np.ndarray, shapes: dict[str, tuple], alpha: float):
    """One row per method, one column per layer: each map over the photo, its time and AUC."""
    # A layerless method's one cell (at NO_LAYER) sits in the first column.
    grid_layers = [
        layer for layer in dict.fromkeys(c.layer for c in cells) if layer != NO_LAYER
    ] or [NO_LAYER]
    header = st.columns([1] + [2] * len(grid_layers))
    for column, layer in zip(header[1:], grid_layers):
        size = f" · {shapes[layer][0]}×{shapes[layer][1]}" if layer in shapes else ""
        column.markdown(f"**{layer}**{size}")
    for method in dict.fromkeys(cell.method for cell in cells):
        row = st.columns([1] + [2] * len(grid_layers))
        row[0].markdown(f"**{method}**")
        for column, cell in zip(row[1:], [c for c in cells if c.method == method]):
            column.image(
                blend(thumb, colorize(cell.heatmap, *thumb.shape[:2]), alpha),
                width="stretch",
                caption=f"{duration(cell.seconds)} · deletion AUC {cell.deletion_auc:.3f}",
                alt=f"{method} at {cell.layer}: the heatmap over the photo",
            )
    same = coincidences(cells)
    if same:
        st.info(" ".join(same) + " " + WHY_THE_SAME)
