"""Compare page: one photo, every method at every layer, each with its time and deletion AUC."""

import streamlit as st

from ui.access import one_line_errors, shown
from ui.config import app_config
from ui.explain.compare import TARGET, VIEW, settings_widgets, show_grid_on_click, show_model
from ui.explain.present import WAITING
from ui.explain.widgets import choose_model

st.title("Compare methods and layers")
st.markdown(
    "One photo, a grid of methods × layers. Each cell gives its method's time (one pass serves "
    "every layer, so a row shares it) and its **deletion AUC**: the probability left as the "
    "hottest pixels are removed first, so **lower is more faithful**."
)
config = app_config()
# The zero-shot model is seen as cat vs dog (folded) or as ImageNet's 1,000 classes.
chosen = choose_model(config, VIEW, TARGET, "layers")
if chosen.loaded.error:
    st.error(shown(chosen.loaded.error, config))
    st.stop()
show_model(chosen, config)
grid = settings_widgets(chosen, config)
if grid.photo is None:
    st.info(WAITING)
    st.stop()
with one_line_errors(config):
    show_grid_on_click(chosen, grid, config)
