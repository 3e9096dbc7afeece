"""Every use of Streamlit's private parts, in one place: written for Streamlit 1.67.0.

Streamlit promises nothing about these; an upgrade may rename or drop any of them. Each one below
says what it was written against, does nothing harmful when that is gone, and has a test in
tests/test_streamlit_internals.py that fails loudly when it is: run those after an upgrade.
Imports Streamlit only (app.py reads this module when the server starts, before TensorFlow).
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import streamlit as st
from streamlit import string_util
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.logger import get_logger
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner
from streamlit.runtime.scriptrunner_utils import script_run_context

VERSION = "1.67.0"  # the Streamlit every patch below was written for and tested with
LOG = get_logger(__name__)  # streamlit.logger: a line on the server's terminal, beside its own


def logger(name: str) -> logging.Logger:
    """A logger whose lines Streamlit prints as it prints its own (streamlit.logger, 1.67.0)."""
    return get_logger(name)


# Streamlit 1.67.0: script_runner.py calls its module function `_clean_problem_modules()` after
# every rerun (ScriptRunner._run_script), which calls keras.backend.clear_session(). Kept for the
# test that spies on it; None when an upgrade has dropped it.
STREAMLIT_CLEANUP: Callable[[], None] | None = getattr(
    script_runner, "_clean_problem_modules", None
)


def close_figures_only() -> None:
    """What Streamlit's per-rerun clean-up does, less `keras.backend.clear_session()`.

    In Keras 3 `clear_session()` drops TensorFlow's kernel cache and runs `gc.collect()`: 0.3 s,
    and the next explanation then takes 6-10x longer. This app never builds models in the script
    thread (it keeps one compiled model per process), so there is nothing for that call to clean.
    Replacing Streamlit's hook, rather than muting `keras.backend.clear_session` for the whole
    process, leaves that function working for any other caller; matplotlib figures are still
    closed as Streamlit does.
    """
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


def keep_keras_session() -> None:
    """Put `close_figures_only` in place of Streamlit's per-rerun clean-up (1.67.0).

    Checked first: a Streamlit without the hook is left alone, said once on the terminal (reruns
    are then slower, never wrong), and tests/test_streamlit_internals.py fails.
    """
    if STREAMLIT_CLEANUP is None:
        LOG.warning("Streamlit %s has no _clean_problem_modules to replace.", st.__version__)
        return
    script_runner._clean_problem_modules = close_figures_only


def quiet_missing_context(thread: threading.Thread) -> None:
    """No "missing ScriptRunContext" warning from `thread`, which has no page to draw on.

    Streamlit 1.67.0 logs it from scriptrunner_utils/script_run_context.py's own logger when a
    cached function's spinner looks for a page (the model's warm-up at start).
    """
    name = thread.name
    logging.getLogger(script_run_context.__name__).addFilter(lambda r: r.threadName != name)


def load_emoji_table() -> None:
    """Load the table Streamlit checks page icons against (string_util.is_emoji, 1.67.0): 0.2 s
    that the first visitor's page run would otherwise spend."""
    string_util.is_emoji("🐾")


def leave_pages_directory_mode() -> None:
    """Have every session use st.navigation's pages, never the pages/ folder's.

    Streamlit 1.67.0 runs a fresh server's first session in the old pages/-folder mode when pages/
    exists, until st.navigation has run once (streamlit/streamlit#9992): a first visitor who opened
    /training directly would get the folder's page list, "app" included. The class attribute
    PagesManager.uses_pages_directory (None until decided) is what it asks.
    """
    PagesManager.uses_pages_directory = False


def secrets() -> dict:
    """.streamlit/secrets.toml as a dict; {} when there is none (streamlit.errors, 1.67.0)."""
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return {}


# The browser code an explained photo needs that Streamlit's frontend fetches only when the first
# such element arrives (its Vite chunks, by their names in Streamlit 1.67.0's static/static/js/:
# the uploader's HTTP client, pictures, metrics, the top-classes chart and its Vega, buttons).
# Fetched on the first upload, it made that upload 0.1-0.5 s slower than the later ones
# (benchmarks/bench_browser.py --cold).
RESULT_CODE = (
    "axios",
    "ImageList",
    "Metric",
    "ArrowVegaLiteChart",
    "embed",
    "vega-interpreter",
    "DownloadButton",
    "Button",
)
# Imported relative to Streamlit's own entry script, as its frontend imports them: the browser
# keeps one copy of each module, so the later import by the frontend costs nothing. Once the
# browser is idle: compiling them at once held back the uploader of a first visit by 0.1-0.5 s. A
# chunk that fails is only not preloaded; `window.catdogPreloaded` counts those that loaded.
PRELOAD = """<script>
const index = [...document.scripts].find(s => /static\\/js\\/index\\./.test(s.src));
const load = () => Promise.allSettled(FILES.map(f => import(new URL(f, index.src).href))).then(
  done => { window.catdogPreloaded = done.filter(d => d.status === "fulfilled").length; });
if (index) (window.requestIdleCallback || setTimeout)(load);
</script>"""


@functools.cache
def result_chunks() -> list[str]:
    """The file names of RESULT_CODE's chunks in the installed Streamlit (static/static/js/)."""
    static = Path(st.__file__).parent / "static" / "static" / "js"
    return sorted(
        path.name
        for name in RESULT_CODE
        for path in static.glob(f"{name}.*.js")
        if path.name.count(".") == 2
    )


def preload_result_code() -> None:
    """Have the browser fetch the code that draws an explanation while the page awaits a photo.

    Streamlit has no prefetch of its own; a script element (st.html with JavaScript allowed,
    holding only these file names) is the one way in. Chunks a future Streamlit renames are
    simply not found (tests/test_streamlit_internals.py names each).
    """
    st.html(PRELOAD.replace("FILES", json.dumps(result_chunks())), unsafe_allow_javascript=True)
