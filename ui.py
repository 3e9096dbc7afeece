"""Streamlit-side glue every page shares: the one model loader, and no Keras clean-up between reruns.

Beside `app.py`, not in `core/`, because it imports Streamlit; `core/` stays importable without it.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import script_runner

from core import Config
from core.app_support import LoadedModel, load_app_model, model_key


def _close_figures_only() -> None:
    """What Streamlit's per-rerun clean-up does, less `keras.backend.clear_session()`.

    Streamlit calls `_clean_problem_modules()` after every rerun. In Keras 3 its `clear_session()` drops
    TensorFlow's kernel cache and runs `gc.collect()`: 0.3 s, and the next explanation then takes 6-10x
    longer. This app never builds models in the script thread (it keeps one compiled model per process),
    so there is nothing for that call to clean. Replacing Streamlit's hook, rather than muting
    `keras.backend.clear_session` for the whole process, leaves that function working for any other
    caller; matplotlib figures are still closed as Streamlit does. If a future Streamlit renames the hook,
    the assignment below adds a harmless attribute and tests/test_app.py's spy on `clear_session` fails.
    """
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


STREAMLIT_CLEANUP = getattr(script_runner, "_clean_problem_modules", None)  # kept for the test that spies on it
script_runner._clean_problem_modules = _close_figures_only


@st.cache_resource(max_entries=2, show_spinner="Loading the model (once per process)…")
def _model(key: str, path: str | None) -> LoadedModel:
    """One entry per model file and modification time, shared by every page and session; never mutated.

    A loaded ResNet-50 is ~400,000 Python objects, and a full garbage collection that scans them costs
    0.35 s: Streamlit forces one after every rerun (runner.postScriptGC, switched off in
    .streamlit/config.toml) and Python runs them on its own now and then. `gc.freeze()` moves every
    object alive now, the model included, out of the collector's sight, so neither costs a person anything.
    """
    loaded = load_app_model(Config(), Path(path) if path else None)
    gc.freeze()
    return loaded


def app_model() -> tuple[LoadedModel, str]:
    """The app's model (weights/current, else weights/model.keras, else zero-shot) and its cache key."""
    config = Config()
    key = model_key(config.model_path)
    return _model(key, None), key


def model_at(path: Path) -> LoadedModel:
    """A run's model; the very same object as `app_model()` when it is the app's model file."""
    path = Path(path)
    if path.resolve() == Config().model_path.resolve():
        return app_model()[0]
    return _model(model_key(path), str(path))
