"""Widget values kept for the person's session from page to page.

Streamlit forgets a widget's value when a page that does not draw it runs: back on the Explain
page, its sidebar would open on its defaults, the Training form on its own. The screens copy their
widgets' values into one non-widget key after drawing them (`keep`), and put them back before
drawing them again (`restore`), as ui/models.py keeps the model chosen and ui/photos.py the photo.
"""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

KEPT = "kept_widgets"  # a non-widget key: {widget key: its value when last drawn}


def restore(keys: Iterable[str]) -> None:
    """Each of `keys` the session no longer holds, back at the value it was kept at (if any)."""
    state, kept = st.session_state, st.session_state.get(KEPT, {})
    for key in keys:
        if key not in state and key in kept:
            state[key] = kept[key]


def keep(keys: Iterable[str]) -> None:
    """The values the session holds for `keys` now, kept for the next page that draws them."""
    state = st.session_state
    state[KEPT] = {**state.get(KEPT, {}), **{key: state[key] for key in keys if key in state}}
