"""The Folder screen's sidebar and its start: the model, a folder or photos uploaded at once, the
method; the job a click asks for, started in the background (core/folder/jobs.py) or found done.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.cams import METHODS
from core.config import Config
from core.data import choices
from core.errors import UserError, one_line
from core.folder import jobs
from core.models.catalog import ZERO_SHOT, ModelEntry, model_key, models
from core.training.status import Notice
from ui.access import is_public, may_train, notify
from ui.folder import view
from ui.folder.present import folders
from ui.models import model_picker
from ui.photos import photo_uploader


@dataclass(frozen=True)
class Picked:
    """The models listed, the one picked in the sidebar, and its key."""

    entries: list[ModelEntry]
    entry: ModelEntry
    key: str


def pick_model(config: Config) -> Picked:
    """The model picker every page shares; the job loads the model in its own process, this page
    only to open a photo."""
    entries = models(config)
    with st.sidebar:
        entry = model_picker(entries)
    return Picked(entries, entry, model_key(entry.path) if entry.path else ZERO_SHOT)


def ask_explain() -> None:
    state = st.session_state
    uploads = (state.get("folder_uploads") or ()) if may_train() else ()
    files = tuple((f.name, f.getvalue()) for f in uploads)
    folder = None if files else state.get("folder_dir")
    method, every = state.get("folder_method", "Grad-CAM"), state.get("folder_every_layer", False)
    state[view.REQUEST] = view.FolderRequest(folder, files, method, every)


def source_widgets(config: Config) -> None:
    """A folder from the list or photos uploaded at once, the method, and the Explain button."""
    with st.sidebar:
        st.selectbox(
            "Folder",
            folders(config),
            key="folder_dir",
            format_func=lambda path: choices.label(path, config.data_roots),
            placeholder="No folder under the data roots",
            help="Each dataset's validation, test and train splits under the data roots.",
        )
        # Uploads stay on the server's disk (the cache): in public mode, for authorised users only.
        photo_uploader(
            "Or upload photos (they replace the folder)",
            accept_multiple_files=True,
            key="folder_uploads",
            disabled=not may_train(),
            help=None if may_train() else "Uploading many photos needs training's sign-in.",
        )
        st.selectbox("Method", list(METHODS), key="folder_method")
        st.toggle(
            "Keep the maps of every layer",
            key="folder_every_layer",
            help="About twice as slow: the gradient goes back to the first stage. Without it, the "
            "default layer's maps are kept, and a photo opened is explained at every layer then.",
        )
        limit = f" (at most {config.folder_max_photos:,} photos)" if is_public() else ""
        st.button(
            "Explain these photos" + limit,
            on_click=ask_explain,
            type="primary",
            key="folder_explain",
        )


def show_start(config: Config, picked: Picked) -> None:
    """The job a click asked for, started; what came of it, said once (the job moves on)."""
    if request := st.session_state.pop(view.REQUEST, None):
        st.session_state.folder_notice = start(config, request, picked)
    if notice := st.session_state.pop("folder_notice", None):
        notify(notice)


def start(config: Config, request: view.FolderRequest, picked: Picked) -> Notice:
    """The job a click asked for, started in the background (or found done); or why not."""
    state, cache = st.session_state, config.folder_cache_dir
    held = jobs.status(Path(state[view.JOB])) if view.JOB in state else None
    if held and held.running:
        return Notice("warning", "One folder at a time: stop the one in progress first.")
    limit = config.folder_max_photos if is_public() else None
    try:
        if request.files and is_public() and len(request.files) > limit:
            text = (
                f"{len(request.files):,} photos sent; one request may explain at most {limit:,}."
            )
            return Notice("warning", text + " Send fewer.")
        folder = jobs.keep_uploads(list(request.files), cache) if request.files else request.folder
        if folder is None:
            return Notice("warning", "No folder chosen: add a dataset or upload photos.")
        roots = (*config.data_roots, config.validation_dir)  # the operator's folder too
        photos = jobs.photos_in(folder, roots, cache, limit)
        model = str(picked.entry.path) if picked.entry.path else None
        job = jobs.FolderJob(
            str(Path(folder).resolve()),
            tuple(photos),
            model,
            picked.key,
            request.method,
            every_layer=request.every_layer,
        )
        job_dir = jobs.start(job, cache, config.folder_max_runs)
    except UserError as error:
        return Notice("warning", one_line(error))
    state[view.JOB] = str(job_dir)
    if jobs.status(job_dir).state == "done":
        return Notice("info", f"{len(photos):,} photos already explained by this model.")
    return Notice("info", f"Explaining {len(photos):,} photos in the background.")
