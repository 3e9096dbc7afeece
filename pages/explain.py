"""Explain page: a photo in, the prediction and its class activation maps out."""

import contextlib
import functools
from dataclasses import asdict

import numpy as np
import streamlit as st

import ui
from core.cams import is_guided, uses_layer
from core.config import Config
from core.errors import UserError, one_line
from core.explain import display, export, figures, guide
from core.explain.explainer import Explainer, Explanation
from core.explain.gradients import gradient_picture
from core.explain.overlay import blend
from core.explain.settings import Check, ExplanationKey, Look, Photo, Settings, View
from core.images import encode_jpeg, shrink
from core.models.catalog import models
from core.models.info import ModelInfo
from ui.access import shown
from ui.explaining import CHEAP, look_widgets, passes, read_settings, show_verdict, top_chart


@st.cache_data(max_entries=64, show_spinner="Explaining…")
def cached_explanation(
    _loaded: display.LoadedModel, _photo: Photo, key: ExplanationKey
) -> tuple[np.ndarray, Explanation]:
    """Per-photo results are data, keyed by `key` (which names the model and its view);
    ImageError for a photo it cannot read."""
    loaded, photo = _loaded, _photo
    return display.explain_photo(loaded, photo.data, photo.name, key.target, **dict(key.options))


@st.cache_data(max_entries=256, show_spinner=False)
def cached_map(_explanation: Explanation, key: ExplanationKey, layer: str, look: Look, size):
    """The coloured map at display size, keyed by what changes it: an alpha step only blends."""
    return display.colored_map(_explanation, layer, size[0], size[1], **asdict(look))


@st.cache_data(max_entries=64, show_spinner=False)
def cached_jpeg(_picture: np.ndarray, *identity) -> bytes:
    """A picture an alpha step does not change, encoded once (st.image sends bytes as they are)."""
    return encode_jpeg(_picture)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_thumbnail(_picture: np.ndarray, photo_id: str, side: int) -> np.ndarray:
    return shrink(_picture, side)


def explain_first(loaded: display.LoadedModel, model_key: str) -> None:
    """Explain a new photo before the page draws; the page then finds the result in the cache.

    The browser drawing a page shares the machine with the model: on 2 cores it cost 30 %.
    """
    explainer = loaded.explainer
    settings = read_settings(explainer)
    # An expensive method waits for its slot in the page; an unreadable photo is refused there.
    if settings.photo is not None and passes(settings, explainer) <= CHEAP:
        with contextlib.suppress(UserError):
            cached_explanation(loaded, settings.photo, settings.key(model_key))


def sidebar(loaded: display.LoadedModel, config: Config) -> Settings:
    """The sidebar's widgets top to bottom, and what they hold."""
    with st.sidebar:
        ui.photo_source(config, guide.subject(loaded.explainer.class_names))
        st.expander("What am I looking at?").markdown(guide.WHAT_AM_I_LOOKING_AT)
        st.header("Explanation")
        ui.view_radio(loaded, "view")
        ui.method_widgets(loaded.explainer)
        look_widgets(st.session_state.get("method", Settings.method))
    return read_settings(loaded.explainer)


def colored(view: View, explanation: Explanation, layer: str, size: tuple) -> np.ndarray:
    """`explanation`'s map (the view's or a contrast's) at `layer`, coloured at `size`, cached."""
    key = view.key.for_target(explanation.target)
    return cached_map(explanation, key, layer, view.settings.look, size[:2])


def show_prediction(view: View, cost: int, info: ModelInfo):
    """The predicted class, the time of the `cost` passes, why a map is empty; the cell the top
    classes' chart goes in, drawn after the maps (the browser's chart code is the slower)."""
    explanation = view.explanation
    best = explanation.label
    st.subheader(f"Prediction: **{best}** ({explanation.probabilities[best]:.1%})")
    if line := guide.true_class_line(view.settings.photo, best, view.explanation.probabilities):
        st.markdown(line)
    chart, timing = st.columns([4, 1])
    seconds = f"{explanation.seconds * 1000:.0f} ms"
    timing.metric("Explained in", seconds, help=guide.timing_help(cost))
    for sentence in ui.explaining.said_before_the_map(view, info):
        st.warning(shown(sentence))
    if explanation.guidance and not explanation.partly_guided:
        st.caption(f"Guided Backprop: {explanation.guidance}.")
    return chart


def show_maps(view: View) -> None:
    """The photo, the map and the overlay side by side (a guided method: its gradient too), then
    the map's own numbers."""
    settings, explanation, photo = view.settings, view.explanation, view.picture
    heatmap = colored(view, explanation, settings.layer, photo.shape)
    at = f" at {settings.layer}" if uses_layer(settings.method) else ""
    about = f"{settings.method} for '{explanation.title}'{at}"
    pixels = explanation.pixels
    left, middle, right, *gradient = st.columns(4 if pixels else 3)
    caption = display.photo_caption(settings.photo.name, settings.photo.data, photo)
    alt = f"The photo {settings.photo.name}"
    left.image(cached_jpeg(photo, view.key.photo_id), caption=caption, width="stretch", alt=alt)
    alt = f"{about}: red where the evidence is strongest"
    heatmap_jpeg = cached_jpeg(heatmap, view.key, settings.layer, settings.look)
    middle.image(heatmap_jpeg, caption=about, width="stretch", alt=alt)
    caption, alt = f"Overlay, alpha {settings.alpha:.2f}", "The heatmap blended over the photo"
    right.image(blend(photo, heatmap, settings.alpha), caption=caption, width="stretch", alt=alt)
    if pixels:
        picture = gradient_picture(pixels[settings.layer], *photo.shape[:2])
        shown_as = "The gradient × the Grad-CAM map" if at else "The gradient's 3 channels"
        caption = f"{shown_as}: grey 0, brighter +, darker −"
        alt = f"{about}: the signed gradient at each pixel, as RGB"
        gradient[0].image(picture, caption=caption, width="stretch", alt=alt)
    numbers = figures.map_figures(explanation, settings.layer)
    for column, (label, text) in zip(st.columns(len(numbers)), numbers):
        column.metric(label, text)


def show_contrast(
    view: View, loaded: display.LoadedModel, thumb: np.ndarray, targets: list[str], about: str
) -> None:
    """Why cat, why dog, and dog minus cat (K > 2: the top two and top-1 vs top-2).

    Three more passes (seconds with Score-CAM on a CPU).
    """
    layer = view.settings.layer
    for cell, target in zip(st.columns(len(targets)), targets):
        other = cached_explanation(loaded, view.settings.photo, view.key.for_target(target))[1]
        if other.is_flat(layer):  # float noise: said so, not drawn as evidence
            cell.info(ui.explaining.flat_map(other, layer))
            continue
        if other.heatmap(layer).max() == 0 and view.settings.relu:
            cell.info(ui.explaining.empty_map(view.settings, other.title, briefly=True))
            continue
        caption = f"why '{other.title}' (logit {other.score:+.2f})"
        alt = f"Why '{other.title}' at {layer}"
        picture = blend(thumb, colored(view, other, layer, thumb.shape), view.settings.alpha)
        cell.image(picture, caption=caption, width="stretch", alt=alt)
    st.caption(about)


def show_layers(view: View, thumb: np.ndarray, layers: dict[str, tuple]) -> None:
    """The overlay at every layer, fine to coarse."""
    for cell, layer in zip(st.columns(len(layers)), layers):
        caption, alt = f"{layer} · {layers[layer][0]}×{layers[layer][1]}", f"The map at {layer}"
        heatmap = colored(view, view.explanation, layer, thumb.shape)
        picture = blend(thumb, heatmap, view.settings.alpha)
        cell.image(picture, caption=caption, width="stretch", alt=alt)


def show_faithfulness(view: View, explainer: Explainer, check: Check) -> None:
    """Deletion and insertion AUCs against a random map's, and their curves, once asked for."""
    measured = ui.button_result(
        "Measure faithfulness (about 100 forward passes)",
        "measure",
        check,
        "measure faithfulness",
        functools.partial(explainer.faithfulness, view.picture, view.explanation, check.layer),
        "Deleting and inserting pixels, 50 steps each…",
    )
    if measured is None:
        return
    metrics = figures.faithfulness_metrics(measured)
    for column, metric in zip(st.columns(len(metrics)), metrics):
        column.metric(**asdict(metric))
    curves = figures.faithfulness_curves(measured)
    st.line_chart(curves, x_label="fraction of pixels", y_label=f"P({view.explanation.scored})")


def show_sanity(view: View, explainer: Explainer, check: Check) -> None:
    """Adebayo et al.'s cascading randomisation, once asked for: each step's figures, a verdict."""
    steps = ui.button_result(
        "Sanity check: randomise the top layers of a copy",
        "sanity_check",
        check,
        "run the sanity check",
        functools.partial(
            explainer.sanity_check, view.picture, check.layer, check.target, check.method
        ),
        "Randomising a copy of the model, layer group by layer group…",
    )
    if steps is None:
        return
    show_verdict(steps, check.method)


config = Config()
entry, loaded, model_key = ui.chosen_model(models(config))
if not loaded.error:
    loaded = ui.chosen_view(loaded, "view", "target")
    ui.forget_other_layers(loaded, "layer")
    explain_first(loaded, model_key)
st.title(guide.page_title(loaded.explainer and loaded.explainer.class_names))
if loaded.error:
    st.error(shown(loaded.error, config))
    if entry.current:  # else another model may be chosen in the sidebar
        st.info(guide.no_model(config.weights_dir, operator=not ui.is_public()))
    st.stop()
explainer = loaded.explainer
st.caption(shown(display.model_caption(entry, explainer.classifier.info), config))
if explainer.classifier.info.kind == "zero-shot":
    st.info(guide.ZERO_SHOT)
settings = sidebar(loaded, config)
if settings.photo is None:
    st.info("Upload a photo, take one, or pick a random validation photo in the sidebar.")
    ui.explaining.preload_result_code()
    st.stop()
key = settings.key(model_key)
try:
    cost = passes(settings, explainer)
    with ui.expensive(f"explain with {settings.method}", when=cost > CHEAP):
        view = View(settings, key, *cached_explanation(loaded, settings.photo, key))
    chart = show_prediction(view, cost, explainer.classifier.info)
    show_maps(view)
    top_chart(chart, view.explanation)
    # The full-size overlay is made only when asked for: Streamlit calls the function on a click.
    for column, file in zip(st.columns(3), export.downloads(view, loaded, config, entry)):
        column.download_button(file.label, file.data, file.file_name, file.mime)
    thumb = cached_thumbnail(view.picture, key.photo_id, config.thumbnail_side)
    two = len(explainer.class_names) == 2
    if st.toggle(guide.contrast_toggle(explainer.class_names), key="contrast"):
        targets = explainer.contrast_targets(view.explanation)
        one_logit = explainer.classifier.model.output_shape[-1] == 1
        note = guide.contrast_note(explainer.class_names, one_logit) if two else guide.TOP1_VS_TOP2
        show_contrast(view, loaded, thumb, targets, note)
    with st.expander("Every layer at once"):
        if uses_layer(settings.method):
            show_layers(view, thumb, explainer.layer_choices)
        else:
            st.caption(guide.NO_LAYER)
    with st.expander("Is this map faithful?"):
        st.caption(guide.FAITHFULNESS)
        if is_guided(settings.method):
            st.caption(guide.GUIDED_SANITY)
        show_faithfulness(view, explainer, Check(key, settings.layer))
        show_sanity(view, explainer, Check(key, settings.layer))
except UserError as error:
    st.error(shown(one_line(error), config))
