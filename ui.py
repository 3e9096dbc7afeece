"""Streamlit-side glue the pages share: the model loader, the photo source, who may train, slots.

Beside `app.py`, not in `core/`, because it imports Streamlit; `core/` stays importable without it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner

from core.config import Config
from core.data import choices
from core.explain.display import LoadedModel, load_app_model, model_key
from core.explain.settings import KEPT_PHOTOS, KEPT_SOURCE, SOURCES, Photo, Result, current_photo
from core.images import UPLOAD_TYPES
from core.model import app_model_path
from core.training.access import MAX_TRIES, WAIT_SECONDS, password_matches

# One navigation, app.py's. Streamlit runs a fresh server's first session in the old pages/-folder
# mode when pages/ exists, and leaves it only once st.navigation has run: a first visitor who opens
# /training directly would get the folder's page list, "app" included (streamlit/streamlit#9992).
# That first run reaches this import; leave the folder mode and run again through app.py.
if PagesManager.uses_pages_directory:
    PagesManager.uses_pages_directory = False
    st.rerun()

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


# Kept for the test that spies on it.
STREAMLIT_CLEANUP = getattr(script_runner, "_clean_problem_modules", None)
script_runner._clean_problem_modules = _close_figures_only


@st.cache_resource(max_entries=2, show_spinner="Loading the model (once per process)…")
def _model(key: str, path: str | None) -> LoadedModel:
    """One entry per model file and modification time, shared by every page and session.

    Never mutated: every visitor gets the very same object.

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
    """The app's model (weights/current, else weights/model.keras, else zero-shot) and its key."""
    config = Config()
    key = model_key(app_model_path(config))
    return _model(key, None), key


def model_at(path: Path) -> LoadedModel:
    """A run's model; the very same object as `app_model()` when it is the app's model file."""
    path = Path(path)
    if path.resolve() == app_model_path().resolve():
        return app_model()[0]
    return _model(model_key(path), str(path))


# The photo
# ------------------------------------------------------------------------------------------


def photo_source(config: Config) -> Photo | None:
    """The photo widgets (upload, camera, a random validation photo) and the photo they chose.

    What they chose is kept in non-widget keys, so it stays chosen on another page and back: the
    Explain and Compare pages both draw these widgets and share it.
    """
    state = st.session_state
    st.header("Photo")
    kept = SOURCES.index(state.get(KEPT_SOURCE, SOURCES[0]))
    source = st.radio(
        "Source", SOURCES, kept, horizontal=True, key="source", on_change=_keep_source
    )
    if source == SOURCES[0]:
        shown = photo_uploader(
            "A photo of a cat or a dog",
            key="upload",
            on_change=_keep_file,
            args=(source, "upload"),
        )
    elif source == SOURCES[1]:
        # A phone's or a laptop's camera, through the browser. 720p: the widget's own size (a
        # sidebar's width, ~260 px) would be a thumbnail.
        shown = st.camera_input(
            "Point the camera at a cat or a dog",
            key="camera",
            resolution="720p",
            on_change=_keep_file,
            args=(source, "camera", "camera.jpg"),
        )
    else:
        shown = _random_photo_picker(config)
    photo = current_photo(state)
    if photo is not None and shown is None:
        st.caption(f"Still showing {photo.name}, chosen before.")
    return photo


def _keep_source() -> None:
    st.session_state[KEPT_SOURCE] = st.session_state.source


def _keep(source: str, photo: Photo | None) -> None:
    """Keep `photo` as `source`'s, in a new dict: a value in session_state is never mutated."""
    state = st.session_state
    state[KEPT_PHOTOS] = {**state.get(KEPT_PHOTOS, {}), source: photo}


def _keep_file(source: str, key: str, name: str | None = None) -> None:
    """on_change of the uploader and the camera: a new file is read and hashed here, once."""
    file = st.session_state[key]
    _keep(source, Photo.of(file.getvalue(), name or file.name) if file is not None else None)


def _random_photo_picker(config: Config) -> str | None:
    """A validation folder to choose, never a typed path, and a button that picks from it."""
    roots = (*config.data_roots, config.validation_dir)
    folder = st.selectbox(
        "Validation folder",
        choices.validation_folders(config.data_roots, config.validation_dir),
        format_func=lambda f: choices.label(f, roots),
        key="validation_folder",
    )
    if folder is None:
        st.info(
            "No validation folder under the data roots yet: download or upload data on the "
            "Training page."
        )
    st.button(
        "🎲 Pick a random photo",
        on_click=_pick_random_photo,
        args=(folder, roots),
        disabled=folder is None,
    )
    if st.session_state.get("random_error"):
        st.warning(st.session_state.random_error)
    return st.session_state.get("random_photo")


def _pick_random_photo(folder: Path, roots: tuple[Path, ...]) -> None:
    state = st.session_state
    # Bounded, and never outside the chosen folder.
    photos = choices.images_in(folder)
    path = random.choice(photos) if photos else None
    state.random_photo = str(path) if path else None
    state.random_error = None if photos else f"No photos in {choices.label(folder, roots)}."
    _keep(SOURCES[2], Photo.of(path.read_bytes(), path.name) if path else None)


# Who may train
# ------------------------------------------------------------------------------------------


def _secrets() -> dict:
    """.streamlit/secrets.toml as a dict; {} when there is none."""
    try:
        return st.secrets.to_dict()
    except (FileNotFoundError, StreamlitSecretNotFoundError):
        return {}


def is_public() -> bool:
    """The public switch: CATDOG_PUBLIC=1, or `public = true` in .streamlit/secrets.toml.

    Off: local use, anyone trains.
    """
    return os.environ.get("CATDOG_PUBLIC") == "1" or bool(_secrets().get("public"))


def may_train() -> bool:
    """May this visitor start, stop and discard runs?

    Locally, yes. In public mode: a user logged in with the identity provider when `[auth]` is
    configured, else one who gave the training password this session.
    """
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
    """`where.file_uploader` for photos: the types core/images.py reads, and its size cap.

    The browser refuses a larger file before sending it; core/images.py refuses it all the same.
    """
    return where.file_uploader(
        label, list(UPLOAD_TYPES), max_upload_size=Config().max_bytes // 2**20, **kwargs
    )


@contextlib.contextmanager
def expensive(what: str, when: bool = True):
    """Hold one of the SLOTS while `what` runs, if `when`; when all are taken, say so and wait.

    The Cancel button (any click does) reruns the page, which ends the wait: Streamlit stops a
    script at its next call, and the clock's caption below is such a call.
    """
    if not when:
        yield
        return
    if not _slots.acquire(blocking=False):
        started = time.monotonic()
        with st.status(
            f"This server runs {SLOTS} expensive task(s) at once and all are busy: waiting to "
            f"{what}…"
        ) as box:
            st.button("Cancel", key=f"cancel {what}")
            clock = st.empty()
            while not _slots.acquire(timeout=0.5):
                clock.caption(f"Waiting for {time.monotonic() - started:.0f} s")
            box.update(
                label=f"A slot came free after {time.monotonic() - started:.0f} s.",
                state="complete",
            )
    try:
        yield
    finally:
        _slots.release()


def button_result(
    label: str,
    key: str,
    made_for: Hashable,
    what: str,
    work: Callable[[], object],
    spinner: str = "",
    **button,
) -> object | None:
    """A button that asks for `work`, and its result for `made_for`, made now if just asked for.

    The click only records its request (`on_click`); the work runs here, in the page's body where
    its spinner or progress bar belongs, in one of the SLOTS. The result is kept under the
    button's key with what it was made for: a result or a request made for anything else (another
    photo, model, target, layer) belongs to settings no longer on screen and is not used.
    """
    state = st.session_state
    st.button(label, key=key, on_click=_ask, args=(key, made_for), **button)
    if state.pop(f"{key} request", None) == made_for:
        with expensive(what), st.spinner(spinner) if spinner else contextlib.nullcontext():
            state[f"{key} result"] = Result(made_for, work())
    result = state.get(f"{key} result")
    return result.value if isinstance(result, Result) and result.made_for == made_for else None


def _ask(key: str, made_for: Hashable) -> None:
    st.session_state[f"{key} request"] = made_for
