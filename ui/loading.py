"""The model loader every page shares: one cached entry per model, warmed when the server starts;
and Streamlit's per-rerun clean-up made to leave TensorFlow's kernel cache alone
(ui/streamlit_internals.py does that).
"""

from __future__ import annotations

import gc
import inspect
import threading
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from core.errors import one_line
from core.explain.display import LoadedModel, load_app_model
from core.models import catalog
from core.models.catalog import ZERO_SHOT, ModelEntry, model_key
from core.models.load import app_model_path
from ui import streamlit_internals
from ui.config import app_config

# One line per model load or failure on the server's terminal, beside Streamlit's own.
LOG = streamlit_internals.logger(__name__)


# Streamlit's clean-up after every rerun would clear Keras' session: replaced, once per process.
streamlit_internals.keep_keras_session()


# Loaded models the process keeps: a person may switch between three without waiting. A
# ResNet-50 holds about 100 MB of weights and its compiled gradient graphs.
MODELS_KEPT = 3


@st.cache_resource(max_entries=MODELS_KEPT, show_spinner="Loading the model (once per process)…")
def _model(key: str, path: str | None) -> LoadedModel:
    """One entry per model (catalog.model_key: file, modification times, SHA-256), shared by every
    page and session; `path` None: zero-shot ImageNet, built (never weights/ read at load time).

    Never mutated: every visitor gets the very same object. Choosing another model loads only
    that one. Past MODELS_KEPT, the least recently used entry goes: Streamlit's cache_resource
    (1.67) keeps its entries in an LRU cache (runtime/caching/ttl_cache.py: a read moves an entry
    to the end, a write past max_entries drops the first); no ttl is set, so none expires by age.

    A loaded ResNet-50 is ~400,000 Python objects, and a full garbage collection that scans them
    costs 0.35 s: Streamlit forces one after every rerun (runner.postScriptGC, switched off in
    .streamlit/config.toml) and Python runs them on its own now and then. `gc.freeze()` moves every
    object alive now, the model included, out of the collector's sight, so neither costs a person
    anything.
    """
    start = time.perf_counter()
    loaded = load_app_model(app_config(), Path(path) if path else None, path is None)
    gc.freeze()
    if loaded.error:
        LOG.warning("No model: %s", loaded.error)
    else:
        LOG.info("Model loaded in %.1f s: %s", time.perf_counter() - start, key)
    return loaded


def warm_up() -> None:
    """Load the app's model when the server starts (app.py's lifespan), into `_model`'s cache.

    The very entry `app_model()` reads, so the first visitor finds it there. Without a model
    (no weights/ and the zero-shot fallback offline) the entry holds the one-line error, logged
    once, and the Explain page shows it as it would have on a first visit; a later visit tries
    again only once the key changes. When a run publishes new weights (weights/current), the key
    changes and the next page run loads them under the spinner, as before: only the model present
    at start is warmed. Anything else that goes wrong is logged in one line and left uncached,
    so a visitor's page run meets it again and shows it in full. Then the first page's other
    one-off costs: Altair's import, Streamlit's own first-run work.
    """
    # `_model`'s spinner looks for a page to draw on; Streamlit warns that this thread has none.
    streamlit_internals.quiet_missing_context(threading.current_thread())
    try:
        app_model()
    except Exception as error:  # noqa: BLE001 - a thread's failure would otherwise be a traceback
        LOG.error("Could not load the model at start-up: %s", one_line(error))
    # With or without a model, the first page run's other one-off costs.
    _warm_charts()
    _warm_first_page()


def _warm_charts() -> None:
    """Import Altair and build one chart, as the first explained photo's top-classes chart would.

    st.bar_chart imports Altair on first use: 0.3-0.4 s that the first visitor's first photo
    would otherwise wait for (benchmarks/bench_browser.py --cold).
    """
    import altair

    altair.Chart(pd.DataFrame({"class": ["cat"], "p": [1.0]})).mark_bar().encode(
        x="p", y="class"
    ).to_dict()


def _warm_first_page() -> None:
    """Do here what Streamlit does once per process on the first visitor's page run (0.7 s).

    Its first element checks for a Python REPL with `inspect.stack()`, which maps every loaded
    module to its file (TensorFlow's thousands: 0.5 s); `inspect` keeps that map, so this call
    leaves the visitor's only the modules loaded since. The page icons are checked against
    Streamlit's emoji table, loaded on first use (0.2 s).
    """
    inspect.stack()
    streamlit_internals.load_emoji_table()


def app_model() -> tuple[LoadedModel, str]:
    """The app's model (weights/current, else weights/model.keras, else zero-shot) and its key."""
    return model_for(catalog.current(catalog.models(app_config())))


def model_for(entry: ModelEntry) -> tuple[LoadedModel, str]:
    """The model `entry` names (core.catalog), loaded once per process, and its key.

    `current` was resolved once, when the catalog was listed: the model loaded is the one the key
    names, even if a run publishes another in between (the zero-shot entry is always built, never
    the app's model looked up again). Zero-shot as the app's fallback (nothing trained) says, if
    it cannot be built, that no fine-tuned model was found either.
    """
    if entry.key != ZERO_SHOT:
        key = model_key(entry.path)
        return _model(key, str(entry.path)), key
    # Without ImageNet's weights: why, nothing downloaded; kept apart, so weights fetched since
    # (the CLI's first run) are found without a restart.
    loaded = _model(ZERO_SHOT + (" (unavailable)" if entry.unavailable else ""), None)
    if entry.current and loaded.error:
        missing = (
            f"No fine-tuned model at {app_model_path(app_config())}, and no zero-shot fallback"
        )
        loaded = replace(loaded, error=f"{missing}. {loaded.error}")
    return loaded, ZERO_SHOT


def model_at(path: Path) -> LoadedModel:
    """A run's model; the very same object as `app_model()` when it is the app's model file."""
    path = Path(path)
    if path.resolve() == app_model_path(app_config()).resolve():
        return app_model()[0]
    return _model(model_key(path), str(path))
