"""Training page: start a run in the background, watch it learn, stop it, see its mistakes."""

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

import ui
from core.config import Config
from core.data import choices, pets
from core.data import uploads as datasets
from core.errors import UserError, one_line, writing
from core.training import jobs, status
from core.training.recipe import TrainConfig
from core.training.status import Notice
from ui import housekeeping, run_panel
from ui.access import notify


@dataclass(frozen=True)
class DataRequest:
    """A click on a "Bring data" button: "download", "photos" or "zip", and the name typed."""

    source: str
    name: str = ""


def ask(source: str, name_key: str | None = None) -> None:
    # The name is read at the click: one typed just before it arrives with the click itself.
    name = st.session_state.get(name_key, "") if name_key else ""
    st.session_state.data_request = DataRequest(source, name)


def download(config: Config) -> Notice:
    """Oxford-IIIT Pet into the first data root, its bytes on a progress bar.

    Leaving or rerunning the page stops it; nothing half-written is kept (core/data/pets.py).
    """
    # The button is disabled too; checked here all the same.
    if not ui.may_train():
        return Notice("warning", "Downloading needs an authorised user in this public demo.")
    if not ui.DOWNLOAD.acquire(blocking=False):
        text = "Another download is under way on this server: try again when it has finished."
        return Notice("warning", text)
    bar = st.progress(0.0, text="Connecting…")

    def hear(step: str, done: int, total: int | None) -> None:
        if step == "checking photos":
            bar.progress(done / total, text=f"Checking photos: {done:,}/{total:,}")
        elif total:
            text = f"Downloading {step}: {done / 1e6:,.0f} of {total / 1e6:,.0f} MB"
            bar.progress(min(done / total, 1.0), text=text)
        else:
            bar.progress(0.0, text=f"Downloading {step}: {done / 1e6:,.0f} MB")

    dest = config.data_dir / pets.PETS_FOLDER
    try:
        with writing("saving Oxford-IIIT Pet"):
            counts = pets.download_pets(dest, pets.source_from(config), progress=hear)
        where = choices.label(dest.resolve(), config.data_roots)
        return Notice("success", pets.summary(counts, where))
    except UserError as error:
        return Notice("error", one_line(error))
    finally:
        ui.DOWNLOAD.release()
        bar.empty()


def add_dataset(config: Config, name: str, zip_file=None, photos: dict | None = None) -> Notice:
    """A new dataset under the first data root from the visitor's files (core/data/uploads.py)."""
    try:
        with ui.expensive("check the photos"), st.spinner("Checking every photo…"):
            if zip_file is not None:
                name, data = name or zip_file.name, zip_file.getvalue()
                report = datasets.from_zip(config.data_dir, name, data)
            else:
                files = {
                    label: [(f.name, f.getvalue()) for f in got] for label, got in photos.items()
                }
                report = datasets.from_photos(config.data_dir, name or "my-pets", files)
    except UserError as error:
        return Notice("warning", one_line(error))
    # Chosen for the next run.
    st.session_state.data_dir = report.folder.resolve()
    where = choices.label(report.folder.resolve(), config.data_roots)
    return Notice("success", f"New dataset {where}. {report.summary()}")


@st.cache_data(ttl=10, show_spinner=False)
def dataset_counts(path: Path) -> str:
    return datasets.describe(path)


def download_tab(config: Config, allowed: bool, source: str) -> None:
    present = (config.data_dir / pets.PETS_FOLDER / "train").is_dir()
    st.caption(
        "7,349 photos of 37 breeds (about 800 MB with the annotations), checked, split into "
        "train/ and validation/, with the pet masks and head boxes kept for localization."
    )
    label = "Already downloaded" if present else "Download Oxford-IIIT Pet"
    st.button(
        label, key="download", disabled=present or not allowed, on_click=ask, args=("download",)
    )
    # Here, under its button, where the visitor sees its progress bar.
    if source == "download":
        st.session_state.data_notice = download(config)


def photos_tab(config: Config, allowed: bool, source: str, name: str) -> None:
    st.text_input("Name of the new dataset", key="new_dataset", max_chars=80)
    cats, dogs = st.columns(2)
    cat_photos = ui.photo_uploader(
        "Cat photos", cats, accept_multiple_files=True, key="cat_photos"
    )
    dog_photos = ui.photo_uploader(
        "Dog photos", dogs, accept_multiple_files=True, key="dog_photos"
    )
    st.caption("A fifth of each class is held out for validation when the run starts.")
    args = ("photos", "new_dataset")
    st.button("Add these photos", key="add_photos", disabled=not allowed, on_click=ask, args=args)
    if source == "photos":
        photos = {"cats": cat_photos or [], "dogs": dog_photos or []}
        st.session_state.data_notice = add_dataset(config, name, photos=photos)


def zip_tab(config: Config, allowed: bool, source: str, name: str) -> None:
    st.text_input("Name of the new dataset", key="new_dataset_zip", max_chars=80)
    most = datasets.ZIP_MAX_MB
    layout = "train/cats/, train/dogs/, validation/..."
    text = f"A ZIP in the Kaggle layout: {layout} (up to {most} MB)"
    zip_file = st.file_uploader(text, ["zip"], key="zip", max_upload_size=most)
    disabled, args = not allowed or zip_file is None, ("zip", "new_dataset_zip")
    st.button("Add this ZIP", key="add_zip", disabled=disabled, on_click=ask, args=args)
    if source == "zip" and zip_file is not None:
        st.session_state.data_notice = add_dataset(config, name, zip_file)


def bring_data(config: Config, allowed: bool) -> None:
    """Data in from the browser: the public set, or the visitor's own labelled photos."""
    # A click's request, done once, in the tab of the button that asked for it.
    request = st.session_state.pop("data_request", None) or DataRequest("")
    tabs = st.tabs(["Download Oxford-IIIT Pet", "Upload photos per class", "Upload a ZIP"])
    with tabs[0]:
        download_tab(config, allowed, request.source)
    with tabs[1]:
        photos_tab(config, allowed, request.source, request.name)
    with tabs[2]:
        zip_tab(config, allowed, request.source, request.name)
    if not allowed:
        st.caption("Bringing data needs an authorised user in this public demo.")
    if "data_notice" in st.session_state:
        notify(st.session_state.data_notice)


@dataclass(frozen=True)
class StartRequest:
    """A click on "Start training": the dataset and the run's settings as the form held them."""

    data_dir: Path | None
    run: TrainConfig


def ask_start() -> None:
    # The form's values are read at the click; the run starts in the page's body (start_run).
    state = st.session_state
    chosen = {key: state[key] for key in ("epochs", "fine_tune_epochs", "patience")}
    run = TrainConfig(**chosen, backbone_weights=str(state.backbone_weights))
    state.start_request = StartRequest(state.data_dir, run)


def start_run(config: Config, request: StartRequest) -> Notice:
    """The run a click asked for, started in the background; or why it was not."""
    # The button is disabled too; checked here all the same.
    if not ui.may_train():
        return Notice("warning", "Starting a run needs an authorised user in this public demo.")
    try:
        # jobs.start checks the dataset (chosen, still there, inside the roots) and the backbone.
        run_dir = jobs.start(request.data_dir, config.weights_dir, request.run, config.data_roots)
    except UserError as error:
        return Notice("warning", one_line(error))
    return Notice("info", f"Started run {run_dir.name}.")


def start_form(config: Config, found: list[Path], backbones: list[str]) -> None:
    """The run's settings: choices, never typed paths."""
    defaults, state = TrainConfig(), st.session_state
    # First visit, or its dataset is gone.
    if state.get("data_dir") not in found:
        default = config.data_dir.resolve()
        state.data_dir = default if default in found else next(iter(found), None)
    with st.form("start"):
        st.selectbox(
            "Dataset",
            found,
            key="data_dir",
            format_func=lambda path: (
                f"{choices.label(path, config.data_roots)} · {dataset_counts(path)}"
            ),
            placeholder="No dataset under the data roots",
            help="Folders with train/<class>/ under the data roots.",
        )
        head, fine, patience, weights = st.columns(4)
        head.number_input("Head epochs", 1, 2000, defaults.epochs, key="epochs")
        fine_label = "Fine-tune epochs (slow on a CPU)"
        fine.number_input(fine_label, 0, 100, defaults.fine_tune_epochs, key="fine_tune_epochs")
        hint = "Epochs without a better validation loss before a phase stops."
        patience.number_input(
            "Early-stopping patience", 1, 2000, defaults.patience, key="patience", help=hint
        )
        weights.selectbox(
            "Backbone weights",
            backbones,
            index=backbones.index(config.backbone_weights or "imagenet"),
            format_func=lambda choice: Path(choice).name if "/" in choice else choice,
            key="backbone_weights",
            help="'none' starts from random weights: it runs offline but learns little. Files: "
            ".h5 under the roots.",
        )
        st.form_submit_button(
            "Start training",
            on_click=ask_start,
            type="primary",
            disabled=not ui.may_train(),
            key="start",
        )


config = Config()
st.title("Retrain the classifier")
st.markdown(
    "Fine-tunes ResNet-50 on a folder in the Kaggle layout (`train/` and `validation/`, one "
    "sub-folder per class). Phase 1 trains the new head on features computed once per photo "
    "(seconds per epoch on a CPU); phase 2, optional, unfreezes the last stage at a low learning "
    "rate. The run continues in the background if you leave this page, and the Explain page "
    "switches to the new model only when it has finished."
)
ui.access_panel()
with st.expander("Bring data", expanded=not choices.datasets(config.data_roots)):
    bring_data(config, ui.may_train())
# Choices, never typed paths: the datasets and weights files under the data roots and weights/.
found = choices.datasets(config.data_roots)
weights_files = choices.weights_files((*config.data_roots, config.weights_dir))
start_form(config, found, status.backbones(config, weights_files))
if request := st.session_state.pop("start_request", None):
    st.session_state.start_notice = start_run(config, request)
if "start_notice" in st.session_state:
    notify(st.session_state.start_notice)
run_panel.show_status(config)
housekeeping.show(config)
