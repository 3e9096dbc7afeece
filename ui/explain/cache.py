"""The one cache of explained photos, shared by every page that explains one.

Keyed by one hashable `ExplanationKey` (the photo's digest, the model's key, the target, the
method and its options, the view): a photo explained on the Explain page is found by the Side by
side page for the same model and settings, and the other way round. One store per process
(ui/explain/store.py), shared by every session as the model is; its entries know their size in
bytes, and the store holds at most Config.explanation_cache_mb of them.
"""

from __future__ import annotations

import functools

import streamlit as st

from core.cams import METHODS, is_guided
from core.cams.guided import build_guided, layers_to_clone
from core.explain import display
from core.explain.settings import FOLDED, ExplanationKey, Photo, Settings
from ui.config import app_config
from ui.explain.present import CHEAP
from ui.explain.store import Explained, ExplanationStore
from ui.slots import Stopped, cheap_first, working

# Explained photos kept per process, at most: their bytes are bounded by
# Config.explanation_cache_mb (a guided method's gradients weigh 9.4 MB a layer), the count only
# spares the store from scanning many small entries.
MAX_ENTRIES = 64
MB = 1024 * 1024
STOPPED = "stopped explanations"  # the keys of the explanations a person cancelled


@st.cache_resource(show_spinner=False)
def _kept(max_bytes: int) -> ExplanationStore:
    return ExplanationStore(MAX_ENTRIES, max_bytes)


def _store() -> ExplanationStore:
    return _kept(app_config().explanation_cache_mb * MB)


def explained(
    loaded: display.LoadedModel, photo: Photo, key: ExplanationKey, passes: int = 0
) -> Explained:
    """`photo` explained by `loaded` as `key` says, made once per process; ImageError for a photo
    it cannot read (not kept: the next rerun says it again).

    Work of more than CHEAP `passes` runs under a bar with Cancel (ui.slots.working); cancelled,
    it raises Stopped, with a button that asks for it again, until then. A guided method's first
    use builds the model's guided clone first, under a bar of its own.
    """
    store, state = _store(), st.session_state
    if (found := store.get(key)) is not None:
        return found
    method = dict(key.options)["method"]
    if is_stopped(key):
        st.button(
            f"Explain with {method} after all",
            key=f"after all {hash(key)}",
            on_click=lambda: state[STOPPED].discard(key),
        )
        raise Stopped(f"Stopped: {method} for {photo.name} was cancelled.")
    stop = cancel(key)
    build_guided_first(loaded.explainer.classifier.model, [method], f"guided {hash(key)}", stop)
    make = functools.partial(_explain, loaded, photo, key)
    if passes <= CHEAP:  # (ui/explain/screen.py's explain_first too: before the page draws)
        # Kept before the spinner goes: a rerun that Streamlit starts at its end loses nothing.
        with st.spinner("Explaining…"), cheap_first():
            return store.get_or_make(key, make)
    # Its own key: the contrast's three explanations may each have a bar in one run.
    bar = f"explaining {hash(key)}"
    with working(f"Explaining with {method}", passes, "forward passes", bar, *stop):
        return store.get_or_make(key, make)


def cancel(key: ExplanationKey) -> tuple:
    """A Cancel button's callback and its arguments: `key`'s explanation is no longer wanted."""
    return _stop, (key,)


def is_stopped(key: ExplanationKey) -> bool:
    """Was `key`'s explanation cancelled in this session (and not asked for again)?"""
    return key in st.session_state.get(STOPPED, ())


def _stop(key: ExplanationKey) -> None:
    st.session_state.setdefault(STOPPED, set()).add(key)


def _explain(loaded: display.LoadedModel, photo: Photo, key: ExplanationKey) -> Explained:
    options = dict(key.options)
    return Explained(*display.explain_photo(loaded, photo.data, photo.name, key.target, **options))


def build_guided_first(model, methods: list[str], key: str, stop=()) -> None:
    """When one of `methods` is guided and `model`'s guided clone is not built yet (a ResNet-50's
    takes ~10 s), build it now under its own bar, with Cancel (`stop`: its callback and args);
    NoReLUError for a model with no ReLU to guide."""
    if any(map(is_guided, methods)) and (layers := layers_to_clone(model)):
        doing = "Building the model's guided copy (once per model)"
        with working(doing, layers, "layers", key, *stop) as step:
            build_guided(model, step)


def key_for(photo: Photo, model_key: str, target: str, method: str) -> ExplanationKey:
    """The key of `method` at its default options, as the Explain page builds it for the same
    choice: the Side by side page's, so that the two find each other's explanations."""
    defaults = tuple(METHODS[method].own_options({}).items())
    settings = Settings(photo, method, defaults, target=target, view=FOLDED)
    return settings.key(model_key)
