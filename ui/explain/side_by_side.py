"""The Side by side screen: one photo, one method, two models' predictions and maps; their
difference. Model A is the session's model (the picker every page shares), model B a second one.

Its explanations come from the cache the Explain page fills (ui/explain/cache.py), under the key
the Explain page builds for the same model, class and method at its default options.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from core.cams import METHODS, uses_layer
from core.config import Config
from core.explain import guide
from core.explain.explainer import Explanation
from core.explain.overlay import blend, colorize
from core.explain.settings import ExplanationKey, Photo, Settings
from core.explain.side_by_side import DIFFERENCE, difference_picture, shared_targets, side_by_side
from core.models.catalog import models, second_choice
from ui.access import shown
from ui.explain import present
from ui.explain.cache import cancel, explained, key_for
from ui.explain.screen import top_chart
from ui.models import KEPT_SECOND, Chosen, chosen_model, forget_other_layers
from ui.photos import photo_source
from ui.slots import expensive

SIDES = ("a", "b")  # model A (the session's model) and model B; each widget key ends with one


@dataclass(frozen=True)
class Side:
    """One of the two models as this page explains it."""

    name: str  # "a" or "b"
    chosen: Chosen

    @property
    def title(self) -> str:
        return f"Model {self.name.upper()}"


@dataclass(frozen=True)
class PairSettings:
    """What the page's widgets hold: the photo, the method, each model's layer and class."""

    photo: Photo | None
    method: str
    layers: tuple[str, str]
    targets: tuple[str, str]


def pick_models(config: Config) -> list[Side]:
    """The two pickers in the sidebar: the session's model, then a second one to set beside it.

    The second opens on the run before the first, else zero-shot ImageNet.
    """
    entries = models(config)
    first = chosen_model(entries)
    default = second_choice(entries, first.entry)
    second = chosen_model(entries, "Second model", "second_model", KEPT_SECOND, default)
    return [Side(name, chosen) for name, chosen in zip(SIDES, (first, second))]


def show_failed(sides: list[Side], config: Config) -> bool:
    """Each model that could not be loaded, and what to do; whether there was one."""
    failed = [side for side in sides if side.chosen.loaded.error]
    for side in failed:
        error = f"{side.title} ({side.chosen.entry.label}): {side.chosen.loaded.error}"
        st.error(shown(error, config))
    if failed:
        st.info(
            "Pick another model under **Model** or **Second model** in the sidebar. With one "
            "model on this server, train a second run or bring your own model on the Training "
            "page."
        )
    elif sides[0].chosen.key == sides[1].chosen.key:
        st.info(
            "Model A and model B are the same model: their maps agree. Pick another second model."
        )
    return bool(failed)


def settings_widgets(sides: list[Side], columns: list, config: Config) -> PairSettings:
    """The photo and the method in the sidebar; each model's name, layer and class in its column
    (`columns`: one per model)."""
    with st.sidebar:
        subject = guide.subject(sides[0].chosen.loaded.explainer.class_names)
        photo = photo_source(config, subject)
        st.header("Explanation")
        method = st.selectbox("Method", list(METHODS), key="pair_method")
    for column, side in zip(columns, sides):
        column.subheader(side.title)
        column.caption(side.chosen.entry.named)  # the label, and the digest of the file
    layers = tuple(pick_layer(side, column, method) for column, side in zip(columns, sides))
    if not uses_layer(method):
        st.caption(guide.NO_LAYER)
    return PairSettings(photo, method, layers, tuple(pick_targets(sides, columns)))


def pick_targets(sides: list[Side], columns: list) -> list[str]:
    """A class both models have (or "predicted"), else one class picked for each model."""
    a, b = (side.chosen.loaded.explainer for side in sides)
    shared = shared_targets(a.class_names, b.class_names)
    if shared:
        help = "Each model explains its own logit for this class; 'predicted': its own top class."
        target = st.sidebar.selectbox("Explain the class", shared, key="pair_target", help=help)
        return [target, target]
    st.info("The two models share no class name: pick the class to explain for each.")
    for side in sides:
        targets = side.chosen.loaded.explainer.targets
        if st.session_state.get(f"pair_target_{side.name}") not in targets:
            st.session_state.pop(f"pair_target_{side.name}", None)
    return [
        column.selectbox(
            "Explain the class",
            side.chosen.loaded.explainer.targets,
            key=f"pair_target_{side.name}",
        )
        for column, side in zip(columns, sides)
    ]


def pick_layer(side: Side, column, method: str) -> str:
    """The layer this model is explained at: its own default unless another is picked; the box
    is disabled for a method without a layer (Guided Backprop)."""
    explainer = side.chosen.loaded.explainer
    layers = explainer.layer_choices
    forget_other_layers(side.chosen.loaded, f"pair_layer_{side.name}")
    return column.selectbox(
        "Layer",
        list(layers),
        list(layers).index(explainer.classifier.default_layer),
        key=f"pair_layer_{side.name}",
        format_func=lambda name: present.layer_caption(name, layers),
        disabled=not uses_layer(method),
    )


def pair_key(photo: Photo, model_key: str, target: str, method: str, layer: str) -> ExplanationKey:
    """`key_for`'s key, narrowed to `layer` as the Explain page narrows it for a method that pays
    per layer (Score-CAM, Settings.layers): the two pages still find each other's results."""
    key = key_for(photo, model_key, target, method)
    defaults = tuple(METHODS[method].own_options({}).items())
    layers = Settings(photo, method, defaults, layer=layer).layers
    return replace(key, options=(*key.options, ("layers", layers))) if layers else key


def explain_pair(
    sides: list[Side], settings: PairSettings
) -> tuple[np.ndarray, list[Explanation]]:
    """The photo at display size and each model's explanation of it, from the shared cache or
    now (in one of the process's slots when the two together cost more than two passes)."""
    photo, method = settings.photo, settings.method
    keys = [
        pair_key(photo, side.chosen.key, target, method, layer)
        for side, target, layer in zip(sides, settings.targets, settings.layers)
    ]
    costs = [
        side.chosen.loaded.explainer.cost(method, dict(key.options).get("layers", ()))
        for side, key in zip(sides, keys)
    ]
    with expensive(f"explain with {method}", sum(costs) > 2, *cancel(keys[0])):
        found = [
            explained(side.chosen.loaded, photo, key, cost)
            for side, key, cost in zip(sides, keys, costs)
        ]
    return found[0].picture, [each.explanation for each in found]


def show_pair(sides: list[Side], columns: list, settings: PairSettings, config: Config) -> None:
    """Each model's prediction and map over the photo in its column, then their difference;
    ImageError for a photo neither can read."""
    picture, (a, b) = explain_pair(sides, settings)
    layers = settings.layers
    pair = side_by_side(a, layers[0], b, layers[1], picture.shape)
    for column, side, explanation, layer, heatmap in zip(
        columns, sides, (a, b), layers, pair.maps
    ):
        overlay = blend(picture, colorize(heatmap, *picture.shape[:2]), config.alpha)
        show_side(column, side, explanation, layer, overlay)
    show_difference(pair.difference, pair.note)


def show_side(column, side: Side, explanation: Explanation, layer: str, overlay: np.ndarray):
    """One model's prediction, its top 5 classes and its map over the photo, in its column."""
    column.markdown(present.prediction(explanation))
    top_chart(column, explanation, 180, f"{side.title}'s")
    if explanation.note:
        column.warning(shown(explanation.note))
    about = present.map_title(explanation, layer)
    column.image(overlay, caption=about, width="stretch", alt=f"{side.title}: {about}")


def show_difference(difference: np.ndarray, note: str | None) -> None:
    """A minus B on the diverging colormap, beside what its colours mean; `note` above it when
    the two maps explain different classes."""
    st.subheader("Where the two maps differ")
    if note:
        st.warning(note)
    left, right = st.columns(2)
    alt = "Model A's map minus model B's: red where A looks more, blue where B does"
    left.image(difference_picture(difference), caption="A minus B", width="stretch", alt=alt)
    right.markdown(DIFFERENCE)
    mean = f"{float(np.abs(difference).mean()):.2f}"
    right.metric("Mean |A − B|", mean, help="0: the same map; 1: opposite maps.")
