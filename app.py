"""Explain page: a photo in, the prediction and its Grad-CAM heatmap out."""

import random
from pathlib import Path

import streamlit as st

from core import Config
from core.app_support import describe, explain_bytes, load_app_model, model_key
from core.images import UPLOAD_TYPES, encode_png, list_images
from core.overlay import COLORMAPS, colorize, blend

st.set_page_config(page_title="catdog-gradcam · Explain", page_icon="🐾", layout="wide")
config = Config()


@st.cache_resource(max_entries=2, show_spinner="Loading the model (once per process)…")
def cached_model(key: str):
    """One model per weights file and modification time; never mutated, shared by every session."""
    return load_app_model(config)


@st.cache_data(max_entries=64, show_spinner="Explaining…")
def cached_explanation(data: bytes, name: str, key: str, target: str):
    """Per-photo results are data: keyed by the photo's bytes, the model file and the target."""
    return explain_bytes(cached_model(key), data, name, target)


def pick_random_photo(folder: str) -> None:
    photos = list_images(Path(folder))
    st.session_state.random_photo = str(random.choice(photos)) if photos else None
    st.session_state.random_error = None if photos else f"No photos in {folder}: set the validation folder."


st.title("Why does the model think it's a cat or a dog?")
key = model_key(config)
loaded = cached_model(key)
if loaded.error:
    st.error(loaded.error)
    st.info(
        "To get a model: train one on the **Training** page (or `python -m core train --data DIR`), "
        f"or copy a `model.keras` with its `model.json` into `{config.weights_dir}`. "
        "With internet, the app also works before any training: it downloads ResNet-50's ImageNet "
        "weights into `~/.keras/models` and folds ImageNet's dog breeds and cats into two classes."
    )
    st.stop()
st.caption(describe(loaded.explainer.classifier.info))
if loaded.explainer.classifier.info.kind == "zero-shot":
    st.info(
        "No fine-tuned model yet: this is ResNet-50's own ImageNet classifier, its 118 dog breeds and "
        "5 domestic-cat classes folded into *dog* and *cat*. Grad-CAM explains that folded score."
    )

with st.sidebar:
    st.header("Photo")
    source = st.radio("Source", ["Upload a photo", "Random validation photo"], horizontal=True)
    if source == "Upload a photo":
        upload = st.file_uploader("A photo of a cat or a dog", type=list(UPLOAD_TYPES))
        data, name = (upload.getvalue(), upload.name) if upload else (None, None)
    else:
        folder = st.text_input("Validation folder", str(config.validation_dir))
        st.button("🎲 Pick a random photo", on_click=pick_random_photo, args=(folder,))
        if st.session_state.get("random_error"):
            st.warning(st.session_state.random_error)
        path = st.session_state.get("random_photo")
        data, name = (Path(path).read_bytes(), Path(path).name) if path and Path(path).is_file() else (None, None)

    st.header("Explanation")
    layers = loaded.explainer.classifier.offered_layers(config)
    default = config.default_layer if config.default_layer in layers else list(layers)[-1]
    layer = st.select_slider(
        "Layer (fine → coarse)",
        options=list(layers),
        value=default,
        format_func=lambda name: f"{name} · {layers[name][0]}×{layers[name][1]}",
        help="Early layers are sharp but see edges and fur; the last layer (7×7) sees 'cat' or 'dog'.",
    )
    target = st.selectbox(
        "Explain the class", ["predicted", *loaded.explainer.class_names],
        help="Which class's logit the gradients come from.",
    )
    alpha = st.slider("Heatmap opacity (alpha)", 0.0, 1.0, config.alpha, 0.05)
    colormap = st.selectbox("Colormap", COLORMAPS)

if data is None:
    st.info("Upload a photo or pick a random validation photo in the sidebar.")
    st.stop()

result = cached_explanation(data, name, key, target)
if isinstance(result, str):
    st.error(result)
    st.stop()
photo, explanation = result
best = explanation.label
st.subheader(f"Prediction: **{best}** ({explanation.probabilities[best]:.1%})")
columns = st.columns(len(explanation.probabilities) + 1)
for column, (class_name, probability) in zip(columns, explanation.probabilities.items()):
    column.metric(f"P({class_name})", f"{probability:.1%}")
columns[-1].metric("Explained in", f"{explanation.seconds * 1000:.0f} ms")
if explanation.note:
    st.warning(explanation.note)

heatmap = explanation.heatmap(layer)
if heatmap.max() == 0:
    st.warning(f"Nothing at {layer} speaks for '{explanation.target}': every contribution is negative.")
height, width = photo.shape[:2]
colored = colorize(heatmap, height, width, colormap)
overlaid = blend(photo, colored, alpha)
left, middle, right = st.columns(3)
left.image(photo, caption=f"{name} ({width}×{height})", width="stretch")
middle.image(colored, caption=f"Grad-CAM for '{explanation.target}' at {layer}", width="stretch")
right.image(overlaid, caption=f"Overlay, alpha {alpha:.2f}", width="stretch")
st.download_button(
    "Download the overlay (PNG)", encode_png(overlaid), file_name=f"{Path(name).stem}_overlay.png", mime="image/png"
)
