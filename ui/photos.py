"""The photo widgets the explaining pages share, and the photo they chose."""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path

import streamlit as st

from core.config import Config
from core.data import choices
from core.explain.settings import Photo
from core.images import UPLOAD_TYPES
from ui.access import shown
from ui.config import app_config

# The sources, as the radio names them; the radio's value is one of these.
UPLOAD, CAMERA, RANDOM = "Upload a photo", "Take a photo", "Random validation photo"
SOURCES = (UPLOAD, CAMERA, RANDOM)
# Non-widget session_state keys: Streamlit forgets a widget's value on a page that does not draw
# it, and keeps these, so the photo chosen stays chosen from page to page.
KEPT_SOURCE = "kept_source"
KEPT_PHOTOS = "kept_photos"


def current_photo(state: Mapping) -> Photo | None:
    """The photo of the source chosen last, or None when that source has none yet."""
    return state.get(KEPT_PHOTOS, {}).get(state.get(KEPT_SOURCE, UPLOAD))


def photo_source(config: Config, subject: str = "a cat or a dog") -> Photo | None:
    """The photo widgets (upload, camera, a random validation photo) and the photo they chose.

    `subject` says what the photo should show, in the model's classes (core.explain.guide).

    What they chose is kept in non-widget keys, so it stays chosen on another page and back: the
    Explain and Compare pages both draw these widgets and share it.
    """
    state = st.session_state
    st.header("Photo")
    kept = SOURCES.index(state.get(KEPT_SOURCE, UPLOAD))
    source = st.radio(
        "Source", SOURCES, kept, horizontal=True, key="source", on_change=_keep_source
    )
    if source == UPLOAD:
        picked = photo_uploader(
            f"A photo of {subject}",
            key="upload",
            on_change=_keep_file,
            args=(source, "upload"),
        )
    elif source == CAMERA:
        # A phone's or a laptop's camera, through the browser. 720p: the widget's own size (a
        # sidebar's width, ~260 px) would be a thumbnail.
        picked = st.camera_input(
            f"Point the camera at {subject}",
            key="camera",
            resolution="720p",
            on_change=_keep_file,
            args=(source, "camera", "camera.jpg"),
        )
    else:
        picked = _random_photo_picker(config)
    photo = current_photo(state)
    if photo is not None and picked is None:
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
        st.warning(shown(st.session_state.random_error))
    return st.session_state.get("random_photo")


def _pick_random_photo(folder: Path, roots: tuple[Path, ...]) -> None:
    state = st.session_state
    # Bounded, and never outside the chosen folder.
    photos = choices.images_in(folder)
    path = random.choice(photos) if photos else None
    state.random_photo = str(path) if path else None
    state.random_error = None if photos else f"No photos in {choices.label(folder, roots)}."
    try:
        # Its path below the folder (resolved: the walk resolves it), where its class is.
        below = path.relative_to(Path(folder).resolve()).as_posix() if path else None
        photo = Photo.of(path.read_bytes(), path.name, below) if path else None
    except OSError as error:
        # Deleted or unreadable since the folder was listed: said in one line, nothing kept.
        state.random_photo, photo = None, None
        state.random_error = f"{path.name} could not be read ({error.strerror or 'error'})."
    _keep(RANDOM, photo)


def photo_uploader(label: str, where=st, **kwargs):
    """`where.file_uploader` for photos: the types core/images.py reads, and its size cap.

    The browser refuses a larger file before sending it; core/images.py refuses it all the same.
    """
    return where.file_uploader(
        label, list(UPLOAD_TYPES), max_upload_size=app_config().max_bytes // 2**20, **kwargs
    )
