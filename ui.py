"""Streamlit-side glue every page shares: the one model loader, no Keras clean-up between reruns,
who may train.

Beside `app.py`, not in `core/`, because it imports Streamlit; `core/` stays importable without it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
import time
from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.runtime.scriptrunner import script_runner

from core.config import Config
from core.explain.display import LoadedModel, load_app_model, model_key
from core.images import UPLOAD_TYPES
from core.model import app_model_path
from core.training.access import MAX_TRIES, WAIT_SECONDS, password_matches


def _close_figures_only() -> None:
    """What Streamlit's per-rerun clean-up does, less `keras.backend.clear_session()`.

    Streamlit calls `_clean_problem_modules()` after every rerun. In Keras 3 its `clear_session()`
    drops TensorFlow's kernel cache and runs `gc.collect()`: 0.3 s, and the next explanation then
    takes 6-10x longer. This app never builds models in the script thread (it keeps one compiled
    model per process), so there is nothing for that call to clean. Replacing Streamlit's hook,
    rather than muting `keras.backend.clear_session` for the whole process, leaves that function
    working for any other caller; matplotlib figures are still closed as Streamlit does. If a
    future Streamlit renames the hook, the assignment below adds a harmless attribute and
    tests/test_app.py's spy on `clear_session` fails.
    """
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


STREAMLIT_CLEANUP = getattr(
    script_runner, "_clean_problem_modules", None
)  # kept for the test that spies on it
script_runner._clean_problem_modules = _close_figures_only


@st.cache_resource(max_entries=2, show_spinner="Loading the model (once per process)…")
def _model(key: str, path: str | None) -> LoadedModel:
    """One entry per model file and modification time, shared by every page and session; never
    mutated.

    A loaded ResNet-50 is ~400,000 Python objects, and a full garbage collection that scans them
    costs 0.35 s: Streamlit forces one after every rerun (runner.postScriptGC, switched off in
    .streamlit/config.toml) and Python runs them on its own now and then. `gc.freeze()` moves every
    object alive now, the model included, out of the collector's sight, so neither costs a person
    anything.
    """
    loaded = load_app_model(Config(), Path(path) if path else None)
    gc.freeze()
    return loaded


def app_model() -> tuple[LoadedModel, str]:
    """The app's model (weights/current, else weights/model.keras, else zero-shot) and its cache
    key."""
    config = Config()
    key = model_key(app_model_path(config))
    return _model(key, None), key


def model_at(path: Path) -> LoadedModel:
    """A run's model; the very same object as `app_model()` when it is the app's model file."""
    path = Path(path)
    if path.resolve() == app_model_path().resolve():
        return app_model()[0]
    return _model(model_key(path), str(path))


# Who may train
# ------------------------------------------------------------------------------------------


def _secrets() -> dict:
    """.streamlit/secrets.toml as a dict; {} when there is none."""
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return {}


def is_public() -> bool:
    """The public switch: CATDOG_PUBLIC=1, or `public = true` in .streamlit/secrets.toml. Off:
    local use, anyone trains."""
    return os.environ.get("CATDOG_PUBLIC") == "1" or bool(_secrets().get("public"))


def may_train() -> bool:
    """May this visitor start, stop and discard runs? Locally, yes. In public mode: a user logged
    in with the identity provider when `[auth]` is configured, else one who gave the training
    password this session."""
    if not is_public():
        return True
    if "auth" in _secrets():
        return bool(st.user.is_logged_in)
    return bool(st.session_state.get("password_ok"))


def _check_password() -> None:
    state = st.session_state
    if time.monotonic() < state.get("password_wait_until", 0.0):
        state.password_message = "Too many wrong passwords: wait a little and try again."
        return
    if password_matches(state.get("password", ""), str(_secrets().get("training_password", ""))):
        state.password_ok, state.password_message = True, None
        return
    state.password_tries = state.get("password_tries", 0) + 1
    if state.password_tries >= MAX_TRIES:
        state.password_tries, state.password_wait_until = 0, time.monotonic() + WAIT_SECONDS
    state.password_message = "Wrong password."


def access_panel() -> None:
    """Public mode only: who is signed in, or how to become authorised to train."""
    if not is_public():
        return
    secrets = _secrets()
    if "auth" in secrets:
        if st.user.is_logged_in:
            st.caption(f"Signed in as {st.user.get('email') or st.user.get('name') or 'you'}.")
            st.button("Log out", on_click=st.logout, key="logout")
        else:
            st.info(
                "A public demo: anyone may watch runs and their results; log in to start or stop "
                "one."
            )
            st.button("Log in", on_click=st.login, key="login")
    elif st.session_state.get("password_ok"):
        st.caption("Training is unlocked for this session.")
    elif secrets.get("training_password"):
        st.info(
            "A public demo: anyone may watch runs and their results; the training password starts "
            "or stops one."
        )
        with st.form("unlock"):
            st.text_input("Training password", type="password", key="password")
            st.form_submit_button("Unlock training", on_click=_check_password)
        if st.session_state.get("password_message"):
            st.warning(st.session_state.password_message)
    else:
        st.info(
            "A public demo: training is off here (no identity provider and no training password "
            "configured)."
        )


# Expensive actions
# --------------------------------------------------------------------------------------

# Process-wide: how many expensive actions (Score-CAM, the faithfulness and sanity checks, the
# Compare grid) run at once, sized to the cores; however many tabs a visitor opens, they share
# these.
SLOTS = max(1, (os.cpu_count() or 2) // 2)
_slots = threading.BoundedSemaphore(SLOTS)
# One data download per process, whoever asks (here, not in the page: a page's script runs anew on
# every rerun, and a lock made there would be a new one each time).
DOWNLOAD = threading.Lock()


def photo_uploader(label: str, where=st, **kwargs):
    """`where.file_uploader` for photos: the types core/images.py reads, and its size cap (the
    browser refuses a larger file before sending it; core/images.py refuses it all the same)."""
    return where.file_uploader(
        label, list(UPLOAD_TYPES), max_upload_size=Config().max_bytes // 2**20, **kwargs
    )


@contextlib.contextmanager
def expensive(what: str):
    """Hold one of the SLOTS while `what` runs. When all are taken the visitor is told so and
    waits; the Cancel button (any click does) reruns the page, which ends the wait: Streamlit stops
    a script at its next call."""
    if not _slots.acquire(blocking=False):
        started = time.monotonic()
        with st.status(
            f"This server runs {SLOTS} expensive task(s) at once and all are busy: waiting to "
            f"{what}…"
        ) as box:
            st.button("Cancel", key=f"cancel {what}")
            clock = st.empty()
            while not _slots.acquire(timeout=0.5):
                clock.caption(
                    f"Waiting for {time.monotonic() - started:.0f} s"
                )  # the point where a click stops us
            box.update(
                label=f"A slot came free after {time.monotonic() - started:.0f} s.",
                state="complete",
            )
    try:
        yield
    finally:
        _slots.release()
