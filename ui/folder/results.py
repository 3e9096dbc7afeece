"""The Folder screen's results: the job's progress while it runs; then which model and folder made
them, accuracy and confusion, filters, the table, the gallery, the ZIP and one photo opened."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st

from core.atomic import replacing
from core.config import Config
from core.data import choices
from core.errors import writing
from core.explain import display
from core.folder import jobs, table
from core.folder.export import export_zip, model_record
from core.models.catalog import ModelEntry
from core.training.status import confusion_picture
from core.workers.records import FolderProgress
from ui.access import shown
from ui.folder import view
from ui.folder.present import job_entry, provenance, uploaded
from ui.folder.start import Picked
from ui.folder.strategies import show_strategies
from ui.loading import model_for
from ui.slots import button_result

ZIPS_KEPT = 4  # the ZIPs made of a job's results kept beside them, the newest


def show_job(config: Config, picked: Picked) -> None:
    """The session's job, if any: its progress while it runs, else its results."""
    job_dir = st.session_state.get(view.JOB)
    if job_dir is None or not (progress := jobs.status(Path(job_dir))):
        return
    if progress.running:
        view.show_progress(job_dir)
        return
    if progress.message:
        st.caption(shown(progress.message))
    show_provenance(job_dir, picked, config)
    show_results(job_dir, progress, picked.entries, config)


@st.cache_data(max_entries=8, show_spinner=False)
def cached_table(job_dir: str, updated: float) -> tuple[pd.DataFrame, list[str]]:
    return table.read_table(Path(job_dir), jobs.read_job(Path(job_dir)))


def show_provenance(job_dir: str, picked: Picked, config: Config) -> None:
    """Which model and folder made the results below; said when they are not the ones chosen."""
    job = jobs.read_job(Path(job_dir))
    st.markdown(provenance(job, picked.entries, config))
    chosen = st.session_state.get("folder_dir")
    made_on = Path(job.folder)
    other_folder = (
        not uploaded(job, config) and chosen is not None and Path(chosen).resolve() != made_on
    )
    if job.model_key != picked.key or other_folder:
        st.warning(
            "These results were made by another model or folder than the ones chosen in the "
            "sidebar: press **Explain these photos** to make them for those."
        )


def show_figures(rows: pd.DataFrame, class_names: list[str]) -> None:
    """Accuracy and the confusion matrix, when the photos' classes are known."""
    accuracy, counts = table.accuracy(rows), table.confusion(rows, class_names)
    if accuracy is None or counts is None:
        st.caption("The photos' classes are unknown (no class folders): no accuracy.")
        return
    left, right = st.columns([1, 2])
    left.metric("Accuracy", f"{accuracy:.1%}", help=f"{int(rows['right'].sum())} of {len(rows)}")
    picture = confusion_picture({"class_names": class_names, "confusion": counts.tolist()})
    right.image(picture, caption="Confusion: rows the true class, columns the predicted one")


def show_photo(job_dir: str, row: pd.Series, entries: list[ModelEntry], config: Config) -> None:
    """The photo opened, explained now at every layer by the job's model (loaded once)."""
    entry = job_entry(jobs.read_job(Path(job_dir)), entries)
    if entry is not None:
        view.show_photo(job_dir, row, *model_for(entry), config)


def show_download(
    job_dir: str, rows: pd.DataFrame, layer: str, entries: list[ModelEntry], config: Config
) -> None:
    """The ZIP of the rows shown, made when asked for (under a bar with Cancel) into a file beside
    the job's results, then offered for download; its manifest names the job's own model."""
    job = jobs.read_job(Path(job_dir))
    entry = job_entry(job, entries)
    about = {
        "model": model_record(entry) if entry else None,
        "folder": choices.label(Path(job.folder), config.data_roots),
    }
    look = {"max_side": display.DISPLAY_SIDE, "alpha": config.alpha, "colormap": config.colormap}
    photos = hashlib.sha256("\n".join(rows["photo"]).encode()).hexdigest()
    made_for = (job_dir, photos, layer, tuple(look.items()))
    made = button_result(
        f"Make the ZIP of these {len(rows):,} (overlays, raw maps, CSV, manifest)",
        "folder_zip",
        made_for,
        "make the ZIP",
        functools.partial(write_zip, Path(job_dir), made_for, job, rows, layer, look, about),
        "Drawing the overlays",
        len(rows),
        "photos",
    )
    if made is not None and Path(made).is_file():
        st.download_button(
            f"Download the ZIP ({Path(made).stat().st_size / 1e6:,.1f} MB)",
            data=lambda: Path(made).read_bytes(),
            file_name=f"folder_{Path(job_dir).name}.zip",
            mime="application/zip",
            key="folder_zip_file",
        )


def write_zip(
    job_dir: Path, made_for: tuple, job, rows, layer: str, look: dict, about: dict, step
) -> str:
    """The ZIP written whole (or not at all) beside the job's results, named by what it was made
    for, so that no visitor downloads another's rows; `step()` told each photo. The oldest of more
    than ZIPS_KEPT go; StorageError when the disk is full."""
    digest = hashlib.sha256(repr(made_for).encode()).hexdigest()[:16]
    path = job_dir / f"download-{digest}.zip"
    with writing("making the ZIP"), replacing(path) as temporary:
        export_zip(job_dir, job, rows, layer, look, about, into=temporary, progress=step)
    made = sorted(job_dir.glob("download-*.zip"), key=lambda p: p.stat().st_mtime)
    for old in made[:-ZIPS_KEPT]:
        old.unlink(missing_ok=True)
    return str(path)


def show_results(
    job_dir: str, progress: FolderProgress, entries: list[ModelEntry], config: Config
) -> None:
    """Figures, filters, the table, the gallery and the download of a job's results."""
    whole, class_names = cached_table(job_dir, progress.updated_at or 0.0)
    if whole.empty:
        st.info("No photo explained yet.")
        return
    show_figures(whole, class_names)
    rows = table.filtered(whole, view.filter_widgets(class_names, whole["right"].notna().any()))
    st.caption(f"{len(rows):,} of {len(whole):,} photos, sorted by confidence.")
    view.show_table(rows)
    if rows.empty:
        return
    first = rows.iloc[0]
    layers = list(table.raw_maps(Path(job_dir), first["batch"], int(first["row"])))
    layer = layers[-1]
    if len(layers) > 1:
        layer = st.selectbox("Layer of the overlays", layers, index=len(layers) - 1)
    view.show_gallery(job_dir, rows, layer, config)
    show_download(job_dir, rows, layer, entries, config)
    show_strategies(job_dir, progress.updated_at or 0.0, layer, entries, config)
    if (opened := st.session_state.pop(view.OPENED, None)) in rows.index:
        show_photo(job_dir, rows.loc[opened], entries, config)
