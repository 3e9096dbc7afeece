"""The Folder screen's strategies: what the model looks at across the run's photos, per predicted
class (core/explain/strategies.py), the likely shortcuts flagged, and a check of each flagged one
(core/explain/shortcuts.py). From the run's kept maps: no model pass but the check's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.config import Config
from core.explain.overlay import overlay
from core.explain.shortcuts import HOW, check
from core.folder import jobs
from core.folder.strategies import Found, from_run
from core.images import photo_for_model, to_model_input
from core.models.catalog import ModelEntry
from ui.access import shown
from ui.folder import view
from ui.folder.present import check_sentence, job_entry, strategy_line
from ui.loading import model_for

ASKED, CHECKED = "folder_strategies", "folder_strategy_checks"


@st.cache_data(max_entries=4, show_spinner="Clustering the maps of each predicted class…")
def found_in(job_dir: str, updated: float, layer: str) -> Found:
    return from_run(Path(job_dir), jobs.read_job(Path(job_dir)), layer)


def show_strategies(
    job_dir: str, updated: float, layer: str, entries: list[ModelEntry], config: Config
) -> None:
    """A button; then each predicted class's strategies, the flagged ones first, each with its
    mean map over its mean photo, its most typical photos and, when flagged, a check."""
    st.subheader("Strategies: what the model looks at, per predicted class")
    st.caption(
        "The maps of the photos predicted as each class, clustered (Spectral Relevance Analysis, "
        "Lapuschkin et al. 2019): each cluster is one way the model decides. A cluster whose "
        "evidence sits at one place of the frame in every photo, away from where subjects "
        "usually are, is flagged: a tag, a watermark or a frame may be what it reads."
    )
    if st.session_state.get(ASKED) != job_dir:
        st.button("Find its strategies", on_click=_ask, args=(job_dir,), key="folder_find")
        return
    found = found_in(job_dir, updated, layer)
    if not found.strategies:
        st.info("No photo explained yet.")
        return
    flagged = sum(s.flagged for s in found.strategies)
    st.caption(
        f"{len(found.strategies)} strategies over {len(found.photos):,} photos; "
        f"{flagged} flagged as a likely shortcut."
    )
    for number, strategy in enumerate(sorted(found.strategies, key=lambda s: not s.flagged)):
        _show_strategy(job_dir, found, strategy, number, entries, config)


def _ask(job_dir: str) -> None:
    st.session_state[ASKED] = job_dir


def _show_strategy(job_dir, found: Found, strategy, number: int, entries, config: Config) -> None:
    with st.container(border=True):
        picture, words = st.columns([1, 3])
        mean = overlay(found.mean_photo(strategy), strategy.mean_map, config.alpha)
        picture.image(mean, caption="mean map over the mean photo", width="stretch")
        words.markdown(f"**{strategy.label}**: {strategy_line(strategy)}")
        if strategy.flagged:
            words.warning(shown(strategy.reason))
            _show_check(job_dir, found, strategy, number, entries, words)
        _show_typical(found, strategy, number)


def _show_typical(found: Found, strategy, number: int) -> None:
    job_photos = {photo: index for index, photo in enumerate(found.photos)}
    cells = st.columns(max(4, len(strategy.typical)))
    for cell, member in zip(cells, strategy.typical):
        cell.image(found.thumbs[member], caption=Path(found.photos[member]).name, width="stretch")
        index = job_photos[found.photos[member]]
        cell.button("Open", key=f"strategy {number} open {member}", on_click=_open, args=(index,))


def _open(index: int) -> None:
    st.session_state[view.OPENED] = index


def _show_check(job_dir, found: Found, strategy, number: int, entries, where) -> None:
    """Blur or the mean colour, a button, and what hiding the region did (kept per session)."""
    how = where.radio(
        "Hide the region by", HOW, horizontal=True, key=f"strategy {number} hide"
    )
    key = (job_dir, number, how)
    where.button(
        f"Is it really the shortcut? Hide it in these {strategy.size} photos",
        key=f"strategy {number} check",
        on_click=_check,
        args=(job_dir, found, strategy, how, entries, key),
    )
    if (result := st.session_state.get(CHECKED, {}).get(key)) is not None:
        where.success(check_sentence(result) if isinstance(result, dict) else result)


def _check(job_dir, found: Found, strategy, how: str, entries, key) -> None:
    entry = job_entry(jobs.read_job(Path(job_dir)), entries)
    loaded = model_for(entry)[0] if entry else None
    if loaded is None or loaded.error:
        result = "The model that made these results is no longer there to check them with."
    else:
        classifier = loaded.explainer.classifier
        root = Path(jobs.read_job(Path(job_dir)).folder)
        photos = [
            to_model_input([photo_for_model(root / found.photos[i])], classifier.input_size)[0]
            for i in strategy.members
        ]
        photos = [np.asarray(p, np.uint8) for p in photos]
        result = check(classifier, photos, strategy, how, found.before(strategy))
    st.session_state.setdefault(CHECKED, {})[key] = result
