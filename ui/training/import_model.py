"""The Training page's "Bring your own model": a .keras or .h5 file checked, then imported.

The upload is inspected once (core/models/facts.py), its facts shown; the form asks what the CLI's
import-model asks: class names, preprocessing, a name. "Import" stores an `ImportRequest`
(on_click); the page's body imports it in one of the slots. Nothing is written for a refused file.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.config import Config
from core.errors import UserError, one_line
from core.models import imported
from core.models.facts import ModelFacts, inspect_model
from core.models.safe_load import MODEL_SUFFIXES
from core.training.status import Notice
from ui.access import notify, shown
from ui.slots import expensive

ACTIVATION_HELP = "Removed when explaining: the score explained is the logit before it."


@dataclass(frozen=True)
class ImportRequest:
    """A click on "Import": the file and the form's answers as they were at the click."""

    file_id: str
    classes: tuple[str, ...]
    preprocessing: str | None
    name: str


@dataclass(frozen=True)
class Inspected:
    """One upload's facts (core/models/facts.py's ModelFacts), or the one sentence refusing it."""

    file_id: str
    facts: ModelFacts | None
    refusal: str = ""


def class_names(text: str) -> tuple[str, ...]:
    """The class names typed, comma-separated, without blanks."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def field(name: str, file_id: str) -> str:
    """A form widget's key: each file gets widgets of its own, its proposal as their default."""
    return f"import_{name} {file_id}"


def ask_import(file_id: str) -> None:
    # The answers are read at the click: a name typed just before it arrives with the click.
    state = st.session_state
    state.import_request = ImportRequest(
        file_id,
        class_names(state.get(field("classes", file_id), "")),
        state.get(field("preprocessing", file_id)),
        state.get(field("name", file_id), "").strip(),
    )


def cap_mb(config: Config) -> int:
    """The largest model file the page takes: the config's cap (CATDOG_MAX_MODEL_MB), or the
    server's upload limit (.streamlit/config.toml) when that is lower, as it refuses more."""
    return min(config.max_model_mb, st.get_option("server.maxUploadSize"))


def max_bytes(config: Config) -> int:
    return cap_mb(config) * 2**20


def saved_upload(folder: str, upload) -> Path:
    """The uploaded bytes as a file under `folder`, named as the visitor's file (Keras reads the
    suffix)."""
    path = Path(folder) / Path(upload.name).name
    path.write_bytes(upload.getvalue())
    return path


def inspect(config: Config, upload) -> Inspected:
    """The upload's facts, read from a temporary copy that is gone afterwards."""
    try:
        with expensive("read the model"), st.spinner("Reading the model…"):
            with tempfile.TemporaryDirectory() as folder:
                facts = inspect_model(saved_upload(folder, upload), max_bytes(config))
    except UserError as error:
        return Inspected(upload.file_id, None, shown(one_line(error)))
    return Inspected(upload.file_id, facts)


def import_upload(config: Config, upload, request: ImportRequest) -> Notice:
    """The model a click asked for, stored under weights/imported/; or why it was not."""
    if request.preprocessing is None:
        return Notice("warning", "Choose the preprocessing the model was trained with.")
    try:
        with expensive("import the model"), st.spinner("Checking and saving the model…"):
            with tempfile.TemporaryDirectory() as folder:
                stored = imported.import_model(
                    saved_upload(folder, upload),
                    config.weights_dir,
                    list(request.classes),
                    request.preprocessing,
                    request.name or None,
                    max_bytes=max_bytes(config),
                )
    except UserError as error:
        return Notice("error", one_line(error))
    text = f"Imported {stored.parent.name}: choose it in the Model picker on the Explain page."
    return Notice("success", text)


def show_facts(facts: ModelFacts) -> None:
    """What the file holds, before anything is asked."""
    size, outputs, activation, layers = st.columns(4)
    size.metric("Input size", " × ".join(str(side) for side in facts.input_size))
    outputs.metric("Outputs", facts.outputs)
    activation.metric("Final activation", facts.activation, help=ACTIVATION_HELP)
    layers.metric("Layers offered", len(facts.layers), help=", ".join(facts.layers))
    st.caption(f"{facts.description}. Explained by default at `{facts.default_layer}`.")


def backbone(facts: ModelFacts) -> str:
    """The known backbone the proposal comes from, as the facts' description names it."""
    name = facts.description.partition(" backbone")[0]
    return "a model this app built" if name == "catdog" else name


def preprocessing_select(facts: ModelFacts, file_id: str) -> None:
    """The preprocessing: the proposed one to start with, confirmed or changed by the person."""
    names, proposed = list(imported.PREPROCESSING), facts.preprocessing
    st.selectbox(
        "Preprocessing",
        names,
        index=names.index(proposed) if proposed in names else None,
        format_func=lambda name: f"{name}: {imported.PREPROCESSING[name]}",
        key=field("preprocessing", file_id),
        placeholder="Choose what the model was trained with",
        help="What is done to 0-255 RGB pixels before the model sees them.",
    )
    if proposed:
        text = f"Proposed because the model contains {backbone(facts)}: confirm or change it."
        st.caption(text)
    else:
        st.caption("No known backbone in this model: choose its preprocessing.")


def model_form(config: Config, upload, facts: ModelFacts, request) -> None:
    """The questions the CLI's import-model asks, and the button that imports."""
    show_facts(facts)
    file_id, needed = upload.file_id, facts.outputs if facts.outputs > 1 else 2
    st.text_input(
        "Class names, comma-separated, in output order",
        key=field("classes", file_id),
        placeholder=f"{needed} names needed",
        help="One sigmoid unit: the class scored near 0, then near 1." if needed == 2 else None,
    )
    # Said until as many names as the model has outputs are typed.
    typed = len(class_names(st.session_state.get(field("classes", file_id), "")))
    if typed != needed:
        st.caption(f"{needed} names needed" + (f", {typed} typed." if typed else "."))
    preprocessing_select(facts, file_id)
    name, stem = field("name", file_id), Path(upload.name).stem
    st.text_input("Name (optional)", key=name, max_chars=60, placeholder=stem)
    st.button("Import", key="import", on_click=ask_import, args=(file_id,), type="primary")
    if request is not None and request.file_id == file_id:
        st.session_state.import_notice = import_upload(config, upload, request)


def bring_model(config: Config, allowed: bool) -> None:
    """A .keras or .h5 model file in from the browser, for authorised users only."""
    if not allowed:
        st.caption("Importing a model is reserved for authorised users in this public demo.")
        return
    state, most = st.session_state, cap_mb(config)
    request = state.pop("import_request", None)
    upload = st.file_uploader(
        f"A Keras model: .keras, or a legacy full-model .h5 or .hdf5 (up to {most} MB)",
        [suffix.lstrip(".") for suffix in MODEL_SUFFIXES],
        key="import_file",
        max_upload_size=most,
    )
    if upload is None:
        state.pop("import_inspected", None)
    else:
        if getattr(state.get("import_inspected"), "file_id", None) != upload.file_id:
            state.pop("import_notice", None)  # about the file before
            state.import_inspected = inspect(config, upload)
        inspected = state.import_inspected
        if inspected.refusal:
            st.error(inspected.refusal)
        else:
            model_form(config, upload, inspected.facts, request)
    if "import_notice" in state:
        notify(state.import_notice)
    if stored := imported.imported_models(config.weights_dir):
        st.caption(f"Imported so far: {', '.join(path.parent.name for path in stored)}.")
