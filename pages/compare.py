"""Compare page: one photo, every method at every layer, each with its time and deletion AUC."""

import streamlit as st

import ui
from core.cams import METHODS
from core.config import Config
from core.data.choices import images_in
from core.explain.compare import WHY_THE_SAME, coincidences, compare, cost
from core.explain.display import DISPLAY_SIDE
from core.explain.overlay import blend, colorize
from core.images import ImageError, load_image, shrink

config = Config()


st.title("Compare methods and layers")
st.markdown(
    "One photo, a grid of methods × layers. Each cell gives the method's time and its **deletion "
    "AUC**: the probability left as the hottest pixels are removed first, so **lower is more "
    "faithful**."
)
loaded, _ = ui.app_model()
if loaded.error:
    st.error(loaded.error)
    st.stop()
explainer = loaded.explainer
layers = explainer.classifier.layers

upload = ui.photo_uploader("A photo (or leave empty for the first validation photo)")
validation = images_in(config.validation_dir)
data, name = (
    (upload.getvalue(), upload.name)
    if upload
    else ((validation[0].read_bytes(), validation[0].name) if validation else (None, None))
)
methods = st.multiselect("Methods", list(METHODS), default=list(METHODS), key="methods")
chosen_layers = st.multiselect("Layers", list(layers), default=list(layers), key="layers")
target = st.selectbox("Explain the class", explainer.targets, key="target")
st.caption(
    f"About {cost(explainer, methods, chosen_layers):,} forward passes, each method with its "
    "default options."
)

if data is None:
    st.info("Upload a photo, or set a validation folder with photos (CATDOG_VALIDATION_DIR).")
    st.stop()
try:
    photo = load_image(data, name, max_side=DISPLAY_SIDE)
except ImageError as error:
    st.error(str(error))
    st.stop()

if st.button(
    "Fill the grid", type="primary", key="fill", disabled=not (methods and chosen_layers)
):
    with ui.expensive("fill the grid"):
        bar = st.progress(0.0, text="Explaining…")
        st.session_state.grid = (
            name,
            target,
            compare(
                explainer,
                photo,
                methods,
                chosen_layers,
                target,
                progress=lambda f: bar.progress(f, text=f"Explaining… {f:.0%}"),
            ),
        )
        bar.empty()

if st.session_state.get("grid") and st.session_state.grid[:2] == (name, target):
    cells = st.session_state.grid[2]
    thumb = shrink(photo, 384)  # a grid cell is a fifth of the page
    grid_layers = list(dict.fromkeys(cell.layer for cell in cells))
    header = st.columns([1] + [2] * len(grid_layers))
    for column, layer in zip(header[1:], grid_layers):
        column.markdown(f"**{layer}** · {layers[layer][0]}×{layers[layer][1]}")
    for method in dict.fromkeys(cell.method for cell in cells):
        row = st.columns([1] + [2] * len(grid_layers))
        row[0].markdown(f"**{method}**")
        for column, cell in zip(row[1:], [c for c in cells if c.method == method]):
            column.image(
                blend(thumb, colorize(cell.heatmap, *thumb.shape[:2]), 0.45),
                width="stretch",
                caption=f"{cell.seconds * 1000:.0f} ms · deletion AUC {cell.deletion_auc:.3f}",
            )
    same = coincidences(cells)
    if same:
        st.info(" ".join(same) + " " + WHY_THE_SAME)
