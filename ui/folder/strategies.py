"""The Folder screen's strategies: what the model looks at across the run's photos, per predicted
class (core/explain/strategies.py), the likely shortcuts flagged, and a check of each flagged one
(core/explain/shortcuts.py). From the run's kept maps: no model pass but the check's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import streamlit as st

from core.config import Config
from core.explain.overlay import overlay
from core.explain.shortcuts import HOW, check
from core.folder import jobs
from core.folder.strategies import Found, from_run
from core.images import ImageError, photo_for_model, to_model_input
from core.models.catalog import ModelEntry, model_key
from ui.access import shown
from ui.folder import view
from ui.folder.present import check_sentence, job_entry, strategy_line
from ui.loading import model_for

ASKED, CHECKED = "folder_strategies", "folder_strategy_checks"
# Photos one check hides at most (one forward pass each, in the page's own run): the most
# typical of a larger cluster, and the result says how many.
MAX_CHECKED = 200


@st.cache_data(max_entries=4, show_spinner="Clustering the maps of each predicted class…")
def found_in(job_dir: str, updated: float, layer: str, roots: tuple[Path, ...]) -> Found:
    return from_run(Path(job_dir), jobs.read_job(Path(job_dir)), layer, roots)


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
    found = found_in(job_dir, updated, layer, tuple(config.data_roots))
    if not found.strategies:
        st.info("No photo explained yet.")
        return
    flagged = sum(s.flagged for s in found.strategies)
    count = len(found.strategies)
    st.caption(
        f"{count} {'strategy' if count == 1 else 'strategies'} over {len(found.photos):,} photos; "
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
        _show_typical(found, strategy, number, jobs.read_job(Path(job_dir)).photos)


def _show_typical(found: Found, strategy, number: int, job_photos: tuple[str, ...]) -> None:
    """The cluster's most typical photos; Open shows one as the gallery's Open does (by its index
    in the job's photos, which the table's rows are keyed by)."""
    index_of = {photo: index for index, photo in enumerate(job_photos)}
    cells = st.columns(max(4, len(strategy.typical)))
    for cell, member in zip(cells, strategy.typical):
        cell.image(found.thumbs[member], caption=Path(found.photos[member]).name, width="stretch")
        index = index_of[found.photos[member]]
        cell.button("Open", key=f"strategy {number} open {member}", on_click=_open, args=(index,))


def _open(index: int) -> None:
    st.session_state[view.OPENED] = index


def _show_check(job_dir, found: Found, strategy, number: int, entries, where) -> None:
    """Blur or the mean colour, a button, and what hiding the region did (kept per session)."""
    how = where.radio(
        "Hide the region by", HOW, horizontal=True, key=f"strategy {number} hide"
    )
    key = (job_dir, strategy.members, how)  # a re-clustering never shows an old answer
    where.button(
        f"Is it really the shortcut? Hide it in these {strategy.size} photos",
        key=f"strategy {number} check",
        on_click=_check,
        args=(job_dir, found, strategy, how, entries, key),
    )
    if (result := st.session_state.get(CHECKED, {}).get(key)) is not None:
        where.success(check_sentence(result) if isinstance(result, dict) else result)


def _check(job_dir, found: Found, strategy, how: str, entries, key) -> None:
    """Hide the region in the cluster's photos (at most MAX_CHECKED, the most typical first) with
    the model that made the run; the one line why not when that model is gone or was replaced."""
    job = jobs.read_job(Path(job_dir))
    entry = job_entry(job, entries)
    loaded = model_for(entry)[0] if entry else None
    if loaded is None or loaded.error or model_key(entry.path) != job.model_key:
        result = "The model that made these results is no longer there to check them with."
    else:
        classifier = loaded.explainer.classifier
        members = _most_typical(found, strategy)[:MAX_CHECKED]
        try:
            photos = [
                to_model_input([photo_for_model(Path(job.folder) / found.photos[i])],
                               classifier.input_size)[0].astype(np.uint8)
                for i in members
            ]  # fmt: skip
        except ImageError as error:
            result = f"A photo of this strategy cannot be read any more: {error}"
        else:
            before = found.confidence[list(members)]
            result = check(classifier, photos, _members(strategy, members), how, before)
    st.session_state.setdefault(CHECKED, {})[key] = result


def _most_typical(found: Found, strategy) -> list[int]:
    """The cluster's members, its most typical first."""
    typical = list(strategy.typical)
    return typical + [member for member in strategy.members if member not in typical]


def _members(strategy, members: list[int]):
    return replace(strategy, members=tuple(members))
