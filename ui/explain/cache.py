"""The one cache of explained photos, shared by every page that explains one.

Keyed by one hashable `ExplanationKey` (the photo's digest, the model's key, the target, the
method and its options, the view): a photo explained on the Explain page is found by the Side by
side page for the same model and settings, and the other way round. One store per process
(ui/explain/store.py), shared by every session as the model is; its entries know their size in
bytes, so a limit in bytes is MAX_BYTES below.
"""

from __future__ import annotations

import streamlit as st

from core.cams import METHODS
from core.explain import display
from core.explain.settings import FOLDED, ExplanationKey, Photo, Settings
from ui.explain.store import Explained, ExplanationStore

# Explained photos kept per process. An entry is mostly its photo at display size (at most
# 1024×768×3: 2.4 MB; a ResNet-50's maps at its four stages are tens of KB), so 64 hold about
# 150 MB at most.
MAX_ENTRIES = 64
MAX_BYTES: int | None = None  # no limit in bytes yet; the store enforces one when set


@st.cache_resource(show_spinner=False)
def _store() -> ExplanationStore:
    return ExplanationStore(MAX_ENTRIES, MAX_BYTES)


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
