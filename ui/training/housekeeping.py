"""The Training page's housekeeping: the disk's figures; deleting a run, a dataset, folder results.

Deleting cannot be undone, so it asks first (`st.dialog`) and, in a public demo, is offered only
to a visitor who may train. What may go, and the deleting itself, are core's (core/space.py,
core/training/store.py, core/data/uploads.py); runs are named by their folder, datasets below
their data root, never by a server path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core import space
from core.config import Config
from core.data import choices, uploads
from core.errors import UserError, one_line
from core.folder import jobs
from core.models.catalog import run_name
from core.training import store
from core.training.status import Notice
from ui.access import may_train, notify


@dataclass(frozen=True)
class Deletion:
    """A click on "Delete": a run (by its folder's name) or a dataset (its path and its label)."""

    kind: str  # "run", "dataset" or "folder results"
    name: str
    path: Path | None = None


@st.cache_data(ttl=30, show_spinner=False)
def disk(key: str, _config: Config) -> tuple[space.Usage, list[tuple[Path, str, int]]]:
    """The disk's figures and the deletable datasets with their sizes; `key` names the config."""
    rows = [
        (path, choices.label(path, _config.data_roots), space.folder_bytes(path)[0])
        for path in choices.datasets(_config.data_roots)
        if uploads.deletable(path, _config.data_roots)
    ]
    return space.usage(_config), rows


def ask(deletion: Deletion) -> None:
    # A fresh dialog: a close left over from one that ended another way must not shut it at once.
    st.session_state.deletion, st.session_state.housekeeping_done = deletion, False


def delete(config: Config, deletion: Deletion) -> None:
    """The dialog's "Delete": done by core, its result kept as the section's notice."""
    state = st.session_state
    state.housekeeping_done = True
    if not may_train():  # the button is not offered then; checked here all the same
        state.housekeeping_notice = Notice("warning", "Deleting needs an authorised user.")
        return
    try:
        if deletion.kind == "run":
            store.delete_run(config.weights_dir, deletion.name)
        elif deletion.kind == "folder results":
            jobs.clear(config.folder_cache_dir)
        else:
            reading = store.running_data(config.weights_dir)
            uploads.delete_dataset(deletion.path, config.data_roots, reading)
        state.housekeeping_notice = Notice("success", f"Deleted {deletion.kind} {deletion.name}.")
    except UserError as error:
        state.housekeeping_notice = Notice("warning", one_line(error))
    disk.clear()


def close() -> None:
    st.session_state.housekeeping_done = True


@st.dialog("Delete for good?")
def confirm(config: Config, deletion: Deletion) -> None:
    what = {"run": "its model, curves and maps", "folder results": "the photos uploaded there"}
    about = what.get(deletion.kind, "all of its photos")
    st.write(f"The {deletion.kind} **{deletion.name}** and {about} will leave the server.")
    st.caption("This cannot be undone.")
    yes, no = st.columns(2)
    yes.button(
        "Delete", type="primary", key="confirm_delete", on_click=delete, args=(config, deletion)
    )
    no.button("Cancel", key="cancel_delete", on_click=close)
    if st.session_state.pop("housekeeping_done", False):
        st.rerun()  # closes the dialog and redraws the page without what was deleted


def show_runs(config: Config, allowed: bool) -> None:
    entries = store.run_entries(config.weights_dir)
    st.markdown(f"**Runs** (the newest {config.keep_runs} are kept, and the one in use)")
    for entry in entries:
        name, state, size, button = st.columns([3, 2, 2, 2], vertical_alignment="center")
        name.write(run_name(entry.name) + (" · in use" if entry.in_use else ""))
        state.write(entry.state)
        size.write(space.size_text(entry.size))
        why = "in use" if entry.in_use else "in progress" if entry.running else None
        button.button(
            "Delete",
            key=f"delete_run_{entry.name}",
            disabled=not allowed or why is not None,
            help=f"The run {why} cannot be deleted." if why else None,
            on_click=ask,
            args=(Deletion("run", entry.name),),
        )
    if not entries:
        st.caption("No run yet.")


def show_datasets(rows: list[tuple[Path, str, int]], allowed: bool) -> None:
    st.markdown("**Datasets** (those below a data root)")
    for path, shown, size in rows:
        name, size_cell, button = st.columns([5, 2, 2], vertical_alignment="center")
        name.write(shown)
        size_cell.write(space.size_text(size))
        button.button(
            "Delete",
            key=f"delete_dataset_{shown}",
            disabled=not allowed,
            on_click=ask,
            args=(Deletion("dataset", shown, path),),
        )
    if not rows:
        st.caption("No dataset that this page may delete.")


def show_folder_results(config: Config, allowed: bool) -> None:
    """The Folder page's results (its runs not going on now) as one row: their size, "Delete"."""
    cache = config.folder_cache_dir
    size = space.folder_bytes(cache)[0] if cache.is_dir() else 0
    name, size_cell, button = st.columns([5, 2, 2], vertical_alignment="center")
    name.markdown("**Folder page results** (computed again when a folder is opened again)")
    size_cell.write(space.size_text(size))
    deletion = Deletion("folder results", "of every folder run that is not going on")
    button.button(
        "Delete",
        key="delete_folder_results",
        disabled=not allowed or size == 0,
        on_click=ask,
        args=(deletion,),
    )


def show_housekeeping(config: Config) -> None:
    """The section: figures, runs and datasets with their "Delete" buttons, and the dialog."""
    key = repr((config.weights_dir, config.data_roots, config.min_free_mb))
    usage, rows = disk(key, config)
    with st.expander("Disk space", expanded=usage.low):
        (st.warning if usage.low else st.caption)(usage.sentence())
        allowed = may_train()
        show_runs(config, allowed)
        show_datasets(rows, allowed)
        show_folder_results(config, allowed)
        if not allowed:
            st.caption("Deleting needs an authorised user in this public demo.")
        if "housekeeping_notice" in st.session_state:
            notify(st.session_state.housekeeping_notice)
    # Popped, so that a dialog closed with its "x" does not open again on the next rerun.
    if deletion := st.session_state.pop("deletion", None):
        confirm(config, deletion)
