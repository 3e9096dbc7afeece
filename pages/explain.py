"""Explain page: a photo in, the prediction and its class activation maps out."""

import streamlit as st

from ui.access import one_line_errors
from ui.config import app_config
from ui.explain.checks import show_checks
from ui.explain.maps import show_contrast, show_layers, show_maps, thumbnail
from ui.explain.screen import (
    explain,
    explain_first,
    page_title,
    show_downloads,
    show_model,
    show_no_model,
    show_prediction,
    show_waiting,
    top_chart,
)
from ui.explain.widgets import choose_model, sidebar

config = app_config()
chosen = choose_model(config, "view", "target", "layer")
explain_first(chosen)
st.title(page_title(chosen))
if chosen.loaded.error:
    show_no_model(chosen, config)
    st.stop()
show_model(chosen, config)
settings = sidebar(chosen.loaded, config)
if settings.photo is None:
    show_waiting()
    st.stop()
with one_line_errors(config):
    view = explain(chosen, settings)
    chart = show_prediction(view, chosen)
    show_maps(view)
    top_chart(chart, view.explanation)
    show_downloads(view, chosen, config)
    thumb = thumbnail(view, config)
    show_contrast(view, chosen, thumb)
    show_layers(view, thumb, chosen.loaded.explainer.layer_choices)
    show_checks(view, chosen.loaded.explainer)
