"""Compare page: one photo, every method at every layer, each with its time and deletion AUC."""

import functools
from dataclasses import dataclass

import numpy as np
import streamlit as st

import ui
from core.cams import METHODS
from core.config import Config
from core.errors import UserError, one_line
from core.explain import display, guide
from core.explain.compare import WHY_THE_SAME, Cell, coincidences, compare, cost
from core.explain.explainer import NO_LAYER, Explainer
from core.explain.overlay import blend, colorize
from core.explain.settings import FOLDED, ExplanationKey, Photo
from core.images import photo_for_model, shrink
from core.models.catalog import models
from ui.access import shown


@st.cache_data(max_entries=16, show_spinner=False)
def cached_picture(_photo: Photo, photo_id: str) -> np.ndarray:
    """The photo as the model gets it (display size), decoded once; ImageError if unreadable."""
    return photo_for_model(_photo.data, _photo.name)


@dataclass(frozen=True)
class GridSettings:
    """What the grid explains: its methods (rows), its layers (columns) and the class."""

    methods: tuple[str, ...]
    layers: tuple[str, ...]
    target: str


def grid_widgets(explainer: Explainer) -> GridSettings:
    """The grid's widgets, what they hold, and what filling the grid costs."""
    methods = st.multiselect("Methods", list(METHODS), default=list(METHODS), key="methods")
    offered, choices = list(explainer.classifier.layers), list(explainer.layer_choices)
    layers = st.multiselect("Layers", choices, default=offered, key="layers")
    # Its own key: the Explain page's "target" is another widget with other options.
    target = ui.target_select(explainer, "compare_target")
    st.caption(
        f"About {cost(explainer, methods, layers):,} forward passes, each method with its "
        "default options."
    )
    return GridSettings(tuple(methods), tuple(layers), target)


def fill_grid(explainer: Explainer, picture: np.ndarray, grid: GridSettings) -> list[Cell]:
    """Every method at every layer, with a progress bar while it runs."""
    bar = st.progress(0.0, text="Explaining…")
    cells = compare(
        explainer,
        picture,
        list(grid.methods),
        list(grid.layers),
        grid.target,
        progress=lambda f: bar.progress(f, text=f"Explaining… {f:.0%}"),
    )
    bar.empty()
    return cells


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
                caption=f"{cell.seconds * 1000:.0f} ms · deletion AUC {cell.deletion_auc:.3f}",
                alt=f"{method} at {cell.layer}: the heatmap over the photo",
            )
    same = coincidences(cells)
    if same:
        st.info(" ".join(same) + " " + WHY_THE_SAME)


st.title("Compare methods and layers")
st.markdown(
    "One photo, a grid of methods × layers. Each cell gives its method's time (one pass serves "
    "every layer, so a row shares it) and its **deletion AUC**: the probability left as the "
    "hottest pixels are removed first, so **lower is more faithful**."
)
config = Config()
entry, loaded, model_key = ui.chosen_model(models(config))
if loaded.error:
    st.error(shown(loaded.error, config))
    st.stop()
# The zero-shot model is seen as cat vs dog (folded) or as ImageNet's 1,000 classes.
loaded = ui.chosen_view(loaded, "compare_view", "compare_target")
ui.forget_other_layers(loaded, "layers")
explainer = loaded.explainer
st.caption(shown(display.model_caption(entry, explainer.classifier.info), config))
with st.sidebar:
    photo = ui.photo_source(config, guide.subject(explainer.class_names))
    ui.view_radio(loaded, "compare_view")
grid = grid_widgets(explainer)
if photo is None:
    st.info("Upload a photo, take one, or pick a random validation photo in the sidebar.")
    st.stop()
# The grid is kept for this photo, model and class; every method runs with its defaults.
view = st.session_state.get("compare_view", FOLDED)
key = ExplanationKey(photo.digest, model_key, grid.target, view=view)
try:
    picture = cached_picture(photo, photo.digest)
    # The photo the grid is for: chosen on this page or kept from the Explain page.
    st.image(shrink(picture, 192), caption=photo.name, alt=f"The photo {photo.name}")
    cells = ui.button_result(
        "Fill the grid",
        "fill",
        key,
        "fill the grid",
        functools.partial(fill_grid, explainer, picture, grid),
        type="primary",
        disabled=not (grid.methods and grid.layers),
    )
except UserError as error:
    st.error(shown(one_line(error), config))
    st.stop()
if cells is not None:
    thumb = shrink(picture, config.thumbnail_side)
    show_grid(cells, thumb, explainer.layer_choices, config.alpha)
