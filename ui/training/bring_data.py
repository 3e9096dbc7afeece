"""The Training page's "Bring data": Oxford-IIIT Pet by species or breed, photos per class, a ZIP;
and beside it "Bring your own model" (ui/training/import_model.py).

Buttons store a `DataRequest` (on_click); the tab of the button that asked does the work once,
where the visitor sees it. The checking and writing are core's (core/data/uploads.py, pets.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.config import Config
from core.data import choices, pet_layout, pets
from core.data import uploads as datasets
from core.errors import UserError, one_line, writing
from core.training.status import Notice
from ui.access import may_train, notify
from ui.photos import photo_uploader
from ui.slots import DOWNLOAD, expensive
from ui.training.import_model import bring_model

LAYOUT_NAMES = {"species": "Species: cats, dogs", "breeds": "Breeds: 37 classes"}
FIRST_CLASSES = ("cats", "dogs")  # the photos tab's first two class names, editable


@dataclass(frozen=True)
class DataRequest:
    """A click on a "Bring data" button: "download", "photos" or "zip", and the name typed."""

    source: str
    name: str = ""


def ask(source: str, name_key: str | None = None) -> None:
    # The name is read at the click: one typed just before it arrives with the click itself.
    name = st.session_state.get(name_key, "") if name_key else ""
    st.session_state.data_request = DataRequest(source, name)


def download(config: Config, layout: str) -> Notice:
    """Oxford-IIIT Pet into the first data root in `layout`, its bytes on a progress bar.

    Made from the other layout's photos when that one is here, without downloading again.
    Leaving or rerunning the page stops it; nothing half-written is kept (core/data/pets.py).
    """
    # The button is disabled too; checked here all the same.
    if not may_train():
        return Notice("warning", "Downloading needs an authorised user in this public demo.")
    if not DOWNLOAD.acquire(blocking=False):
        text = "Another download is under way on this server: try again when it has finished."
        return Notice("warning", text)
    bar = st.progress(0.0, text="Connecting…")

    def hear(step: str, done: int, total: int | None) -> None:
        if step.endswith("photos"):  # checking them, or laying them out
            bar.progress(done / total, text=f"{step.capitalize()}: {done:,}/{total:,}")
        elif total:
            text = f"Downloading {step}: {done / 1e6:,.0f} of {total / 1e6:,.0f} MB"
            bar.progress(min(done / total, 1.0), text=text)
        else:
            bar.progress(0.0, text=f"Downloading {step}: {done / 1e6:,.0f} MB")

    dest = config.data_dir / pet_layout.LAYOUTS[layout]
    earlier = pet_layout.find_download(config.data_dir, dest)
    try:
        with writing("saving Oxford-IIIT Pet"):
            source = pets.source_from(config)
            counts = pets.download_pets(dest, source, progress=hear, layout=layout, reuse=earlier)
        where = choices.label(dest.resolve(), config.data_roots)
        return Notice("success", pets.summary(counts, where))
    except UserError as error:
        return Notice("error", one_line(error))
    finally:
        DOWNLOAD.release()
        bar.empty()


def add_dataset(config: Config, name: str, zip_file=None, photos: list | None = None) -> Notice:
    """A new dataset under the first data root from the visitor's files (core/data/uploads.py).

    `photos`: (class name, uploaded files) pairs, one per class as the visitor named them.
    """
    try:
        with expensive("check the photos"), st.spinner("Checking every photo…"):
            if zip_file is not None:
                name, data = name or Path(zip_file.name).stem, zip_file.getvalue()
                report = datasets.from_zip(config.data_dir, name, data)
            else:
                files = [(label, [(f.name, f.getvalue()) for f in got]) for label, got in photos]
                report = datasets.from_photos(config.data_dir, name or "my-pets", files)
    except UserError as error:
        return Notice("warning", one_line(error))
    # Chosen for the next run.
    st.session_state.data_dir = report.folder.resolve()
    where = choices.label(report.folder.resolve(), config.data_roots)
    return Notice("success", f"New dataset {where}. {report.summary()}")


def download_tab(config: Config, allowed: bool, source: str) -> None:
    st.caption(
        "7,349 photos of 37 breeds (about 800 MB with the annotations), checked, split into "
        "train/ and validation/, with the pet masks and head boxes kept for localization. One "
        "download serves both layouts: the second is made from the first."
    )
    layout = st.radio(
        "Classes", list(LAYOUT_NAMES), key="pets_layout", format_func=LAYOUT_NAMES.get
    )
    dest = config.data_dir / pet_layout.LAYOUTS[layout]
    present, earlier = (dest / "train").is_dir(), pet_layout.find_download(config.data_dir, dest)
    label = f"Lay out by {layout} (no download)" if earlier else "Download Oxford-IIIT Pet"
    label = "Already downloaded" if present else label
    st.button(
        label, key="download", disabled=present or not allowed, on_click=ask, args=("download",)
    )
    # Here, under its button, where the visitor sees its progress bar.
    if source == "download":
        st.session_state.data_notice = download(config, layout)


def set_classes(numbers: tuple[int, ...]) -> None:
    """The photos tab's classes, by number: a number keeps its widgets when another goes."""
    st.session_state.photo_classes = numbers


def photos_tab(config: Config, allowed: bool, source: str, name: str) -> None:
    """A name and an uploader per class: cats and dogs to start with, more on request."""
    st.text_input("Name of the new dataset", key="new_dataset", max_chars=80)
    classes, photos = st.session_state.setdefault("photo_classes", (0, 1)), []
    columns = st.columns(3)
    for place, number in enumerate(classes):
        with columns[place % 3].container(border=True):
            first = FIRST_CLASSES[number] if number < len(FIRST_CLASSES) else ""
            label = st.text_input(
                f"Class {place + 1}", first, 40, key=f"class_{number}", placeholder="e.g. birds"
            )
            got = photo_uploader(
                f"Photos of {label or 'this class'}",
                accept_multiple_files=True,
                key=f"photos_{number}",
            )
            photos.append((label, got or []))
            if place >= len(FIRST_CLASSES):  # two classes at least
                fewer = tuple(n for n in classes if n != number)
                st.button("Remove", key=f"remove_{number}", on_click=set_classes, args=(fewer,))
    more = (*classes, max(classes) + 1)
    st.button("Add a class", key="add_class", on_click=set_classes, args=(more,))
    st.caption("A fifth of each class is held out for validation when the run starts.")
    args = ("photos", "new_dataset")
    st.button("Add these photos", key="add_photos", disabled=not allowed, on_click=ask, args=args)
    if source == "photos":
        st.session_state.data_notice = add_dataset(config, name, photos=photos)


def zip_tab(config: Config, allowed: bool, source: str, name: str) -> None:
    st.text_input("Name of the new dataset", key="new_dataset_zip", max_chars=80)
    most = st.get_option("server.maxUploadSize")  # .streamlit/config.toml: the one ZIP cap
    text = (
        "A ZIP of a dataset as downloaded (Kaggle, Roboflow, TensorFlow, Microsoft PetImages, "
        f"Oxford-IIIT Pet) or of your own class folders (cats/, dogs/, ...), up to {most} MB"
    )
    help_text = (
        "Split folders are read by their usual names (train, valid, val, test, training_set...); "
        "without class folders, classes come from file names such as cat.0.jpg. A test split is "
        "kept apart and never trained on."
    )
    zip_file = st.file_uploader(text, ["zip"], key="zip", max_upload_size=most, help=help_text)
    st.caption(
        f"Over {most} MB (the whole Kaggle Dogs vs. Cats is about 540 MB)? Unzip it into a "
        "folder under the data roots, where this page lists it, or train on it from the "
        "command line."
    )
    disabled, args = not allowed or zip_file is None, ("zip", "new_dataset_zip")
    st.button("Add this ZIP", key="add_zip", disabled=disabled, on_click=ask, args=args)
    if source == "zip" and zip_file is not None:
        st.session_state.data_notice = add_dataset(config, name, zip_file)


def show_bring(config: Config) -> None:
    """The two ways in, each under its expander: data (open while there is none) and a model."""
    allowed = may_train()
    with st.expander("Bring data", expanded=not choices.datasets(config.data_roots)):
        bring_data(config, allowed)
    with st.expander("Bring your own model"):
        bring_model(config, allowed)


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
