"""The Explain page's screen around the maps: the model it explains with, the wait for a photo,
the prediction, its top classes and the downloads.

ui/explain/maps.py draws the maps, ui/explain/checks.py the checks a person asks for.
"""

from __future__ import annotations

import contextlib

import streamlit as st

from core.cams import is_guided
from core.cams.guided import layers_to_clone
from core.config import Config
from core.errors import UserError
from core.explain import display, export, figures, guide
from core.explain.explainer import Explanation
from core.explain.settings import Settings, View
from ui.access import is_public, shown
from ui.explain import present
from ui.explain.cache import cancel, explained, is_stopped
from ui.explain.present import CHEAP, passes
from ui.explain.widgets import read_settings
from ui.models import Chosen
from ui.slots import expensive
from ui.streamlit_internals import preload_result_code


def page_title(chosen: Chosen) -> str:
    """The title in the model's classes (no model: the cat-and-dog one)."""
    explainer = chosen.loaded.explainer
    return guide.page_title(explainer and explainer.class_names)


def explain_first(chosen: Chosen) -> None:
    """Explain a new photo before the page draws; the page then finds the result in the cache.

    The browser drawing a page shares the machine with the model: on 2 cores it cost 30 %.
    """
    if chosen.loaded.error:
        return
    settings = read_settings(chosen.loaded)
    explainer = chosen.loaded.explainer
    # An expensive method waits for its slot in the page, and a guided clone's first build shows
    # its bar there; an unreadable photo is refused there.
    if (
        settings.photo is not None
        and not is_stopped(settings.key(chosen.key))
        and passes(settings, explainer) <= CHEAP
        and not (is_guided(settings.method) and layers_to_clone(explainer.classifier.model))
    ):
        with contextlib.suppress(UserError):
            explained(chosen.loaded, settings.photo, settings.key(chosen.key))


def show_no_model(chosen: Chosen, config: Config) -> None:
    """Why there is no model to explain with, and what to do."""
    st.error(shown(chosen.loaded.error, config))
    if chosen.entry.current:  # else another model may be chosen in the sidebar
        st.info(guide.no_model(config.weights_dir, operator=not is_public()))


def show_model(chosen: Chosen, config: Config) -> None:
    """The model in use, as its caption names it (and what zero-shot means)."""
    info = chosen.loaded.explainer.classifier.info
    st.caption(shown(display.model_caption(chosen.entry, info), config))
    if info.kind == "zero-shot":
        st.info(guide.ZERO_SHOT)


def show_waiting() -> None:
    """No photo yet: what to do, while the browser fetches the code the result will need."""
    st.info(present.WAITING)
    preload_result_code()


def explain(chosen: Chosen, settings: Settings) -> View:
    """The photo explained with `settings`, from the shared cache or now (an expensive method in
    one of the process's slots, under a bar with Cancel); ImageError for a photo it cannot read,
    Stopped once cancelled."""
    key = settings.key(chosen.key)
    cost = passes(settings, chosen.loaded.explainer)
    with expensive(f"explain with {settings.method}", cost > CHEAP, *cancel(key)):
        found = explained(chosen.loaded, settings.photo, key, cost)
    return View(settings, key, found.picture, found.explanation)


def show_prediction(view: View, chosen: Chosen):
    """The predicted class, the time of the passes, why a map is empty; the cell the top
    classes' chart goes in, drawn after the maps (the browser's chart code is the slower)."""
    explanation, info = view.explanation, chosen.loaded.explainer.classifier.info
    st.subheader(present.prediction(explanation))
    if line := guide.true_class_line(
        view.settings.photo, explanation.label, explanation.probabilities
    ):
        st.markdown(line)
    chart, timing = st.columns([4, 1])
    seconds = present.duration(explanation.seconds)
    cost = passes(view.settings, chosen.loaded.explainer)
    timing.metric("Explained in", seconds, help=guide.timing_help(cost))
    for sentence in present.said_before_the_map(view, info):
        st.warning(shown(sentence))
    if explanation.guidance and not explanation.partly_guided:
        st.caption(f"Guided Backprop: {explanation.guidance}.")
    return chart


def top_chart(where, explanation: Explanation, height: int = 200, whose: str = "The") -> None:
    """The most probable classes (five; both of two) as a bar chart, in `where`."""
    top, y = figures.top_classes(explanation), "probability (%)"
    alt = f"{whose} {len(top)} most probable classes: {', '.join(top['class'])}"
    where.bar_chart(top, x="class", y=y, horizontal=True, sort=f"-{y}", height=height, alt=alt)


def show_downloads(view: View, chosen: Chosen, config: Config) -> None:
    """The overlay, the raw map and the manifest; the full-size overlay is made only when asked
    for (Streamlit calls the function on a click)."""
    files = export.downloads(view, chosen.loaded, config, chosen.entry)
    for column, file in zip(st.columns(3), files):
        column.download_button(file.label, file.data, file.file_name, file.mime)
