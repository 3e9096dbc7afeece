"""What to explain and how, as widgets: the Explain page's sidebar, some shared with Compare.

The model (the picker every page shares) seen through the zero-shot model's view (cat vs dog
folded, or ImageNet's 1,000 classes), the photo (ui/photos.py), the class (a select, which
Streamlit lets a person search by typing, so 37 breeds or 1,000 classes work alike), the method
with its options, the layer, and how the map is drawn. Each widget's key is a `Settings` field.
"""

from __future__ import annotations

from dataclasses import fields, replace

import streamlit as st

from core.cams import METHODS, is_guided, uses_layer
from core.config import PREDICTED_TARGET, Config
from core.explain import guide
from core.explain.display import LoadedModel
from core.explain.explainer import Explainer
from core.explain.overlay import COLORMAPS
from core.explain.settings import FOLDED, UPSAMPLING, Settings
from core.models.catalog import models
from ui.explain.present import passes, readable, slider_label
from ui.kept import keep, restore
from ui.models import Chosen, chosen_model, forget_other_layers
from ui.photos import current_photo, photo_source

# The sidebar's widget keys (Settings' fields and every method's options): kept for the session.
SIDEBAR_KEYS = (
    *(each.name for each in fields(Settings) if each.name not in ("photo", "method_options")),
    *(name for method in METHODS.values() for name in method.options),
)


def choose_model(config: Config, view_key: str, target_key: str, layer_key: str) -> Chosen:
    """The model picker in the sidebar, and the model it chose seen through the view `view_key`
    holds; a layer choice (`layer_key`) the model lacks is forgotten.

    The sidebar's settings kept from an earlier visit come back first, so what this model lacks is
    forgotten from them too.
    """
    restore(SIDEBAR_KEYS)
    chosen = chosen_model(models(config))
    if chosen.loaded.error:
        return chosen
    chosen = replace(chosen, loaded=chosen_view(chosen.loaded, view_key, target_key))
    forget_other_layers(chosen.loaded, layer_key)
    return chosen


def read_settings(loaded: LoadedModel) -> Settings:
    """What the Explain page's widgets hold, or will once drawn (their defaults)."""
    state = st.session_state
    return Settings.from_state(
        state, loaded.explainer.classifier.default_layer, current_photo(state)
    )


def sidebar(loaded: LoadedModel, config: Config) -> Settings:
    """The Explain page's sidebar, top to bottom, and what it holds."""
    with st.sidebar:
        photo_source(config, guide.subject(loaded.explainer.class_names))
        st.expander("What am I looking at?").markdown(guide.WHAT_AM_I_LOOKING_AT)
        st.header("Explanation")
        view_radio(loaded, "view")
        method_widgets(loaded.explainer)
        look_widgets(st.session_state.get("method", Settings.method))
    keep(SIDEBAR_KEYS)
    return read_settings(loaded)


def chosen_view(loaded: LoadedModel, view_key: str, target_key: str) -> LoadedModel:
    """The model seen through the view `view_key` holds, before any widget is drawn.

    A target the view does not have (a breed after switching to cat vs dog) is forgotten, so its
    select falls back to "predicted" instead of naming a class the model lacks.
    """
    loaded = loaded.view(st.session_state.get(view_key, FOLDED))
    if st.session_state.get(target_key, PREDICTED_TARGET) not in loaded.explainer.targets:
        del st.session_state[target_key]
    return loaded


def view_radio(loaded: LoadedModel, key: str) -> None:
    """The zero-shot model's two views; nothing for a fine-tuned model, which has one."""
    if loaded.views:
        tip = "ImageNet's classes: each explained by its own logit (the top 5 are shown)."
        st.radio("Classes", loaded.views, key=key, help=tip)


def target_select(explainer: Explainer, key: str) -> str:
    """The class to explain: predicted, any class (type to search), then the contrast."""
    return st.selectbox(
        "Explain the class",
        explainer.targets,
        key=key,
        format_func=readable,
        help="Which class's logit the gradients come from; type to search.",
    )


def method_widgets(explainer: Explainer) -> None:
    """What to explain, and how: each widget's key is a Settings field, its default the field's."""
    tip = "Grad-CAM is the classic; the Compare page sets the others beside it on your photo."
    method = st.selectbox(
        "Method", [*METHODS], [*METHODS].index(Settings.method), key="method", help=tip
    )
    layers = explainer.layer_choices
    st.select_slider(
        "Layer (fine → coarse, then all fused)",
        options=list(layers),
        value=explainer.classifier.default_layer,
        key="layer",
        format_func=lambda name: slider_label(name, layers),
        help="Early layers are sharp but see edges and fur; the last layer (7×7) sees 'cat' or "
        "'dog'.",
        disabled=not uses_layer(method),
    )
    if not uses_layer(method):
        st.caption(guide.NO_LAYER)
    target_select(explainer, "target")
    # The options the method declares (Score-CAM: the channels it tries), and what they cost.
    for name, option in METHODS[method].options.items():
        st.select_slider(option.label, option.choices, option.default, key=name, help=option.help)
    chosen = Settings.from_state(st.session_state, explainer.classifier.default_layer)
    cost = passes(chosen, explainer)
    # Always in its place, empty or not: an element that comes and goes above the Advanced
    # expander would move it, and Streamlit would draw it anew, closed.
    cost_line = st.empty()
    if cost > 1:
        which = "this layer" if chosen.layers else "all layers"
        cost_line.caption(f"Costs about {cost:,} forward passes for this photo ({which}).")


def look_widgets(method: str) -> None:
    """How the map is drawn, and the method's smoothing under Advanced (a guided method: what
    does not apply to it)."""
    st.slider("Heatmap opacity (alpha)", 0.0, 1.0, Settings.alpha, 0.05, key="alpha")
    signed = not st.session_state.get("relu", Settings.relu)
    own_scale = "With ReLU off, the signed map has its own scale: red for the class, blue against."
    st.selectbox(
        "Colormap",
        COLORMAPS,
        COLORMAPS.index(Settings.colormap),
        key="colormap",
        disabled=signed,
        help=own_scale if signed else None,
    )
    with st.expander("Advanced"):
        relu = "ReLU (only what speaks for the class)"
        st.checkbox(relu, Settings.relu, key="relu", help="Off: signed map, blue against.")
        upsampling = UPSAMPLING.index(Settings.upsampling)
        st.radio("Upsampling", UPSAMPLING, upsampling, horizontal=True, key="upsampling")
        augmentation = "Test-time augmentation (flips × intensity scales)"
        st.checkbox(augmentation, Settings.aug_smooth, key="aug_smooth")
        eigen = "Eigen-smooth (first principal component)"
        st.checkbox(eigen, Settings.eigen_smooth, key="eigen_smooth")
        if is_guided(method):
            st.caption(guide.GUIDED_SETTINGS)
