"""Side-by-side page: one photo, one method, two models' predictions and maps; their difference.

Model A is the session's model (the picker every page shares), model B a second one.
"""

from dataclasses import dataclass

import numpy as np
import streamlit as st

import ui
from core.cams import METHODS, uses_layer
from core.config import Config
from core.errors import UserError, one_line
from core.explain import display, guide
from core.explain.explainer import Explanation
from core.explain.overlay import blend, colorize
from core.explain.settings import ExplanationKey, Photo
from core.explain.side_by_side import DIFFERENCE, difference_picture, shared_targets, side_by_side
from core.models.catalog import ModelEntry, models, second_choice
from ui.access import shown
from ui.explaining import top_chart
from ui.models import KEPT_SECOND

SIDES = ("a", "b")  # model A (the session's model) and model B; each widget key ends with one


@st.cache_data(max_entries=32, show_spinner="Explaining…")
def cached_explanation(
    _loaded: display.LoadedModel, _photo: Photo, key: ExplanationKey
) -> tuple[np.ndarray, Explanation]:
    """One model's explanation of the photo, keyed by `key` (photo, model, target, method)."""
    photo = _photo
    return display.explain_photo(_loaded, photo.data, photo.name, key.target, **dict(key.options))


@dataclass(frozen=True)
class Side:
    """One of the two models as this page explains it."""

    name: str  # "a" or "b"
    entry: ModelEntry
    loaded: display.LoadedModel
    model_key: str


def pick_models(config: Config) -> list[Side]:
    """The two pickers in the sidebar: the session's model, then a second one to set beside it.

    The second opens on the run before the first, else zero-shot ImageNet.
    """
    entries = models(config)
    first = ui.chosen_model(entries)
    default = second_choice(entries, first[0])
    second = ui.chosen_model(entries, "Second model", "second_model", KEPT_SECOND, default)
    return [Side(name, *chosen) for name, chosen in zip(SIDES, (first, second))]


def pick_targets(sides: list[Side], columns: list) -> list[str]:
    """A class both models have (or "predicted"), else one class picked for each model."""
    a, b = (side.loaded.explainer for side in sides)
    shared = shared_targets(a.class_names, b.class_names)
    if shared:
        help = "Each model explains its own logit for this class; 'predicted': its own top class."
        target = st.sidebar.selectbox("Explain the class", shared, key="pair_target", help=help)
        return [target, target]
    st.info("The two models share no class name: pick the class to explain for each.")
    for side in sides:
        if st.session_state.get(f"pair_target_{side.name}") not in side.loaded.explainer.targets:
            st.session_state.pop(f"pair_target_{side.name}", None)
    return [
        column.selectbox(
            "Explain the class", side.loaded.explainer.targets, key=f"pair_target_{side.name}"
        )
        for column, side in zip(columns, sides)
    ]


def pick_layer(side: Side, column, method: str) -> str:
    """The layer this model is explained at: its own default unless another is picked; the box
    is disabled for a method without a layer (Guided Backprop)."""
    layers = side.loaded.explainer.layer_choices
    ui.forget_other_layers(side.loaded, f"pair_layer_{side.name}")
    return column.selectbox(
        "Layer",
        list(layers),
        list(layers).index(side.loaded.explainer.classifier.default_layer),
        key=f"pair_layer_{side.name}",
        format_func=lambda n: f"{n} · {layers[n][0]}×{layers[n][1]}",
        disabled=not uses_layer(method),
    )


def show_side(column, side: Side, explanation: Explanation, layer: str, overlay: np.ndarray):
    """One model's prediction, its top 5 classes and its map over the photo, in its column."""
    best = explanation.label
    column.markdown(f"Prediction: **{best}** ({explanation.probabilities[best]:.1%})")
    top_chart(column, explanation, 180, f"Model {side.name.upper()}'s")
    if explanation.note:
        column.warning(shown(explanation.note))
    at = f" at {layer}" if uses_layer(explanation.method) else ""
    about = f"{explanation.method} for '{explanation.title}'{at}"
    alt = f"Model {side.name.upper()}: {about}"
    column.image(overlay, caption=about, width="stretch", alt=alt)


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


st.title("Two models side by side")
st.markdown(
    "One photo, one method, two models: each one's prediction and map at its own layer, both "
    "maps stretched to the photo, and their difference. Try zero-shot ImageNet against a "
    "fine-tuned run, or the run before against the run after."
)
config = Config()
sides = pick_models(config)
failed = [side for side in sides if side.loaded.error]
for side in failed:
    st.error(shown(f"Model {side.name.upper()} ({side.entry.label}): {side.loaded.error}", config))
if failed:
    st.info(
        "Pick another model under **Model** or **Second model** in the sidebar. With one model on "
        "this server, train a second run or bring your own model on the Training page."
    )
    st.stop()
if sides[0].model_key == sides[1].model_key:
    st.info("Model A and model B are the same model: their maps agree. Pick another second model.")
with st.sidebar:
    photo = ui.photo_source(config, guide.subject(sides[0].loaded.explainer.class_names))
    st.header("Explanation")
    method = st.selectbox("Method", list(METHODS), key="pair_method")
columns = st.columns(2)
for column, side in zip(columns, sides):
    column.subheader(f"Model {side.name.upper()}")
    column.caption(side.entry.named)  # the label, and the digest of the file that made its map
layers = [pick_layer(side, column, method) for column, side in zip(columns, sides)]
if not uses_layer(method):
    st.caption(guide.NO_LAYER)
targets = pick_targets(sides, columns)
if photo is None:
    st.info("Upload a photo, take one, or pick a random validation photo in the sidebar.")
    st.stop()
keys = [
    ExplanationKey(photo.digest, side.model_key, target, (("method", method),))
    for side, target in zip(sides, targets)
]
cost = sum(side.loaded.explainer.cost(method) for side in sides)
try:
    with ui.expensive(f"explain with {method}", when=cost > 2):
        (picture, a), (_, b) = [
            cached_explanation(side.loaded, photo, key) for side, key in zip(sides, keys)
        ]
except UserError as error:
    st.error(shown(one_line(error), config))
    st.stop()
pair = side_by_side(a, layers[0], b, layers[1], picture.shape)
for column, side, explanation, layer, heatmap in zip(columns, sides, (a, b), layers, pair.maps):
    overlay = blend(picture, colorize(heatmap, *picture.shape[:2]), config.alpha)
    show_side(column, side, explanation, layer, overlay)
show_difference(pair.difference, pair.note)
