"""Folder page: a folder's photos explained in the background, then a table, a gallery, a ZIP."""

import streamlit as st

from ui.config import app_config
from ui.folder.results import show_job
from ui.folder.start import pick_model, show_start, source_widgets

config = app_config()
st.title("A folder at a glance")
st.markdown(
    "Explains every photo of a folder (a dataset's validation split, say) or of many uploaded at "
    "once, in a background process: a reload or another page does not stop it. Then a table of "
    "predictions with filters, a gallery of overlays (**Open** shows one photo at every layer), "
    "and a ZIP to download. The same folder with the same model again computes nothing."
)
picked = pick_model(config)
source_widgets(config)
show_start(config, picked)
show_job(config, picked)
