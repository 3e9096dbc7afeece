"""The Folder screen's view of a job: progress, filters, the table, the paged gallery, one photo.

The Training page opens this view on a run's validation photos, filtered to the wrong ones
(`open_on_run`): it presets the page's own keys and asks for the run, then switches page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.config import Config
from core.folder import jobs, table
from core.folder.export import every_layer, overlay
from core.folder.table import COLUMNS, VERDICTS, Filters
from core.images import ImageError
from ui.access import shown
from ui.folder.present import caption, progress_line
from ui.models import KEPT_MODEL
from ui.picture_cache import kept_picture

GALLERY_PAGE = 12  # overlays per gallery page: three rows of four
GALLERY_COLUMNS = 4
# Keys the view keeps in the session: the job on screen, a start request, the photo opened.
JOB, REQUEST, OPENED = "folder_job", "folder_request", "folder_opened"


@dataclass(frozen=True)
class FolderRequest:
    """A click on "Explain": a folder chosen in the list, or photos uploaded; and the method."""

    folder: Path | None
    files: tuple[tuple[str, bytes], ...] = ()
    method: str = "Grad-CAM"
    every_layer: bool = False  # keep the maps of every layer, not only the default one


def open_on_run(run_dir: Path, validation: Path) -> None:
    """The Training page's button: this view on the run's validation photos, the wrong ones."""
    state = st.session_state
    validation = Path(validation).resolve()
    state["folder_dir"] = validation
    state[KEPT_MODEL] = f"runs/{Path(run_dir).name}"
    state["folder_verdict"] = "wrong"
    state[REQUEST] = FolderRequest(validation)
    state["open_folder_page"] = True


@st.fragment(run_every=1.0)
def show_progress(job_dir: str) -> None:
    """The run's progress bar and its Stop button, redrawn every second; the page when it ends."""
    progress = jobs.status(Path(job_dir))
    if not progress or not progress.running:
        st.rerun()  # the whole page: its table and gallery now
    stopping = jobs.stop_asked(Path(job_dir))
    line = progress_line(progress, stopping)
    st.progress(float(progress.fraction), text=line)
    st.button(
        "Stop", on_click=jobs.stop, args=(Path(job_dir),), key="folder_stop", disabled=stopping
    )


def filter_widgets(class_names: list[str], judged: bool) -> Filters:
    """Right or wrong (offered when some photo has a true class: `judged`), classes, a confidence
    band and the order, side by side."""
    verdict, classes, band, order = st.columns([2, 3, 3, 2])
    st.session_state.setdefault("folder_verdict", "all")  # open_on_run may have set "wrong"
    unknown = "No photo has a true class: none sits in a folder named after one."
    with verdict:
        chosen = st.segmented_control(
            "Show",
            VERDICTS,
            key="folder_verdict",
            disabled=not judged,
            help=None if judged else unknown,
        )
    picked = classes.multiselect(
        "Classes", class_names, key="folder_classes", help="True or predicted class."
    )
    low, high = band.slider("Confidence", 0.0, 1.0, (0.0, 1.0), 0.05, key="folder_band")
    least = order.toggle("Least sure first", key="folder_least_sure")
    show = chosen if judged and chosen else "all"
    return Filters(show, tuple(picked), (low, high), least)


def show_table(rows: pd.DataFrame) -> None:
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(
        rows[COLUMNS],
        hide_index=True,
        column_config={"confidence": percent, "right": st.column_config.CheckboxColumn()},
    )


@kept_picture()
def cached_overlay(
    job_dir: str, photo: str, batch: str, row: int, layer: str, side: int, alpha: float
) -> np.ndarray | None:
    """One photo's overlay at `layer`, drawn once; None when the photo can no longer be read."""
    maps = table.raw_maps(Path(job_dir), batch, row)
    try:
        return overlay(Path(jobs.read_job(Path(job_dir)).folder) / photo, maps[layer], side, alpha)
    except ImageError:
        return None


def show_gallery(job_dir: str, rows: pd.DataFrame, layer: str, config: Config) -> None:
    """The rows' overlays, GALLERY_PAGE at a time; a click on Open shows one photo in full."""
    pages = max(1, -(-len(rows) // GALLERY_PAGE))
    page = st.pagination(pages, key="folder_gallery_page") if pages > 1 else 1
    shown = rows.iloc[(page - 1) * GALLERY_PAGE : page * GALLERY_PAGE]
    columns = st.columns(GALLERY_COLUMNS)
    for number, (index, row) in enumerate(shown.iterrows()):
        cell = columns[number % GALLERY_COLUMNS]
        args = (job_dir, row["photo"], row["batch"], int(row["row"]), layer)
        picture = cached_overlay(*args, config.thumbnail_side, config.alpha)
        if picture is None:
            cell.caption(f"{row['photo']} can no longer be read.")
            continue
        cell.image(picture, caption=caption(row), width="stretch")
        cell.button("Open", key=f"folder_open {index}", on_click=_open, args=(int(index),))


def _open(index: int) -> None:
    st.session_state[OPENED] = index


@kept_picture(spinner="Explaining it at every layer…")
def every_layer_overlays(
    _explainer, model_key: str, job_dir: str, photo: str, alpha: float
) -> list[tuple[str, np.ndarray]] | None:
    """One photo at every layer, explained once per model; None when it can no longer be read."""
    from core.explain.display import DISPLAY_SIDE

    try:
        return every_layer(_explainer, jobs.read_job(Path(job_dir)), photo, DISPLAY_SIDE, alpha)
    except ImageError:
        return None


@st.dialog("One photo, every layer", width="large")
def show_photo(job_dir: str, row: pd.Series, loaded, model_key: str, config: Config) -> None:
    """The photo opened: explained now by the run's model at every layer, at display size."""
    st.markdown(f"**{caption(row)}**")
    if loaded.error:
        st.warning(shown(loaded.error))
        return
    pictures = every_layer_overlays(
        loaded.explainer, model_key, job_dir, row["photo"], config.alpha
    )
    if pictures is None:
        st.warning(f"{row['photo']} can no longer be read.")
        return
    for cell, (layer, picture) in zip(st.columns(2) * len(pictures), pictures):
        cell.image(picture, caption=f"{row['photo']} · {layer}", width="stretch")
