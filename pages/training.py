"""Training page: start a run in the background, watch it learn, stop it, see its mistakes."""

import streamlit as st

from ui.access import access_panel
from ui.config import app_config
from ui.training.bring_data import show_bring
from ui.training.housekeeping import show_housekeeping
from ui.training.run_panel import show_status
from ui.training.start import show_start

config = app_config()
st.title("Retrain the classifier")
st.markdown(
    "Fine-tunes ResNet-50 on a dataset as you downloaded it: one folder per class, split folders "
    "by their usual names (`train/`, `valid/`, `test/`...), or classes in the file names "
    "(`cat.0.jpg`); a test split is never trained on. Phase 1 trains the new head on features "
    "computed once per photo (seconds per epoch on a CPU); phase 2, optional, unfreezes the last "
    "stage at a low learning rate. The run continues in the background if you leave this page, "
    "and the Explain page switches to the new model only when it has finished."
)
access_panel()
show_bring(config)
show_start(config)
show_status(config)
show_housekeeping(config)
