"""The Training page's start form: a dataset and the run's settings, chosen, never typed; the
run a click asks for, started in the background (core/training/jobs.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.config import Config
from core.data import choices
from core.data import uploads as datasets
from core.errors import UserError, one_line
from core.models.build import imagenet_weights_available
from core.models.catalog import run_name
from core.training import jobs, status
from core.training.lease import lock_holder
from core.training.recipe import TrainConfig
from core.training.status import Notice
from ui.access import is_public, may_train, notify, shown
from ui.kept import keep, restore

# The form's widget keys: kept for the session from page to page (ui/kept.py).
FORM_KEYS = ("data_dir", "epochs", "fine_tune_epochs", "patience", "backbone_weights")


@st.cache_data(ttl=10, show_spinner=False)
def dataset_counts(path: Path) -> str:
    return datasets.describe(path)


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


def start_run(config: Config, request: StartRequest) -> tuple[Notice, Path | None]:
    """The run a click asked for, started in the background, and its folder; or why it was not."""
    # The button is disabled too; checked here all the same.
    if not may_train():
        notice = "Starting a run needs an authorised user in this public demo."
        return Notice("warning", notice), None
    try:
        # jobs.start checks the dataset (chosen, still there, inside the roots) and the backbone.
        run_dir = jobs.start(request.data_dir, config.weights_dir, request.run, config.data_roots)
    except UserError as error:
        return Notice("warning", one_line(error)), None
    return Notice("info", f"Started {run_name(run_dir.name).lower()}."), run_dir


def show_start(config: Config) -> None:
    """The form over the datasets and weights files found, then the run a click asked for, or
    why it did not start (said until the next click, or until the run started has ended)."""
    # Choices, never typed paths: the datasets and weights files under the data roots and weights/.
    found = choices.datasets(config.data_roots)
    weights_files = choices.weights_files((*config.data_roots, config.weights_dir))
    restore(FORM_KEYS)
    start_form(config, found, status.backbones(config, weights_files))
    keep(FORM_KEYS)
    if not found and not is_public():  # where to put one: operator advice, never in public
        advice = "No dataset under the data roots yet. " + choices.roots_advice(config)
        st.info(shown(advice, config))
    state = st.session_state
    if request := state.pop("start_request", None):
        state.start_notice, state.started_run = start_run(config, request)
    elif started_run_ended(config):
        # "Started run …" said while it runs; its end is the run panel's to say.
        del state.start_notice, state.started_run
    if "start_notice" in state:
        notify(state.start_notice)


def started_run_ended(config: Config) -> bool:
    """Whether the run this page said it started has ended: it no longer holds the training lease
    (nor is taking it). The run panel, redrawn alone every second, reruns the page when it has, so
    that "Started run …" goes."""
    started = st.session_state.get("started_run")
    if not started:
        return False
    holder = lock_holder(config.weights_dir)
    return holder is None or holder.get("run_dir") not in (None, str(started))


def backbone_name(choice: str, imagenet_here: bool) -> str:
    """A backbone as the select names it: a file by its name; ImageNet's said missing offline."""
    if choice == "imagenet" and not imagenet_here:
        return "imagenet (not on this machine)"
    return Path(choice).name if "/" in choice else choice


def start_form(config: Config, found: list[Path], backbones: list[str]) -> None:
    """The run's settings: choices, never typed paths."""
    defaults, state = TrainConfig(), st.session_state
    # First visit, or its dataset is gone.
    if state.get("data_dir") not in found:
        default = config.data_dir.resolve()
        state.data_dir = default if default in found else next(iter(found), None)
    # First visit, or its weights file is gone: ImageNet's if they are here, else 'none'.
    if state.get("backbone_weights") not in backbones:
        state.backbone_weights = status.default_backbone(config)
    imagenet_here = imagenet_weights_available(include_top=False, config=config)
    with st.form("start"):
        st.selectbox(
            "Dataset",
            found,
            key="data_dir",
            format_func=lambda path: (
                f"{choices.label(path, config.data_roots)} · {dataset_counts(path)}"
            ),
            placeholder="No dataset under the data roots",
            help="Datasets under the data roots: folders with a train/ (or training/, "
            "training_set/) folder, or with class folders of photos."
            + ("" if is_public() else " " + shown(choices.roots_advice(config), config)),
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
            format_func=lambda choice: backbone_name(choice, imagenet_here),
            key="backbone_weights",
            help="'none' starts from random weights: it runs offline but learns little. Files: "
            ".h5 under the roots.",
        )
        if not imagenet_here:
            st.caption(status.IMAGENET_MISSING + " " + status.RANDOM_BACKBONE)
        elif state.backbone_weights == "none":
            st.caption(status.RANDOM_BACKBONE)
        st.form_submit_button(
            "Start training",
            on_click=ask_start,
            type="primary",
            disabled=not may_train(),
            key="start",
        )
