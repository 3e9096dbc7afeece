"""What the pages share that imports Streamlit (so it is not in `core/`).

ui/loading.py    the model loader: one cached entry per model, warmed at start
ui/models.py     the model picker (core/catalog.py's models), its choice kept across pages
ui/photos.py     the photo widgets (upload, camera, a random validation photo), kept across pages
ui/explaining.py what to explain and how: the zero-shot view, the class, the method, the layer
ui/access.py     who may train and bring data in public mode
ui/slots.py      expensive actions bounded per process, buttons whose work runs in the page
ui/bring_data.py the Training page's Bring data: Oxford-IIIT Pet, photos per class, a ZIP
ui/run_panel.py  the Training page's run panel, redrawn every second
ui/housekeeping.py the Training page's disk space: runs and datasets, deleted after a dialog
ui/folder_view.py the Folder page's progress, filters, table, paged gallery and one photo
"""

from __future__ import annotations

from ui.access import access_panel, is_public, may_train
from ui.explaining import chosen_view, method_widgets, target_select, view_radio
from ui.loading import app_model, model_at, model_for, warm_up
from ui.models import chosen_model, forget_other_layers, model_picker
from ui.photos import photo_source, photo_uploader
from ui.slots import DOWNLOAD, SLOTS, button_result, expensive

__all__ = [
    "DOWNLOAD",
    "SLOTS",
    "access_panel",
    "app_model",
    "button_result",
    "chosen_model",
    "chosen_view",
    "expensive",
    "forget_other_layers",
    "is_public",
    "may_train",
    "method_widgets",
    "model_at",
    "model_for",
    "model_picker",
    "photo_source",
    "photo_uploader",
    "target_select",
    "view_radio",
    "warm_up",
]
