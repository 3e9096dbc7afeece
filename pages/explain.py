"""Explain page: a photo in, the prediction and its class activation maps out."""

import contextlib
import functools
import hashlib
import io
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.cams import METHODS
from core.config import Config
from core.data import choices
from core.data.choices import images_in
from core.explain.display import colored_map, describe, explain_bytes, full_size_overlay, manifest
from core.explain.faithfulness import sanity_verdict
from core.explain.overlay import COLORMAPS, blend
from core.images import encode_jpeg, shrink

config = Config()
roots = (*config.data_roots, config.validation_dir)  # what a page may read photos from
THUMB_SIDE = 384  # the layer strip and the contrast cells: a quarter or a third of the page


@st.cache_data(max_entries=64, show_spinner="Explaining…")
def cached_explanation(
    _data: bytes, photo_id: str, name: str, key: str, target: str, options: tuple
):
    """Per-photo results are data: keyed by the photo's digest, the model, the target and the
    method's options."""
    return explain_bytes(ui.app_model()[0], _data, name, target, **dict(options))


@st.cache_data(max_entries=256, show_spinner=False)
def cached_picture(
    _explanation,
    photo_id: str,
    key: str,
    target: str,
    options: tuple,
    layer: str,
    relu: bool,
    colormap: str,
    smooth: bool,
    height: int,
    width: int,
) -> np.ndarray:
    """The coloured map at display size, keyed by everything that changes it: an alpha step only
    blends."""
    return colored_map(_explanation, layer, height, width, relu, colormap, smooth)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_jpeg(_picture: np.ndarray, *identity) -> bytes:
    """A picture that an alpha step does not change, encoded once (st.image sends bytes as they
    are)."""
    return encode_jpeg(_picture)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_thumbnail(_photo: np.ndarray, photo_id: str) -> np.ndarray:
    return shrink(_photo, THUMB_SIDE)


def method_options(method: str, aug_smooth: bool, eigen_smooth: bool, values: dict) -> tuple:
    """The method and its settings as a hashable key; only the options `method` declares."""
    own = tuple(METHODS[method].own_options(values).items())
    return (("method", method), ("aug_smooth", aug_smooth), ("eigen_smooth", eigen_smooth), *own)


def explain_first(explainer, key: str) -> None:
    """A new upload is explained before the page is drawn, from the widgets' values, so the browser
    has nothing new to render while the model works: on a machine they share (2 cores here),
    drawing at the same time cost the explanation 30 %. The page below then finds the result in the
    cache."""
    state = st.session_state
    upload = state.get("upload")
    if state.get("source") != "Upload a photo" or upload is None or "target" not in state:
        return
    method = state.get("method", "Grad-CAM")
    aug_smooth, eigen_smooth = state.get("aug_smooth", False), state.get("eigen_smooth", False)
    options = method_options(method, aug_smooth, eigen_smooth, state)
    if explainer.cost(method, **dict(options[3:])) > 1:
        return  # an expensive method waits for its slot below
    data = upload.getvalue()
    cached_explanation(
        data, hashlib.sha1(data).hexdigest(), upload.name, key, state.target, options
    )


def pick_random_photo(folder: Path) -> None:
    photos = images_in(folder)  # bounded, and never outside the chosen folder
    st.session_state.random_photo = str(random.choice(photos)) if photos else None
    st.session_state.random_error = (
        None if photos else f"No photos in {choices.label(folder, roots)}."
    )


loaded, key = ui.app_model()
if not loaded.error:
    explain_first(loaded.explainer, key)
st.title("Why does the model think it's a cat or a dog?")
if loaded.error:
    st.error(loaded.error)
    st.info(
        "To get a model: train one on the **Training** page (or `python -m core train --data "
        f"DIR`), or copy a `model.keras` with its `model.json` into `{config.weights_dir}`. With "
        "internet, the app also works before any training: it downloads ResNet-50's ImageNet "
        "weights into `~/.keras/models` and folds ImageNet's dog breeds and cats into two "
        "classes."
    )
    st.stop()
explainer = loaded.explainer
st.caption(describe(explainer.classifier.info))
if explainer.classifier.info.kind == "zero-shot":
    st.info(
        "No fine-tuned model yet: this is ResNet-50's own ImageNet classifier, its 118 dog breeds "
        "and 5 domestic-cat classes folded into *dog* and *cat*. The maps explain that folded "
        "score."
    )

with st.sidebar:
    st.header("Photo")
    source = st.radio(
        "Source",
        ["Upload a photo", "Take a photo", "Random validation photo"],
        horizontal=True,
        key="source",
    )
    if source == "Upload a photo":
        upload = ui.photo_uploader("A photo of a cat or a dog", key="upload")
        data, name = (upload.getvalue(), upload.name) if upload else (None, None)
    elif source == "Take a photo":  # a phone's or a laptop's camera, through the browser
        # 720p: the widget's own size (a sidebar's width, ~260 px) would be a thumbnail.
        shot = st.camera_input(
            "Point the camera at a cat or a dog", key="camera", resolution="720p"
        )
        data, name = (shot.getvalue(), "camera.jpg") if shot else (None, None)
    else:
        # A choice, never a typed path: the validation folders found under the data roots.
        folders = choices.validation_folders(config.data_roots, config.validation_dir)
        folder = st.selectbox(
            "Validation folder",
            folders,
            format_func=lambda f: choices.label(f, roots),
            key="validation_folder",
        )
        if folder is None:
            st.info(
                "No validation folder under the data roots yet: download or upload data on the "
                "Training page."
            )
        st.button(
            "🎲 Pick a random photo",
            on_click=pick_random_photo,
            args=(folder,),
            disabled=folder is None,
        )
        if st.session_state.get("random_error"):
            st.warning(st.session_state.random_error)
        path = st.session_state.get("random_photo")
        data, name = (
            (Path(path).read_bytes(), Path(path).name)
            if path and Path(path).is_file()
            else (None, None)
        )

    with st.expander("What am I looking at?"):
        st.markdown(
            "The model turns the photo into 2,048 feature maps and weighs them into one score: "
            "positive means *dog*, negative *cat*. **Grad-CAM** asks which places in a layer's "
            "maps pushed that score up: it takes the score's gradient, weighs each map by how "
            "much it helped, adds them up and keeps the positive part. Red = strong evidence for "
            "the class, blue = none.\n\n**The layer** trades sharpness for meaning: the first "
            "stages (56×56, 28×28) see edges and fur and give sharp but less class-specific maps; "
            "the last stage (7×7) sees 'cat' or 'dog' and gives the coarse map the decision "
            "actually rests on. Other methods (Grad-CAM++, Score-CAM, …) answer the same question "
            "differently; the Compare page puts them side by side."
        )
    st.header("Explanation")
    method = st.selectbox(
        "Method",
        list(METHODS),
        key="method",
        help="Grad-CAM is the classic; see the README's table of methods.",
    )
    layers = explainer.classifier.layers
    default = explainer.classifier.default_layer
    layer = st.select_slider(
        "Layer (fine → coarse)",
        options=list(layers),
        value=default,
        key="layer",
        format_func=lambda n: f"{n} · {layers[n][0]}×{layers[n][1]}",
        help=(
            "Early layers are sharp but see edges and fur; the last layer (7×7) sees 'cat' or "
            "'dog'."
        ),
    )
    target = st.selectbox(
        "Explain the class",
        explainer.targets,
        key="target",
        help="Which class's logit the gradients come from.",
    )
    # The options the method declares (Score-CAM: the channels it tries), and what they cost.
    values = {
        name: st.select_slider(
            option.label, option.choices, option.default, key=name, help=option.help
        )
        for name, option in METHODS[method].options.items()
    }
    passes = explainer.cost(method, **values)
    if passes > 1:
        st.caption(f"Costs about {passes:,} forward passes for this photo (all layers).")
    alpha = st.slider("Heatmap opacity (alpha)", 0.0, 1.0, config.alpha, 0.05, key="alpha")
    colormap = st.selectbox("Colormap", COLORMAPS, key="colormap")
    with st.expander("Advanced"):
        relu = st.checkbox(
            "ReLU (only what speaks for the class)",
            True,
            key="relu",
            help="Off: signed map, blue against.",
        )
        smooth = (
            st.radio(
                "Upsampling", ["smooth", "nearest (true grid)"], horizontal=True, key="upsampling"
            )
            == "smooth"
        )
        aug_smooth = st.checkbox(
            "Test-time augmentation (flips × intensity scales)", key="aug_smooth"
        )
        eigen_smooth = st.checkbox("Eigen-smooth (first principal component)", key="eigen_smooth")

if data is None:
    st.info("Upload a photo, take one, or pick a random validation photo in the sidebar.")
    st.stop()

options = method_options(method, aug_smooth, eigen_smooth, values)
photo_id = hashlib.sha1(data).hexdigest()
slot = ui.expensive(f"explain with {method}") if passes > 1 else contextlib.nullcontext()
with slot:
    result = cached_explanation(data, photo_id, name, key, target, options)
if isinstance(result, str):
    st.error(result)
    st.stop()
photo, explanation = result
look = (relu, colormap, smooth)


def picture(explanation, layer: str, shape: tuple) -> np.ndarray:
    """The coloured map of `explanation` at `layer`, at the size `shape`, from the cache."""
    return cached_picture(
        explanation, photo_id, key, explanation.target, options, layer, *look, *shape[:2]
    )


def show_prediction() -> None:
    best = explanation.label
    st.subheader(f"Prediction: **{best}** ({explanation.probabilities[best]:.1%})")
    columns = st.columns(len(explanation.probabilities) + 1)
    for column, (class_name, probability) in zip(columns, explanation.probabilities.items()):
        column.metric(f"P({class_name})", f"{probability:.1%}")
    columns[-1].metric(
        "Explained in", f"{explanation.seconds * 1000:.0f} ms", help="All layers, one pass."
    )
    if explanation.note:
        st.warning(explanation.note)
    if relu and explanation.heatmap(layer).max() == 0:
        st.warning(
            f"Nothing at {layer} speaks for '{explanation.target}': every contribution is "
            "negative. Untick ReLU under Advanced to see the signed map."
        )


def show_maps() -> None:
    """The photo, the map and the overlay side by side, then the map's own numbers."""
    height, width = photo.shape[:2]
    colored = picture(explanation, layer, photo.shape)
    left, middle, right = st.columns(3)
    left.image(
        cached_jpeg(photo, photo_id),
        caption=f"{name} ({width}×{height})",
        width="stretch",
        alt=f"The photo {name}",
    )
    middle.image(
        cached_jpeg(colored, photo_id, key, target, options, layer, *look),
        width="stretch",
        caption=f"{method} for '{explanation.target}' at {layer}",
        alt=f"{method} heatmap for {explanation.target}: red where the evidence is strongest",
    )
    right.image(
        blend(photo, colored, alpha),
        caption=f"Overlay, alpha {alpha:.2f}",
        width="stretch",
        alt="The heatmap blended over the photo",
    )
    for column, (label, value) in zip(st.columns(4), explanation.figures(layer).items()):
        column.metric(
            f"map {label}" if label != "score" else "logit explained",
            f"{value:.3g}" if label != "zero share" else f"{value:.0%}",
        )


def show_downloads() -> None:
    stem = Path(name).stem
    raw_file = io.BytesIO()
    np.save(raw_file, explanation.raw_maps[layer])
    record = manifest(loaded, explanation, layer, dict(options), config)
    downloads = st.columns(3)
    # The full-size overlay is made only when asked for: Streamlit calls the function on a click.
    downloads[0].download_button(
        "Overlay (PNG)",
        functools.partial(full_size_overlay, data, name, explanation, layer, alpha, *look),
        f"{stem}_overlay.png",
        "image/png",
    )
    downloads[1].download_button(
        "Raw map (.npy)", raw_file.getvalue(), f"{stem}_raw.npy", "application/octet-stream"
    )
    downloads[2].download_button(
        "Manifest (JSON)",
        json.dumps(record, indent=2),
        f"{stem}_manifest.json",
        "application/json",
    )


def show_contrast(thumb: np.ndarray) -> None:
    """Why cat, why dog, and dog minus cat: three more passes (seconds with Score-CAM on a CPU)."""
    cells = st.columns(3)
    for cell, other_target in zip(cells, [*explainer.class_names, explainer.contrast_name]):
        other = cached_explanation(data, photo_id, name, key, other_target, options)[1]
        if other.heatmap(layer).max() == 0 and relu:
            cell.info(
                f"Why '{other_target}': nothing at {layer} speaks for it (all contributions "
                "negative)."
            )
            continue
        cell.image(
            blend(thumb, picture(other, layer, thumb.shape), alpha),
            caption=f"why '{other_target}' (logit {other.score:+.2f})",
            width="stretch",
        )
    st.caption(
        "With a one-logit head, dog minus cat is twice the dog logit: its map is the dog map."
    )


def show_layers(thumb: np.ndarray) -> None:
    for cell, each in zip(st.columns(len(layers)), layers):
        cell.image(
            blend(thumb, picture(explanation, each, thumb.shape), alpha),
            caption=f"{each} · {layers[each][0]}×{layers[each][1]}",
            width="stretch",
        )


def show_faithfulness(check_key: tuple) -> None:
    """Deletion and insertion curves, on request: about 100 forward passes."""
    if st.button("Measure faithfulness (about 100 forward passes)", key="measure"):
        with (
            ui.expensive("measure faithfulness"),
            st.spinner("Deleting and inserting pixels, 50 steps each…"),
        ):
            figures = explainer.faithfulness(photo, explanation, layer)
            st.session_state.faithfulness = (check_key, figures)
    if st.session_state.get("faithfulness", (None,))[0] != check_key:
        return
    ours, random_map = (
        st.session_state.faithfulness[1]["map"],
        st.session_state.faithfulness[1]["random"],
    )
    a, b, c, d = st.columns(4)
    a.metric(
        "Deletion AUC",
        f"{ours['deletion_auc']:.3f}",
        f"{ours['deletion_auc'] - random_map['deletion_auc']:+.3f} vs random",
        delta_color="inverse",
    )
    b.metric(
        "Insertion AUC",
        f"{ours['insertion_auc']:.3f}",
        f"{ours['insertion_auc'] - random_map['insertion_auc']:+.3f} vs random",
    )
    c.metric("Average drop", f"{ours['average_drop']:.1f} %")
    d.metric("Confidence increases", "yes" if ours["increase"] else "no")
    curves = pd.DataFrame(
        {
            "deletion (map)": ours["deletion"],
            "deletion (random)": random_map["deletion"],
            "insertion (map)": ours["insertion"],
            "insertion (random)": random_map["insertion"],
        },
        index=pd.Index(ours["fractions"], name="fraction of pixels"),
    )
    st.line_chart(curves, x_label="fraction of pixels", y_label=f"P({explanation.target})")


def show_sanity(check_key: tuple) -> None:
    """Adebayo et al.'s cascading randomisation, on request, with its verdict."""
    if st.button("Sanity check: randomise the top layers of a copy", key="sanity_check"):
        with (
            ui.expensive("run the sanity check"),
            st.spinner("Randomising a copy of the model, layer group by layer group…"),
        ):
            steps = explainer.sanity_check(photo, layer, target, method)
            st.session_state.sanity = (check_key, steps)
    if st.session_state.get("sanity", (None,))[0] != check_key:
        return
    steps = st.session_state.sanity[1]
    names = {
        "randomised": "randomised up to",
        "spearman": "Spearman",
        "spearman_abs": "Spearman of |map|",
        "ssim": "SSIM",
    }
    table = pd.DataFrame(steps).drop(columns="class_index").rename(columns=names)
    st.dataframe(table.astype(object).fillna("cannot be computed"))
    verdict, line = sanity_verdict(steps)
    {"pass": st.success, "fail": st.warning, "unknown": st.info}[verdict](line)


show_prediction()
show_maps()
show_downloads()
thumb = cached_thumbnail(photo, photo_id)
if st.toggle("Why cat, why dog, and the contrast", key="contrast"):
    show_contrast(thumb)
with st.expander("Every layer at once"):
    show_layers(thumb)
with st.expander("Is this map faithful?"):
    st.caption(
        "Deletion: remove pixels hottest first, the probability should fall fast (low AUC). "
        "Insertion: add them to a blurred photo, it should rise fast (high AUC). Beside a random "
        "map of the same size."
    )
    check = (photo_id, key, layer, target, options)
    show_faithfulness(check)
    show_sanity(check)
