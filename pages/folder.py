"""Folder page: a folder's photos explained in the background, then a table, a gallery, a ZIP."""

import functools
from pathlib import Path

import pandas as pd
import streamlit as st

import ui
from core.cams import METHODS
from core.config import Config
from core.data import choices
from core.errors import UserError, one_line
from core.explain import display
from core.folder import jobs, table
from core.folder.export import export_zip, model_record
from core.models.catalog import ZERO_SHOT, ModelEntry, models
from core.models.catalog import model_key as key_of
from core.training.status import Notice, confusion_picture
from ui import folder_view as view
from ui.access import notify, shown


def folders(config: Config) -> list[Path]:
    """The folders offered: each dataset's validation, test and train splits (by any of their
    usual names: valid/, test_set/...), a dataset of class folders alone (PetImages/) as a whole,
    and the operator's choice."""
    splits = []
    for path in choices.datasets(config.data_roots):
        found = [choices.split_folder(path, split) for split in ("validation", "test", "train")]
        splits += [folder for folder in found if folder is not None] or [path]
    configured = choices.validation_folders((), config.validation_dir)
    return list(dict.fromkeys([*configured, *splits]))


def ask_explain() -> None:
    state = st.session_state
    uploads = (state.get("folder_uploads") or ()) if ui.may_train() else ()
    files = tuple((f.name, f.getvalue()) for f in uploads)
    folder = None if files else state.get("folder_dir")
    method, every = state.get("folder_method", "Grad-CAM"), state.get("folder_every_layer", False)
    state[view.REQUEST] = view.FolderRequest(folder, files, method, every)


def source_widgets(config: Config, found: list[Path]) -> None:
    """A folder from the list or photos uploaded at once, the method, and the Explain button."""
    with st.sidebar:
        st.selectbox(
            "Folder",
            found,
            key="folder_dir",
            format_func=lambda path: choices.label(path, config.data_roots),
            placeholder="No folder under the data roots",
            help="Each dataset's validation, test and train splits under the data roots.",
        )
        # Uploads stay on the server's disk (the cache): in public mode, for authorised users only.
        ui.photo_uploader(
            "Or upload photos (they replace the folder)",
            accept_multiple_files=True,
            key="folder_uploads",
            disabled=not ui.may_train(),
            help=None if ui.may_train() else "Uploading many photos needs training's sign-in.",
        )
        st.selectbox("Method", list(METHODS), key="folder_method")
        st.toggle(
            "Keep the maps of every layer",
            key="folder_every_layer",
            help="About twice as slow: the gradient goes back to the first stage. Without it, the "
            "default layer's maps are kept, and a photo opened is explained at every layer then.",
        )
        limit = f" (at most {config.folder_max_photos:,} photos)" if ui.is_public() else ""
        st.button(
            "Explain these photos" + limit,
            on_click=ask_explain,
            type="primary",
            key="folder_explain",
        )


def start(config: Config, request: view.FolderRequest, entry: ModelEntry, key: str) -> Notice:
    """The job a click asked for, started in the background (or found done); or why not."""
    state, cache = st.session_state, config.folder_cache_dir
    held = jobs.status(Path(state[view.JOB])) if view.JOB in state else None
    if held and held["running"]:
        return Notice("warning", "One folder at a time: stop the one in progress first.")
    limit = config.folder_max_photos if ui.is_public() else None
    try:
        if request.files and ui.is_public() and len(request.files) > limit:
            text = (
                f"{len(request.files):,} photos sent; one request may explain at most {limit:,}."
            )
            return Notice("warning", text + " Send fewer.")
        folder = jobs.keep_uploads(list(request.files), cache) if request.files else request.folder
        if folder is None:
            return Notice("warning", "No folder chosen: add a dataset or upload photos.")
        roots = (*config.data_roots, config.validation_dir)  # the operator's folder too
        photos = jobs.photos_in(folder, roots, cache, limit)
        model = str(entry.path) if entry.path else None
        job = jobs.FolderJob(
            str(Path(folder).resolve()),
            tuple(photos),
            model,
            key,
            request.method,
            every_layer=request.every_layer,
        )
        job_dir = jobs.start(job, cache, config.folder_max_runs)
    except UserError as error:
        return Notice("warning", one_line(error))
    state[view.JOB] = str(job_dir)
    if jobs.status(job_dir)["state"] == "done":
        return Notice("info", f"{len(photos):,} photos already explained by this model.")
    return Notice("info", f"Explaining {len(photos):,} photos in the background.")


@st.cache_data(max_entries=8, show_spinner=False)
def cached_table(job_dir: str, updated: float) -> tuple[pd.DataFrame, list[str]]:
    return table.read_table(Path(job_dir), jobs.read_job(Path(job_dir)))


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


def job_entry(job: jobs.FolderJob, entries: list[ModelEntry]) -> ModelEntry | None:
    """The model a job was made with, among those listed; None when it is gone."""
    return next((e for e in entries if (str(e.path) if e.path else None) == job.model_path), None)


def show_photo(job_dir: str, row: pd.Series, entries: list[ModelEntry], config: Config) -> None:
    """The photo opened, explained now at every layer by the job's model (loaded once)."""
    entry = job_entry(jobs.read_job(Path(job_dir)), entries)
    if entry is not None:
        view.show_photo(job_dir, row, *ui.model_for(entry), config)


def show_download(
    job_dir: str, rows: pd.DataFrame, layer: str, entries: list[ModelEntry], config: Config
) -> None:
    """The ZIP of the rows shown, built when clicked; its manifest names the job's own model."""
    job = jobs.read_job(Path(job_dir))
    entry = job_entry(job, entries)
    about = {
        "model": model_record(entry) if entry else None,
        "folder": choices.label(Path(job.folder), config.data_roots),
    }
    look = {"max_side": display.DISPLAY_SIDE, "alpha": config.alpha, "colormap": config.colormap}
    build = functools.partial(export_zip, Path(job_dir), job, rows, layer, look, about)
    st.download_button(
        f"Download these {len(rows):,} (ZIP: overlays, raw maps, CSV, manifest)",
        data=build,
        file_name=f"folder_{Path(job_dir).name}.zip",
        mime="application/zip",
        key="folder_zip",
    )


def show_provenance(
    job_dir: str, entries: list[ModelEntry], model_key: str, config: Config
) -> None:
    """Which model and folder made the results below; said when they are not the ones chosen."""
    job = jobs.read_job(Path(job_dir))
    made_with = job_entry(job, entries)
    model = made_with.named if made_with else "a model no longer listed"
    made_on = Path(job.folder)
    uploaded = made_on.is_relative_to(Path(config.folder_cache_dir).resolve())
    folder = "photos uploaded here" if uploaded else choices.label(made_on, config.data_roots)
    st.markdown(f"Results of **{model}** on **{folder}**, {job.method}.")
    chosen = st.session_state.get("folder_dir")
    other_folder = not uploaded and chosen is not None and Path(chosen).resolve() != made_on
    if job.model_key != model_key or other_folder:
        st.warning(
            "These results were made by another model or folder than the ones chosen in the "
            "sidebar: press **Explain these photos** to make them for those."
        )


def show_results(job_dir: str, progress: dict, entries: list[ModelEntry], config: Config) -> None:
    """Figures, filters, the table, the gallery and the download of a job's results."""
    whole, class_names = cached_table(job_dir, progress.get("updated_at", 0.0))
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
    if (opened := st.session_state.pop(view.OPENED, None)) in rows.index:
        show_photo(job_dir, rows.loc[opened], entries, config)


config = Config()
st.title("A folder at a glance")
st.markdown(
    "Explains every photo of a folder (a dataset's validation split, say) or of many uploaded at "
    "once, in a background process: a reload or another page does not stop it. Then a table of "
    "predictions with filters, a gallery of overlays (**Open** shows one photo at every layer), "
    "and a ZIP to download. The same folder with the same model again computes nothing."
)
entries = models(config)
with st.sidebar:  # the run loads the model in its own process; this page only to open a photo
    entry = ui.model_picker(entries)
model_key = key_of(entry.path) if entry.path else ZERO_SHOT
source_widgets(config, folders(config))
if request := st.session_state.pop(view.REQUEST, None):
    st.session_state.folder_notice = start(config, request, entry, model_key)
if notice := st.session_state.pop("folder_notice", None):  # said once: the run moves on
    notify(notice)
if view.JOB in st.session_state and (progress := jobs.status(Path(st.session_state[view.JOB]))):
    if progress["running"]:
        view.show_progress(st.session_state[view.JOB])
    else:
        if progress.get("message"):
            st.caption(shown(progress["message"]))
        show_provenance(st.session_state[view.JOB], entries, model_key, config)
        show_results(st.session_state[view.JOB], progress, entries, config)
