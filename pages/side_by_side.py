"""Side-by-side page: one photo, one method, two models' predictions and maps; their difference.

Model A is the session's model (the picker every page shares), model B a second one.
"""

import streamlit as st

from ui.access import one_line_errors
from ui.config import app_config
from ui.explain.present import WAITING
from ui.explain.side_by_side import pick_models, settings_widgets, show_failed, show_pair

st.title("Two models side by side")
st.markdown(
    "One photo, one method, two models: each one's prediction and map at its own layer, both "
    "maps stretched to the photo, and their difference. Try zero-shot ImageNet against a "
    "fine-tuned run, or the run before against the run after."
)
config = app_config()
sides = pick_models(config)
if show_failed(sides, config):
    st.stop()
columns = st.columns(2)  # model A's, model B's
settings = settings_widgets(sides, columns, config)
if settings.photo is None:
    st.info(WAITING)
    st.stop()
with one_line_errors(config):
    show_pair(sides, columns, settings, config)
