"""The one cache of explained photos, shared by every page that explains one.

Keyed by one hashable `ExplanationKey` (the photo's digest, the model's key, the target, the
method and its options, the view): a photo explained on the Explain page is found by the Side by
side page for the same model and settings, and the other way round. One store per process
(ui/explain/store.py), shared by every session as the model is; its entries know their size in
bytes, and the store holds at most Config.explanation_cache_mb of them.
"""

from __future__ import annotations

import streamlit as st

from core.cams import METHODS
from core.explain import display
from core.explain.settings import FOLDED, ExplanationKey, Photo, Settings
from ui.config import app_config
from ui.explain.store import Explained, ExplanationStore

# Explained photos kept per process, at most: their bytes are bounded by
# Config.explanation_cache_mb (a guided method's gradients weigh 9.4 MB a layer), the count only
# spares the store from scanning many small entries.
MAX_ENTRIES = 64
MB = 1024 * 1024


@st.cache_resource(show_spinner=False)
def _kept(max_bytes: int) -> ExplanationStore:
    return ExplanationStore(MAX_ENTRIES, max_bytes)


def _store() -> ExplanationStore:
    return _kept(app_config().explanation_cache_mb * MB)


def explained(loaded: display.LoadedModel, photo: Photo, key: ExplanationKey) -> Explained:
    """`photo` explained by `loaded` as `key` says, made once per process; ImageError for a photo
    it cannot read (not kept: the next rerun says it again)."""
    store = _store()
    if (found := store.get(key)) is not None:
        return found
    options = dict(key.options)
    # Kept before the spinner goes: a rerun that Streamlit starts at its end loses nothing.
    with st.spinner("Explaining…"):
        return store.get_or_make(
            key,
            lambda: Explained(
                *display.explain_photo(loaded, photo.data, photo.name, key.target, **options)
            ),
        )


def key_for(photo: Photo, model_key: str, target: str, method: str) -> ExplanationKey:
    """The key of `method` at its default options, as the Explain page builds it for the same
    choice: the Side by side page's, so that the two find each other's explanations."""
    defaults = tuple(METHODS[method].own_options({}).items())
    settings = Settings(photo, method, defaults, target=target, view=FOLDED)
    return settings.key(model_key)
