"""The Explain page's maps: the photo, the map and the overlay, the contrast row, every layer.

Each picture is made once at display size and kept by what changes it (ui/picture_cache.py, in a
budget of bytes): an alpha step only blends again.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import streamlit as st

from core.cams import uses_layer
from core.config import Config
from core.explain import display, figures, guide
from core.explain.explainer import Explanation
from core.explain.gradients import gradient_picture
from core.explain.overlay import blend
from core.explain.settings import ExplanationKey, Look, View
from core.images import encode_jpeg, shrink
from ui.explain import present
from ui.explain.cache import explained
from ui.models import Chosen
from ui.picture_cache import kept_picture
from ui.slots import Stopped


@kept_picture()
def cached_map(_explanation: Explanation, key: ExplanationKey, layer: str, look: Look, size):
    """The coloured map at display size, keyed by what changes it: an alpha step only blends."""
    return display.colored_map(_explanation, layer, size[0], size[1], **asdict(look))


@kept_picture()
def cached_jpeg(_picture: np.ndarray, *identity) -> bytes:
    """A picture an alpha step does not change, encoded once (st.image sends bytes as they are)."""
    return encode_jpeg(_picture)


@kept_picture()
def cached_thumbnail(_picture: np.ndarray, photo_id: str, side: int) -> np.ndarray:
    return shrink(_picture, side)


def thumbnail(view: View, config: Config) -> np.ndarray:
    """The photo at the small overlays' size (Config.thumbnail_side)."""
    return cached_thumbnail(view.picture, view.key.photo_id, config.thumbnail_side)


def colored(view: View, explanation: Explanation, layer: str, size: tuple) -> np.ndarray:
    """`explanation`'s map (the view's or a contrast's) at `layer`, coloured at `size`, cached."""
    key = view.key.for_target(explanation.target)
    return cached_map(explanation, key, layer, view.settings.look, size[:2])


def show_maps(view: View) -> None:
    """The photo, the map and the overlay side by side (a guided method: its gradient too), then
    the map's own numbers."""
    settings, explanation, photo = view.settings, view.explanation, view.picture
    heatmap = colored(view, explanation, settings.layer, photo.shape)
    about = present.map_title(explanation, settings.layer)
    pixels = explanation.pixels
    left, middle, right, *gradient = st.columns(4 if pixels else 3)
    caption = display.photo_caption(settings.photo.name, settings.photo.data, photo)
    alt = f"The photo {settings.photo.name}"
    left.image(cached_jpeg(photo, view.key.photo_id), caption=caption, width="stretch", alt=alt)
    alt = f"{about}: red where the evidence is strongest"
    heatmap_jpeg = cached_jpeg(heatmap, view.key, settings.layer, settings.look)
    middle.image(heatmap_jpeg, caption=about, width="stretch", alt=alt)
    if not settings.relu:  # the signed map's own colours (overlay.DIVERGING)
        middle.caption(present.signed_legend(explanation))
    caption, alt = f"Overlay, alpha {settings.alpha:.2f}", "The heatmap blended over the photo"
    right.image(blend(photo, heatmap, settings.alpha), caption=caption, width="stretch", alt=alt)
    if pixels:
        picture = gradient_picture(pixels[settings.layer], *photo.shape[:2])
        shown_as = (
            "The gradient × the Grad-CAM map"
            if uses_layer(settings.method)
            else "The gradient's 3 channels"
        )
        caption = f"{shown_as}: grey 0, brighter +, darker −"
        alt = f"{about}: the signed gradient at each pixel, as RGB"
        gradient[0].image(picture, caption=caption, width="stretch", alt=alt)
    numbers = figures.map_figures(explanation, settings.layer)
    for column, (label, text) in zip(st.columns(len(numbers)), numbers):
        column.metric(label, text)


def show_contrast(view: View, chosen: Chosen, thumb: np.ndarray) -> None:
    """Asked for with its toggle: why cat, why dog, and dog minus cat (K > 2: the top two and
    top-1 vs top-2). Three more passes (seconds with Score-CAM on a CPU)."""
    explainer = chosen.loaded.explainer
    if not st.toggle(guide.contrast_toggle(explainer.class_names), key="contrast"):
        return
    layer, settings = view.settings.layer, view.settings
    targets = explainer.contrast_targets(view.explanation)
    for cell, target in zip(st.columns(len(targets)), targets):
        key = view.key.for_target(target)
        try:
            with cell:  # its bar, or its button after a Cancel, in its own column
                cost = present.passes(settings, explainer)
                other = explained(chosen.loaded, settings.photo, key, cost).explanation
        except Stopped as stopped:
            cell.info(str(stopped))
            continue
        if other.is_flat(layer):  # float noise: said so, not drawn as evidence
            cell.info(present.flat_map(other, layer))
            continue
        if other.heatmap(layer).max() == 0 and settings.relu:
            cell.info(present.empty_map(settings, other.title, briefly=True))
            continue
        caption = f"why '{other.title}' (logit {other.score:+.2f})"
        alt = f"Why '{other.title}' at {layer}"
        picture = blend(thumb, colored(view, other, layer, thumb.shape), settings.alpha)
        cell.image(picture, caption=caption, width="stretch", alt=alt)
    st.caption(present.contrast_note(explainer))


def show_layers(view: View, thumb: np.ndarray, layers: dict[str, tuple]) -> None:
    """Under its expander: the overlay at every layer, fine to coarse (a method without a layer:
    why not)."""
    with st.expander("Every layer at once"):
        if not uses_layer(view.settings.method):
            st.caption(guide.NO_LAYER)
            return
        if view.settings.layers:  # Score-CAM paid for the layer shown only
            st.caption(guide.ONE_LAYER.format(method=view.settings.method))
            return
        for cell, layer in zip(st.columns(len(layers)), layers):
            caption, alt = present.layer_caption(layer, layers), f"The map at {layer}"
            heatmap = colored(view, view.explanation, layer, thumb.shape)
            picture = blend(thumb, heatmap, view.settings.alpha)
            cell.image(picture, caption=caption, width="stretch", alt=alt)
