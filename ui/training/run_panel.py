"""The Training page's run panel, redrawn every second.

The latest run's progress, stop buttons, curves and watched maps, and its mistakes opened on
the Folder page; what it draws comes from `core/training/status.py`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.config import Config
from core.data.choices import split_folder
from core.errors import UserError, one_line
from core.images import ImageError
from core.models.catalog import run_name
from core.training import jobs, publishing, status, watch
from core.workers.process import request_stop
from core.workers.records import TrainingProgress
from ui.access import may_train, notify, shown
from ui.config import app_config
from ui.folder.view import open_on_run
from ui.models import KEPT_MODEL
from ui.picture_cache import kept_picture
from ui.training.start import started_run_ended


def stop_run(run_dir: Path, keep: bool) -> None:
    state = st.session_state
    state.stop_error = None
    if not may_train():
        return
    try:
        request_stop(run_dir, keep)
    except UserError as error:
        state.stop_error = one_line(error)


LEAKS_SHOWN = 12  # near-duplicate pairs drawn on the page


@kept_picture()
def confusion_picture(class_names: list[str], confusion: list[list[int]]) -> np.ndarray:
    """The heatmap drawn once per report, not on every redraw of the panel."""
    return status.confusion_picture({"class_names": class_names, "confusion": confusion})


def show_report(report: dict, run_dir: Path, data_dir: Path | None) -> None:
    """The validation figures and mistakes; then the test split's figures, if it had one."""
    show_figures(report, "Validation")
    show_mistakes(report, run_dir, data_dir)
    if leaks := report.get("near_duplicates", {}).get("count"):
        show_near_duplicates(leaks, report["near_duplicates"]["pairs"], data_dir)
    if test := report.get("test"):
        st.markdown(
            f"**Test split** ({sum(map(sum, test['confusion'])):,} photos): never trained on, "
            "nor used to choose the epoch."
        )
        show_figures(test, "Test")


def show_near_duplicates(count: int, pairs: list[dict], data_dir: Path | None) -> None:
    """The photos of two splits that are one photo: counted, and the closest pairs shown."""
    st.warning(
        f"{count:,} near-duplicate pair{'' if count == 1 else 's'} across splits: the same photo, "
        "resized or saved again, is in two splits, so the figures above are kinder than the "
        "model is. Remove one of each pair and train again."
    )
    with st.expander(f"See the closest {min(len(pairs), LEAKS_SHOWN)} pairs"):
        for pair in pairs[:LEAKS_SHOWN]:
            left, right = st.columns(2)
            for column, split, path in (
                (left, pair["split"], pair["path"]),
                (right, pair["other_split"], pair["other_path"]),
            ):
                name = f"{split}: {shown_path(path, data_dir)}"
                try:
                    column.image(watched_photo(path), caption=name)
                except ImageError:
                    column.caption(f"{name} (no longer readable)")
            st.caption(f"{pair['distance']} of 64 hash bits apart")


def shown_path(path: str, data_dir: Path | None) -> str:
    """A photo's path below its dataset, never the server's folders."""
    if data_dir is not None and Path(path).is_relative_to(data_dir):
        return Path(path).relative_to(data_dir).as_posix()
    return Path(path).name


def show_figures(report: dict, split: str) -> None:
    """One split's accuracy, per class, most confused and confusion heatmap."""
    left, right = st.columns([1, 2])
    left.metric(f"{split} accuracy", f"{report['accuracy']:.1%}")
    if "top5_accuracy" in report:
        left.metric("Top-5 accuracy", f"{report['top5_accuracy']:.1%}")
    left.dataframe(
        status.per_class(report),
        column_config={"accuracy": st.column_config.NumberColumn(format="percent")},
    )
    if pairs := status.confused_pairs(report):
        left.markdown(
            "**Most confused** (true -> predicted)\n" + "".join(f"\n- {p}" for p in pairs)
        )
    right.image(
        confusion_picture(report["class_names"], report["confusion"]),
        caption=f"{split} confusion matrix: rows the true class, columns the predicted one",
        width="stretch",
    )


def show_mistakes(report: dict, run_dir: Path, data_dir: Path | None) -> None:
    """How many validation photos the run got wrong, and a button that opens them on the Folder
    page: its gallery, filters and export, the run's validation photos filtered to the wrong."""
    wrong = len(report["misclassified"])
    st.markdown(f"**{wrong} misclassified validation photos**")
    # The report names its validation folder (a run before it: the dataset's, found by name).
    folder = report.get("validation_folder")
    if folder is None and "validation_folder" not in report and data_dir is not None:
        folder = split_folder(Path(data_dir), "validation")
    if not wrong or folder is None:
        if wrong:
            st.caption("This run held out a fifth of train: no validation folder to open.")
        return
    st.button(
        "See them on the Folder page",
        key="open_mistakes",
        on_click=open_on_run,
        args=(run_dir, Path(folder)),
        help="The run's validation photos explained with its model, filtered to the wrong ones.",
    )
    if st.session_state.pop("open_folder_page", False):
        st.switch_page("pages/folder.py")


def show_outcome(progress: TrainingProgress, run_dir: Path) -> None:
    """A running run's progress and stop buttons, or how it ended."""
    if not progress.running:
        # Computed from the Explain page's own state: a person who picked a model there keeps it.
        kept = st.session_state.get(KEPT_MODEL)
        notify(status.outcome(progress, kept in (None, f"runs/{run_dir.name}")))
        return
    st.progress(float(progress.fraction), text=status.progress_text(progress))
    stops = (("Stop, keep the best model so far", True), ("Stop, discard this run", False))
    for column, (label, keep) in zip(st.columns(2), stops):
        column.button(label, on_click=stop_run, args=(run_dir, keep), disabled=not may_train())
    if st.session_state.get("stop_error"):
        st.warning(shown(st.session_state.stop_error))


def show_comparison(progress: TrainingProgress, run_dir: Path, weights_dir: Path) -> None:
    """This run beside the current model, each with the photos it was measured on; and, when
    the run was not made current, the button that makes it so."""
    if rows := publishing.comparison(run_dir, weights_dir):
        percent = st.column_config.NumberColumn(format="percent")
        st.dataframe(
            pd.DataFrame(rows), hide_index=True, column_config={"validation accuracy": percent}
        )
    if progress.published is False:
        st.button(
            "Make this run the current model",
            key="make_current",
            on_click=make_current,
            args=(run_dir, weights_dir),
            disabled=not may_train(),
            help="The Explain page then uses it; the model it replaces stays among the runs.",
        )
    if st.session_state.get("make_current_error"):
        st.warning(shown(st.session_state.make_current_error))


def make_current(run_dir: Path, weights_dir: Path) -> None:
    st.session_state.make_current_error = None
    if not may_train():  # the button is disabled then; checked here all the same
        return
    try:
        publishing.make_current(run_dir, weights_dir)
    except UserError as error:
        st.session_state.make_current_error = one_line(error)


def show_curves(frame: pd.DataFrame) -> None:
    for column, (name, value) in zip(st.columns(4), status.latest_figures(frame).items()):
        column.metric(name, value)
    for column, keys in zip(st.columns(2), (status.FIGURES[:2], status.FIGURES[2:])):
        shown = [key for key in keys if key in frame]
        column.line_chart(frame[shown], x_label="epoch", y_label=keys[0])


@kept_picture()
def watched_photo(path: str) -> np.ndarray:
    return status.watched_photo(path, app_config())


def show_watch(run_dir: Path) -> None:
    """The fixed photos' maps after each epoch, with a slider over the epochs (watch.py)."""
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
        caption = f"{Path(path).parent.name}: {Path(path).name} · {chosen}"
        try:
            picture = status.watch_overlay(watched_photo(path), raw, app_config())
        except ImageError:
            # Deleted or replaced since the run watched it: said in one line, the others shown.
            cell.caption(f"{Path(path).name} can no longer be read.")
            continue
        cell.image(picture, caption=caption, width="stretch")


@st.fragment(run_every=1.0)
def show_status(config: Config) -> None:
    progress = jobs.latest_run(config.weights_dir)
    if progress is None:
        st.info("No training run yet. Choose a dataset and start one.")
        return
    if started_run_ended(config):
        st.rerun()  # the whole page, this panel being redrawn alone: "Started run …" goes
    run_dir = Path(progress.run_dir)
    st.subheader(f"{run_name(run_dir.name)}: {progress.state}")
    if caption := status.caption(progress, config.data_roots):
        st.caption(shown(caption))
    show_outcome(progress, run_dir)
    if progress.state == "done" and not progress.running:
        show_comparison(progress, run_dir, config.weights_dir)
    if (frame := status.curves(progress)) is not None:
        show_curves(frame)
    show_watch(run_dir)
    if not progress.running and progress.report:
        data_dir = Path(progress.data) if progress.data else None
        show_report(progress.report, run_dir, data_dir)
