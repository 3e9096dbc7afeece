"""Training page: start a fine-tuning run in the background, watch it learn, stop it, see its
mistakes."""

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.cams import normalize
from core.config import Config
from core.data import choices
from core.data import uploads as datasets
from core.data.folders import DataError, check_data_path, class_folders
from core.data.pets import DownloadError, download_pets, source_from
from core.data.uploads import ZIP_MAX_MB, DatasetError
from core.errors import one_line
from core.explain.display import explain_bytes
from core.explain.overlay import overlay
from core.images import load_image, shrink
from core.model import ModelError, resolve_backbone_weights
from core.training import jobs, watch
from core.training.lease import Busy
from core.training.progress import request_stop
from core.training.recipe import TrainConfig

config, defaults = Config(), TrainConfig()
PETS_FOLDER = "oxford-iiit-pet"  # where the download goes, under the first data root


def download() -> None:
    """Oxford-IIIT Pet into the first data root, its progress on the page. Leaving or rerunning the
    page stops it; nothing half-written is kept (core/data/pets.py)."""
    if not ui.may_train():  # the button is disabled too; checked here all the same
        st.warning("Downloading needs an authorised user in this public demo.")
        return
    if not ui.DOWNLOAD.acquire(blocking=False):
        st.warning("Another download is under way on this server: try again when it has finished.")
        return
    bar = st.progress(0.0, text="Connecting…")

    def hear(step: str, done: int, total: int | None) -> None:
        if step == "checking photos":
            bar.progress(done / total, text=f"Checking photos: {done:,}/{total:,}")
        elif total:
            text = f"Downloading {step}: {done / 1e6:,.0f} of {total / 1e6:,.0f} MB"
            bar.progress(min(done / total, 1.0), text=text)
        else:
            bar.progress(0.0, text=f"Downloading {step}: {done / 1e6:,.0f} MB")

    try:
        dest = config.data_dir / PETS_FOLDER
        counts = download_pets(dest, source_from(config), progress=hear)
        st.session_state.data_message = (
            "success",
            f"Oxford-IIIT Pet is in {choices.label(dest, config.data_roots)}: "
            + "; ".join(
                f"{split} " + ", ".join(f"{n:,} {name}" for name, n in counts[split].items())
                for split in ("train", "validation")
            )
            + f"; {len(counts['dropped'])} broken file(s) dropped.",
        )
    except (DownloadError, OSError) as error:
        st.session_state.data_message = ("error", one_line(error))
    finally:
        ui.DOWNLOAD.release()
    bar.empty()


def add_dataset(name: str, zip_file, cat_photos, dog_photos) -> None:
    """A new dataset under the first data root from the visitor's files (core/data/uploads.py)."""
    try:
        with ui.expensive("check the photos"), st.spinner("Checking every photo…"):
            if zip_file is not None:
                report = datasets.from_zip(
                    config.data_dir, name or zip_file.name, zip_file.getvalue()
                )
            else:
                files = {
                    "cats": [(f.name, f.getvalue()) for f in cat_photos or []],
                    "dogs": [(f.name, f.getvalue()) for f in dog_photos or []],
                }
                report = datasets.from_photos(config.data_dir, name or "my-pets", files)
        where = choices.label(report.folder, config.data_roots)
        st.session_state.data_message = ("success", f"New dataset {where}. {report.summary()}")
        st.session_state.data_dir = report.folder.resolve()  # chosen for the next run
    except DatasetError as error:
        st.session_state.data_message = ("warning", str(error))


@st.cache_data(ttl=10, show_spinner=False)
def dataset_counts(path: Path) -> str:
    return datasets.describe(path)


def bring_data() -> None:
    """Data in from the browser: the public set, or the visitor's own labelled photos."""
    allowed = ui.may_train()
    download_tab, photos_tab, zip_tab = st.tabs(
        ["Download Oxford-IIIT Pet", "Upload photos per class", "Upload a ZIP"]
    )
    with download_tab:
        present = (config.data_dir / PETS_FOLDER / "train").is_dir()
        st.caption(
            "7,349 photos of 37 breeds (about 800 MB with the annotations), checked, split into "
            "train/ and validation/, with the pet masks and head boxes kept for localization."
        )
        if st.button(
            "Already downloaded" if present else "Download Oxford-IIIT Pet",
            key="download",
            disabled=present or not allowed,
        ):
            download()
    with photos_tab:
        st.text_input("Name of the new dataset", key="new_dataset", max_chars=80)
        cats, dogs = st.columns(2)
        cat_photos = ui.photo_uploader(
            "Cat photos", cats, accept_multiple_files=True, key="cat_photos"
        )
        dog_photos = ui.photo_uploader(
            "Dog photos", dogs, accept_multiple_files=True, key="dog_photos"
        )
        st.caption("A fifth of each class is held out for validation when the run starts.")
        if st.button("Add these photos", key="add_photos", disabled=not allowed):
            add_dataset(st.session_state.new_dataset, None, cat_photos, dog_photos)
    with zip_tab:
        st.text_input("Name of the new dataset", key="new_dataset_zip", max_chars=80)
        zip_file = st.file_uploader(
            f"A ZIP in the Kaggle layout: train/cats/, train/dogs/, validation/... (up to "
            f"{ZIP_MAX_MB} MB)",
            ["zip"],
            key="zip",
            max_upload_size=ZIP_MAX_MB,
        )
        if st.button("Add this ZIP", key="add_zip", disabled=not allowed or zip_file is None):
            add_dataset(st.session_state.new_dataset_zip, zip_file, None, None)
    if not allowed:
        st.caption("Bringing data needs an authorised user in this public demo.")
    if "data_message" in st.session_state:
        kind, text = st.session_state.data_message
        getattr(st, kind)(text)


def start_run() -> None:
    state = st.session_state
    if not ui.may_train():  # the button is disabled too; checked here all the same
        state.start_message = (
            "warning",
            "Starting a run needs an authorised user in this public demo.",
        )
        return
    if state.data_dir is None:
        state.start_message = (
            "warning",
            "No dataset under the data roots: add one (train/<class>/, validation/<class>/).",
        )
        return
    run = TrainConfig(
        epochs=state.epochs,
        fine_tune_epochs=state.fine_tune_epochs,
        patience=state.patience,
        backbone_weights=str(state.backbone_weights),
    )
    try:
        # A choice from the list; checked all the same, as is a file chosen a moment ago.
        data_dir = check_data_path(str(state.data_dir), config.data_roots)
        class_folders(data_dir)  # layout only; the run itself skips and counts bad photos
        resolve_backbone_weights(run.backbone_weights)
        run_dir = jobs.start(data_dir, config.weights_dir, run)
        state.start_message = ("info", f"Started run {run_dir.name}.")
    except (Busy, DataError, ModelError, OSError) as error:
        state.start_message = ("warning", str(error))


def stop_run(run_dir: Path, keep: bool) -> None:
    if ui.may_train():
        request_stop(run_dir, keep)


@st.cache_data(max_entries=64, show_spinner=False)
def mistake_overlays(model_path: str, photo: str, predicted: str, true: str):
    """Grad-CAM for the predicted class and for the true class, side by side."""
    loaded = ui.model_at(
        Path(model_path)
    )  # the Explain page's own model when the run is the current one
    if loaded.error:
        return None
    data = Path(photo).read_bytes()
    results = [
        explain_bytes(loaded, data, Path(photo).name, target, max_side=512)
        for target in (predicted, true)
    ]
    if any(isinstance(result, str) for result in results):
        return None
    layer = loaded.explainer.classifier.default_layer
    return [
        overlay(photo_array, explanation.heatmap(layer), 0.45)
        for photo_array, explanation in results
    ]


def curves(history: dict) -> pd.DataFrame:
    """Both phases end to end, one row per epoch, for the seed article's accuracy and loss
    plots."""
    rows = [
        {"phase": phase, **{k: v[i] for k, v in figures.items()}}
        for phase, figures in history.items()
        for i in range(len(next(iter(figures.values()), [])))
    ]
    frame = pd.DataFrame(rows)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    return frame


def show_report(status: dict) -> None:
    report = status.get("report")
    if not report:
        return
    names = report["class_names"]
    left, right = st.columns([1, 2])
    left.metric("Validation accuracy", f"{report['accuracy']:.1%}")
    left.dataframe(
        pd.DataFrame(
            report["confusion"],
            index=[f"true {n}" for n in names],
            columns=[f"predicted {n}" for n in names],
        )
    )
    mistakes = report["misclassified"]
    right.markdown(
        f"**{len(mistakes)} misclassified validation photos** (Grad-CAM for the predicted class | "
        "the true class)"
    )
    model_path = str(Path(status["run_dir"]) / "model.keras")
    for mistake in mistakes[:8]:
        predicted, true = names[mistake["predicted"]], names[mistake["true"]]
        pictures = mistake_overlays(model_path, mistake["path"], predicted, true)
        if pictures:
            columns = right.columns(2)
            columns[0].image(
                pictures[0],
                caption=(
                    f"{Path(mistake['path']).name}: why '{predicted}' "
                    f"({mistake['confidence']:.0%})"
                ),
                width="stretch",
                alt=f"Grad-CAM for the wrongly predicted class {predicted}",
            )
            columns[1].image(
                pictures[1],
                caption=f"why '{true}' (the true class)",
                width="stretch",
                alt=f"Grad-CAM for the true class {true}",
            )


@st.fragment(run_every=1.0)
def show_status() -> None:
    status = jobs.latest_run(config.weights_dir)
    if status is None:
        st.info("No training run yet. Choose a dataset and start one.")
        return
    run_dir = Path(status["run_dir"])
    state = status["state"]
    st.subheader(f"Run {run_dir.name}: {state}")
    if status.get("summary"):
        weights = Path(status.get("config", {}).get("backbone_weights", "?")).name
        data = choices.label(Path(status.get("data", "?")), config.data_roots)  # no server paths
        st.caption(f"{status['summary']} · backbone weights: {weights} · data: {data}")
    if status["running"]:
        eta = status.get("eta_seconds")
        if (
            status.get("phase") == "features"
        ):  # one forward pass per photo, training then validation
            text = f"features · {status.get('step', 0):,}/{status.get('steps', 0):,} photos"
        else:
            text = (
                f"{status.get('phase', 'starting')} · epoch "
                f"{status.get('epoch', 0)}/{status.get('epochs', 0)}"
            )
        text += f" · ETA {int(eta // 60)}m {int(eta % 60):02d}s" if eta else ""
        st.progress(float(status.get("fraction", 0.0)), text=text)
        stop_keep, stop_discard = st.columns(2)
        allowed = ui.may_train()
        stop_keep.button(
            "Stop, keep the best model so far",
            on_click=stop_run,
            args=(run_dir, True),
            disabled=not allowed,
        )
        stop_discard.button(
            "Stop, discard this run",
            on_click=stop_run,
            args=(run_dir, False),
            disabled=not allowed,
        )
    elif state == "done":
        st.success(status["message"] + " The Explain page now uses this model.")
    elif state in ("failed", "killed"):
        st.error(status.get("message", "The run failed."))
    else:
        st.info(status.get("message", state))
    history = {phase: figures for phase, figures in status.get("history", {}).items() if figures}
    if history:
        frame = curves(history)
        last = frame.iloc[-1]
        figures = st.columns(4)
        for column, key in zip(figures, ["accuracy", "val_accuracy", "loss", "val_loss"]):
            if key in last:
                column.metric(f"{key} (epoch {len(frame)})", f"{last[key]:.3f}")
        accuracy, loss = st.columns(2)
        accuracy.line_chart(
            frame[[c for c in ("accuracy", "val_accuracy") if c in frame]],
            x_label="epoch",
            y_label="accuracy",
        )
        loss.line_chart(
            frame[[c for c in ("loss", "val_loss") if c in frame]], x_label="epoch", y_label="loss"
        )
    show_watch(run_dir)
    if not status["running"]:
        show_report(status)


@st.cache_data(max_entries=32, show_spinner=False)
def watch_photo(path: str) -> np.ndarray:
    return shrink(load_image(path), 256)


def show_watch(run_dir: Path) -> None:
    """The fixed photos' maps after each epoch, with a slider over the epochs (core/training/watch.py)."""
    found = watch.read(run_dir)
    if not found:
        return
    record, maps = found
    st.markdown(
        f"**Where the model looks, epoch by epoch**: Grad-CAM at {record['layer']} for each "
        "photo's own class (the slider follows the latest epoch while the run goes on)."
    )
    names = [f"{each['phase']} epoch {each['epoch']}" for each in record["epochs"]]
    chosen = st.select_slider("Epoch", names, names[-1]) if len(names) > 1 else names[0]
    epoch = names.index(chosen)
    for cell, (path, _), raw in zip(st.columns(len(maps[epoch])), record["photos"], maps[epoch]):
        cell.image(
            overlay(watch_photo(path), normalize(raw), 0.45),
            caption=f"{Path(path).parent.name}: {Path(path).name} · {chosen}",
            width="stretch",
        )


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
    bring_data()
# Choices, never typed paths: the datasets and weights files found under the data roots and the
# weights folder.
found = choices.datasets(config.data_roots)
backbones = [
    "imagenet",
    "none",
    *map(str, choices.weights_files((*config.data_roots, config.weights_dir))),
]
if config.backbone_weights and config.backbone_weights not in backbones:
    backbones.append(config.backbone_weights)  # the operator's CATDOG_BACKBONE_WEIGHTS
with st.form("start"):
    if st.session_state.get("data_dir") not in found:  # first visit, or its dataset is gone
        default = config.data_dir.resolve()
        st.session_state.data_dir = default if default in found else next(iter(found), None)
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
    left, middle, patience, right = st.columns(4)
    left.number_input("Head epochs", 1, 2000, defaults.epochs, key="epochs")
    middle.number_input(
        "Fine-tune epochs (slow on a CPU)",
        0,
        100,
        defaults.fine_tune_epochs,
        key="fine_tune_epochs",
    )
    patience.number_input(
        "Early-stopping patience",
        1,
        2000,
        defaults.patience,
        key="patience",
        help="Epochs without a better validation loss before a phase stops.",
    )
    right.selectbox(
        "Backbone weights",
        backbones,
        index=backbones.index(config.backbone_weights or "imagenet"),
        format_func=lambda choice: Path(choice).name if "/" in choice else choice,
        key="backbone_weights",
        help=(
            "'none' starts from random weights: it runs offline but learns little. Files: .h5 "
            "under the roots."
        ),
    )
    st.form_submit_button(
        "Start training",
        on_click=start_run,
        type="primary",
        disabled=not ui.may_train(),
        key="start",
    )
if "start_message" in st.session_state:
    kind, text = st.session_state.start_message
    getattr(st, kind)(text)
show_status()
