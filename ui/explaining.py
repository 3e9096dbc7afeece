"""What to explain and how, as widgets: the Explain page's, some shared with the Compare page.

The zero-shot model's view (cat vs dog folded, or ImageNet's 1,000 classes), the class (a select,
which Streamlit lets a person search by typing, so 37 breeds or 1,000 classes work alike), the
method with its options, and the layer. Each widget's key is a `Settings` field. Then what draws
an explanation: the verdict, the top classes' chart, and the browser code they need, fetched while
the page still waits for a photo.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import streamlit as st

from core.cams import FUSED, METHODS, GuidedBackprop, is_guided, uses_layer
from core.cams.base import TTA_FACTORS
from core.config import PREDICTED_TARGET, TOP1_VS_TOP2
from core.explain import figures, guide
from core.explain.caveats import caveats, map_caveat
from core.explain.display import LoadedModel
from core.explain.explainer import Explainer, Explanation
from core.explain.faithfulness import sanity_verdict
from core.explain.overlay import COLORMAPS
from core.explain.settings import FOLDED, UPSAMPLING, Settings, View
from core.models.info import ModelInfo
from ui.photos import current_photo

READABLE = {TOP1_VS_TOP2: "top-1 vs top-2 (the predicted class minus its runner-up)"}
# Forward and backward passes a photo may cost and still be explained before the page draws,
# outside a slot: Grad-CAM's one, or Guided Grad-CAM's two (its guided pass is about one forward
# and backward: 879 ms against Grad-CAM's 415 ms on ResNet-50, CPU). Score-CAM, or any CAM with
# TTA (7 passes), waits for a slot.
CHEAP = 2
# TTA's passes for a CAM: the plain images, and 3 intensity scales with and without a flip.
TTA_PASSES = 1 + 2 * len(TTA_FACTORS)


def passes(settings: Settings, explainer: Explainer) -> int:
    """Forward and backward passes the explanation takes for all layers: `Settings.cost`, its
    CAM part TTA_PASSES times with test-time augmentation (Guided Backprop has no CAM part and
    ignores TTA; Guided Grad-CAM's guided pass runs once)."""
    cost = settings.cost(explainer)
    method = METHODS[settings.method]
    if not settings.aug_smooth or issubclass(method, GuidedBackprop):
        return cost
    return (cost - method.passes_per_photo) * TTA_PASSES + method.passes_per_photo


def read_settings(explainer: Explainer) -> Settings:
    """What the Explain page's widgets hold, or will once drawn (their defaults)."""
    state = st.session_state
    return Settings.from_state(state, explainer.classifier.default_layer, current_photo(state))


def chosen_view(loaded: LoadedModel, view_key: str, target_key: str) -> LoadedModel:
    """The model seen through the view `view_key` holds, before any widget is drawn.

    A target the view does not have (a breed after switching to cat vs dog) is forgotten, so its
    select falls back to "predicted" instead of naming a class the model lacks.
    """
    loaded = loaded.view(st.session_state.get(view_key, FOLDED))
    if st.session_state.get(target_key, PREDICTED_TARGET) not in loaded.explainer.targets:
        del st.session_state[target_key]
    return loaded


def view_radio(loaded: LoadedModel, key: str) -> None:
    """The zero-shot model's two views; nothing for a fine-tuned model, which has one."""
    if loaded.views:
        tip = "ImageNet's classes: each explained by its own logit (the top 5 are shown)."
        st.radio("Classes", loaded.views, key=key, help=tip)


def target_select(explainer: Explainer, key: str) -> str:
    """The class to explain: predicted, any class (type to search), then the contrast."""
    return st.selectbox(
        "Explain the class",
        explainer.targets,
        key=key,
        format_func=lambda target: READABLE.get(target, target),
        help="Which class's logit the gradients come from; type to search.",
    )


def method_widgets(explainer: Explainer) -> None:
    """What to explain, and how: each widget's key is a Settings field, its default the field's."""
    tip = "Grad-CAM is the classic; the Compare page sets the others beside it on your photo."
    method = st.selectbox(
        "Method", [*METHODS], [*METHODS].index(Settings.method), key="method", help=tip
    )
    layers = explainer.layer_choices
    st.select_slider(
        "Layer (fine → coarse, then all fused)",
        options=list(layers),
        value=explainer.classifier.default_layer,
        key="layer",
        format_func=lambda n: f"{n} · {layers[n][0]}×{layers[n][1]}",
        help="Early layers are sharp but see edges and fur; the last layer (7×7) sees 'cat' or "
        "'dog'.",
        disabled=not uses_layer(method),
    )
    if not uses_layer(method):
        st.caption(guide.NO_LAYER)
    target_select(explainer, "target")
    # The options the method declares (Score-CAM: the channels it tries), and what they cost.
    for name, option in METHODS[method].options.items():
        st.select_slider(option.label, option.choices, option.default, key=name, help=option.help)
    cost = passes(
        Settings.from_state(st.session_state, explainer.classifier.default_layer), explainer
    )
    # Always in its place, empty or not: an element that comes and goes above the Advanced
    # expander would move it, and Streamlit would draw it anew, closed.
    cost_line = st.empty()
    if cost > 1:
        cost_line.caption(f"Costs about {cost:,} forward passes for this photo (all layers).")


def look_widgets(method: str) -> None:
    """How the map is drawn, and the method's smoothing under Advanced (a guided method: what
    does not apply to it)."""
    st.slider("Heatmap opacity (alpha)", 0.0, 1.0, Settings.alpha, 0.05, key="alpha")
    signed = not st.session_state.get("relu", Settings.relu)
    own_scale = "With ReLU off, the signed map has its own scale: red for the class, blue against."
    st.selectbox(
        "Colormap",
        COLORMAPS,
        COLORMAPS.index(Settings.colormap),
        key="colormap",
        disabled=signed,
        help=own_scale if signed else None,
    )
    with st.expander("Advanced"):
        relu = "ReLU (only what speaks for the class)"
        st.checkbox(relu, Settings.relu, key="relu", help="Off: signed map, blue against.")
        upsampling = UPSAMPLING.index(Settings.upsampling)
        st.radio("Upsampling", UPSAMPLING, upsampling, horizontal=True, key="upsampling")
        augmentation = "Test-time augmentation (flips × intensity scales)"
        st.checkbox(augmentation, Settings.aug_smooth, key="aug_smooth")
        eigen = "Eigen-smooth (first principal component)"
        st.checkbox(eigen, Settings.eigen_smooth, key="eigen_smooth")
        if is_guided(method):
            st.caption(guide.GUIDED_SETTINGS)


def show_verdict(steps: list[dict], method: str) -> None:
    """The sanity check's table and verdict; a guided method's "fail" says Adebayo et al. found
    the same."""
    st.dataframe(figures.sanity_table(steps), hide_index=True)
    verdict, line = sanity_verdict(steps)
    if verdict == "fail" and is_guided(method):
        line = f"{line} {guide.GUIDED_FAIL}"
    {"pass": st.success, "fail": st.warning, "unknown": st.info}[verdict](line)


def top_chart(where, explanation: Explanation, height: int = 200, whose: str = "The") -> None:
    """The most probable classes (five; both of two) as a bar chart, in `where`."""
    top, y = figures.top_classes(explanation), "probability (%)"
    alt = f"{whose} {len(top)} most probable classes: {', '.join(top['class'])}"
    where.bar_chart(top, x="class", y=y, horizontal=True, sort=f"-{y}", height=height, alt=alt)


# The browser code an explained photo needs that Streamlit's frontend fetches only when the first
# such element arrives (its Vite chunks: the uploader's HTTP client, pictures, metrics, the
# top-classes chart and its Vega, buttons). Fetched on the first upload, it made that upload
# 0.1-0.5 s slower than the later ones (benchmarks/bench_browser.py --cold).
RESULT_CODE = (
    "axios",
    "ImageList",
    "Metric",
    "ArrowVegaLiteChart",
    "embed",
    "vega-interpreter",
    "DownloadButton",
    "Button",
)
# Imported relative to Streamlit's own entry script, as its frontend imports them: the browser
# keeps one copy of each module, so the later import by the frontend costs nothing. Once the
# browser is idle: compiling them at once held back the uploader of a first visit by 0.1-0.5 s. A
# chunk that fails is only not preloaded; `window.catdogPreloaded` counts those that loaded.
PRELOAD = """<script>
const index = [...document.scripts].find(s => /static\\/js\\/index\\./.test(s.src));
const load = () => Promise.allSettled(FILES.map(f => import(new URL(f, index.src).href))).then(
  done => { window.catdogPreloaded = done.filter(d => d.status === "fulfilled").length; });
if (index) (window.requestIdleCallback || setTimeout)(load);
</script>"""


@functools.cache
def result_chunks() -> list[str]:
    """The file names of RESULT_CODE's chunks in the installed Streamlit (static/static/js/)."""
    static = Path(st.__file__).parent / "static" / "static" / "js"
    return sorted(
        path.name
        for name in RESULT_CODE
        for path in static.glob(f"{name}.*.js")
        if path.name.count(".") == 2
    )


def preload_result_code() -> None:
    """Have the browser fetch the code that draws an explanation while the page awaits a photo.

    Streamlit has no prefetch of its own; a script element (st.html with JavaScript allowed,
    holding only these file names) is the one way in. Chunks a future Streamlit renames are
    simply not found (tests/test_app.py names each).
    """
    st.html(PRELOAD.replace("FILES", json.dumps(result_chunks())), unsafe_allow_javascript=True)


def said_before_the_map(view: View, info: ModelInfo) -> list[str]:
    """Every sentence the page says before the map: the model's note, when the map means little
    (core/explain/caveats.py), why a map is empty."""
    explanation, layer = view.explanation, view.settings.layer
    said = [explanation.note] if explanation.note else []
    said += caveats(explanation, layer, view.picture.shape, info)
    if explanation.partly_guided:
        said.append(
            f"Guided Backprop here: {explanation.guidance}, so this map is mostly the plain "
            "gradient."
        )
    empty = not explanation.is_flat(layer) and explanation.heatmap(layer).max() == 0
    if view.settings.relu and empty:
        said.append(empty_map(view.settings, explanation.title, is_guided(view.settings.method)))
    return said


def flat_map(explanation: Explanation, layer: str) -> str:
    """A contrast's map that is float noise, in a sentence (caveats.map_caveat's)."""
    return map_caveat(explanation, layer) or ""


def empty_map(settings: Settings, target: str, briefly: bool) -> str:
    """Why `target`'s map at the chosen layer is empty (briefly: no advice to untick ReLU)."""
    layer_free = not uses_layer(settings.method)
    fused = settings.layer == FUSED
    return guide.nothing_speaks(settings.layer, target, briefly, layer_free, fused)
