"""The model picker every explaining page draws at the top of its sidebar, and what it chose.

The choice is kept in a non-widget key of the person's session, as ui/photos.py keeps the photo:
Streamlit forgets a widget's value on a page that does not draw it (Training), and keeps these.
A new session starts on the current model (core.catalog marks it) and follows it while nothing
else was picked.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.explain.display import LoadedModel
from core.models.catalog import ModelEntry, current
from ui.loading import model_for

# Non-widget keys: the model chosen on any page, and the side-by-side page's second model.
KEPT_MODEL = "kept_model"
KEPT_SECOND = "kept_second_model"
HELP = (
    "The trained runs (date · dataset), a model copied in by hand, imported models and "
    "zero-shot ImageNet. Each is loaded once; switching back is instant."
)


@dataclass(frozen=True)
class Chosen:
    """The model a picker chose: its catalogue entry, the model loaded, and its key."""

    entry: ModelEntry
    loaded: LoadedModel
    key: str  # catalog.model_key: what its results are kept under


def chosen_model(
    entries: list[ModelEntry],
    label: str = "Model",
    key: str = "model",
    kept: str = KEPT_MODEL,
    default: ModelEntry | None = None,
) -> Chosen:
    """The picker in the sidebar, and the model it chose."""
    with st.sidebar:
        entry = model_picker(entries, label, key, kept, default)
    return Chosen(entry, *model_for(entry))


def model_picker(
    entries: list[ModelEntry],
    label: str = "Model",
    key: str = "model",
    kept: str = KEPT_MODEL,
    default: ModelEntry | None = None,
) -> ModelEntry:
    """A select of `entries` by label, the chosen one's facts in a caption under it.

    Opens on what `kept` holds, else on `default`, else on the current model.
    """
    by_key = {entry.key: entry for entry in entries}
    chosen = st.session_state.get(kept)
    if chosen not in by_key:  # never picked, or since deleted: the default again
        chosen = opening(entries, default).key
    # Set, not offered as the widget's index: the widget would keep its own value from the last
    # run, and a run published since would not become the model of someone who never picked.
    st.session_state[key] = chosen
    picked = st.selectbox(
        label,
        list(by_key),
        format_func=lambda name: by_key[name].label,
        key=key,
        on_change=_keep,
        args=(key, kept),
        help=HELP,
    )
    entry = by_key[picked]
    st.caption(entry.facts)
    return entry


def opening(entries: list[ModelEntry], default: ModelEntry | None = None) -> ModelEntry:
    """`default`, else the current model; one that is unavailable (zero-shot offline) only when
    no other model is there to open on."""
    first = default or current(entries)
    available = [entry for entry in entries if not entry.unavailable]
    return first if not first.unavailable else next(iter(available), first)


def _keep(key: str, kept: str) -> None:
    st.session_state[kept] = st.session_state[key]


def forget_other_layers(loaded: LoadedModel, *keys: str) -> None:
    """Forget a layer choice (a widget's key in `keys`) naming a layer the model does not have.

    Another model has other layers: the widget then opens on its default for this model.
    """
    layers = loaded.explainer.layer_choices
    for key in keys:
        held = st.session_state.get(key)
        if held is not None and not set([held] if isinstance(held, str) else held) <= set(layers):
            del st.session_state[key]
