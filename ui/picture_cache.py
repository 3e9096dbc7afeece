"""The pictures the screens draw, kept once per process in a budget of bytes.

`kept_picture` stands where `st.cache_data` stood over a function that returns a picture (a
coloured map, an overlay, a thumbnail, a JPEG, a decoded photo): the same key (the function and
its arguments but those named with a leading underscore, as st.cache_data hashes them), but one
store for every such function, page and session, bounded by Config.picture_cache_mb rather than a
count of entries per function. st.cache_data knows no bytes: 256 coloured maps at display size
were 600 MB. The store hands every session the same read-only arrays (st.cache_data unpickled a
copy for each); nothing that reads them writes into them.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Hashable

import streamlit as st

from ui.bounded import BoundedStore
from ui.config import app_config

MB = 1024 * 1024


@st.cache_resource(show_spinner=False)
def _store(max_bytes: int) -> BoundedStore:
    return BoundedStore(max_bytes)


def pictures() -> BoundedStore:
    """The process's one store of pictures, at the configured budget."""
    return _store(app_config().picture_cache_mb * MB)


def hashable(value: object) -> Hashable:
    """A key for `value`: lists and dicts (a report's class names, its counts) as tuples."""
    if isinstance(value, (list, tuple)):
        return tuple(hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, hashable(item)) for key, item in value.items()))
    return value


def kept_picture(spinner: str = "") -> Callable:
    """A decorator: the function's result kept in `pictures()` under its module, name and the
    arguments not named `_…`; made under `spinner` when it is not there. A result of None (a photo
    that can no longer be read) is made again next time."""

    def decorate(function: Callable) -> Callable:
        signature = inspect.signature(function)
        name = f"{function.__module__}.{function.__qualname__}"

        @functools.wraps(function)
        def kept(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            named = tuple(
                (key, hashable(value))
                for key, value in bound.arguments.items()
                if not key.startswith("_")
            )
            store, key = pictures(), (name, named)
            if (found := store.get(key)) is not None:
                return found
            with st.spinner(spinner) if spinner else contextlib.nullcontext():
                return store.get_or_make(key, lambda: function(*args, **kwargs))

        return kept

    return decorate
