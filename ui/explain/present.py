"""What the explaining screens say and show, worked out from core's results without drawing.

No Streamlit here: each screen's `show_*` draws what these return, and tests call them as plain
functions.
"""

from __future__ import annotations

from core.cams import FUSED, METHODS, GuidedBackprop, is_guided, uses_layer
from core.cams.base import TTA_FACTORS
from core.config import TOP1_VS_TOP2
from core.explain import guide, overlay
from core.explain.caveats import caveats, map_caveat
from core.explain.explainer import Explainer, Explanation
from core.explain.faithfulness import sanity_verdict
from core.explain.settings import Settings, View
from core.models.info import ModelInfo

READABLE = {TOP1_VS_TOP2: "top-1 vs top-2 (the predicted class minus its runner-up)"}
# Forward and backward passes a photo may cost and still be explained before the page draws,
# outside a slot: Grad-CAM's one, or Guided Grad-CAM's two (its guided pass is about one forward
# and backward: 879 ms against Grad-CAM's 415 ms on ResNet-50, CPU). Score-CAM, or any CAM with
# TTA (7 passes), waits for a slot.
CHEAP = 2
# TTA's passes for a CAM: the plain images, and 3 intensity scales with and without a flip.
TTA_PASSES = 1 + 2 * len(TTA_FACTORS)
WAITING = "Upload a photo, take one, or pick a random validation photo in the sidebar."


def passes(settings: Settings, explainer: Explainer) -> int:
    """Forward and backward passes the explanation takes for all layers: `Settings.cost`, its
    CAM part TTA_PASSES times with test-time augmentation (Guided Backprop has no CAM part and
    ignores TTA; Guided Grad-CAM's guided pass runs once)."""
    cost = settings.cost(explainer)
    method = METHODS[settings.method]
    if not settings.aug_smooth or issubclass(method, GuidedBackprop):
        return cost
    return (cost - method.passes_per_photo) * TTA_PASSES + method.passes_per_photo


def duration(seconds: float) -> str:
    """A time as the page says it: "340 ms" below a second, "2.3 s" from one second on."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:,.1f} s"


def readable(target: str) -> str:
    """A target as the class select names it."""
    return READABLE.get(target, target)


def prediction(explanation: Explanation) -> str:
    """E.g. "Prediction: **dog** (93.1%)"."""
    best = explanation.label
    return f"Prediction: **{best}** ({explanation.probabilities[best]:.1%})"


def map_title(explanation: Explanation, layer: str) -> str:
    """E.g. "Grad-CAM for 'dog' at conv5_block3_out" (a method without a layer: no "at")."""
    at = f" at {layer}" if uses_layer(explanation.method) else ""
    return f"{explanation.method} for '{explanation.title}'{at}"


def layer_caption(layer: str, layers: dict[str, tuple]) -> str:
    """E.g. "conv5_block3_out · 7×7"."""
    return f"{layer} · {layers[layer][0]}×{layers[layer][1]}"


# Between a slider's two end labels, which the browser sets flush left and right under it: an em
# space, which HTML never collapses, so a narrow sidebar shows "56×56  fused", not "56×56fused".
END_GAP = "\u2003"


def signed_legend(explanation: Explanation) -> str:
    """Under a signed map: the colour for the class explained and the colour against it."""
    what = explanation.title if explanation.versus else explanation.scored or explanation.target
    return overlay.signed_legend(f"'{what}'")


def slider_label(layer: str, layers: dict[str, tuple]) -> str:
    """`layer_caption`, the first option followed by END_GAP and the last preceded by it."""
    names, caption = list(layers), layer_caption(layer, layers)
    if layer == names[-1] and len(names) > 1:
        caption = END_GAP + caption
    return caption + END_GAP if layer == names[0] and len(names) > 1 else caption


def contrast_note(explainer: Explainer) -> str:
    """What the contrast row shows: why each of two classes and their difference, or (K > 2) the
    top two and top-1 vs top-2."""
    if len(explainer.class_names) != 2:
        return guide.TOP1_VS_TOP2
    one_logit = explainer.classifier.model.output_shape[-1] == 1
    return guide.contrast_note(explainer.class_names, one_logit)


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


def sanity_line(steps: list[dict], method: str) -> tuple[str, str]:
    """The sanity check's verdict as the page says it: how (success, warning or info) and what; a
    guided method's "fail" says Adebayo et al. found the same."""
    verdict, line = sanity_verdict(steps)
    if verdict == "fail" and is_guided(method):
        line = f"{line} {guide.GUIDED_FAIL}"
    return {"pass": "success", "fail": "warning", "unknown": "info"}[verdict], line
