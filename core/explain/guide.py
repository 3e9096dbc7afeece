"""What the Explain page says at length: what maps mean, where a model comes from, the checks."""

from __future__ import annotations

from pathlib import Path

from core.data.layouts import true_class

WHAT_AM_I_LOOKING_AT = (
    "The model turns the photo into 2,048 feature maps and weighs them into a score per class, "
    "its logit (with two classes, one score: positive means *dog*, negative *cat*). **Grad-CAM** "
    "asks which places in a layer's maps pushed the explained class's logit up: it takes the "
    "logit's gradient, weighs each map by how much it helped, adds them up and keeps the positive "
    "part. Red = strong evidence for the class, blue = none.\n\n**The layer** trades sharpness "
    "for meaning: the first stages (56×56, 28×28) see edges and fur and give sharp but less "
    "class-specific maps; the last stage (7×7) sees 'cat' or 'dog' (or a breed) and gives "
    "the coarse map the decision actually rests on. Other methods (Grad-CAM++, Score-CAM, …) "
    "answer the same question differently; the Compare page puts them side by side.\n\n"
    "**Guided Backprop** skips the layers' maps: it takes the logit's gradient at each pixel of "
    "the photo, let through each ReLU only where both its input and the gradient are positive. "
    "Sharp, but close to an edge detector. **Guided Grad-CAM** multiplies it by the Grad-CAM map "
    "to keep the class's places only. Their map is the gradient's size at each pixel (the "
    "largest |gradient| of its three colour channels); the picture beside shows the gradient "
    "itself, grey where it is zero."
)

# Guided Backprop has no layer: said beside the layer slider and instead of the layer strip.
NO_LAYER = (
    "Guided Backprop has no layer: its gradient is taken at the photo's pixels, so the layer "
    "chosen does not change its map."
)

# Under Advanced, for both guided methods.
GUIDED_SETTINGS = (
    "Guided methods: ReLU and test-time augmentation do not apply to the guided gradient (its map "
    "is a magnitude, never negative); Guided Grad-CAM's Grad-CAM part takes TTA and eigen-smooth."
)

# Beside the sanity check, for both guided methods: Adebayo et al. 2018, section 4.
GUIDED_SANITY = (
    "Adebayo et al. (2018) found Guided Backprop nearly unchanged when a model's top layers are "
    "randomised, and Guided Grad-CAM keeping much of its look: they show the photo's edges more "
    "than what the model learned. The verdict below is this check's own, whatever it says."
)

# After a guided method's "fail": the paper's finding, so the verdict reads as expected.
GUIDED_FAIL = (
    "Expected for a guided method: Adebayo et al. (2018) found Guided Backprop's map nearly the "
    "same after randomisation."
)

ZERO_SHOT = (
    "No fine-tuned model yet: this is ResNet-50's own ImageNet classifier, its 118 dog breeds and "
    "5 domestic-cat classes folded into *dog* and *cat*. The maps explain that folded score. "
    "Choose *ImageNet's 1,000 classes* in the sidebar to explain any of ImageNet's own classes."
)

FAITHFULNESS = (
    "Deletion: remove pixels hottest first, the probability should fall fast (low AUC). "
    "Insertion: add them to a blurred photo, it should rise fast (high AUC). Beside a random map "
    "of the same size."
)


def contrast_note(class_names, one_logit: bool) -> str:
    """What the two-class contrast means for this head: with one logit z, class 1 is explained by
    z and class 0 by -z, so their difference is 2z and its map is class 1's."""
    first, second = class_names[0], class_names[1]
    if one_logit:
        return (
            f"With a one-logit head, {second} minus {first} is twice the {second} logit: its map "
            f"is the {second} map."
        )
    return f"{second} minus {first} is the difference of the two classes' own logits."


# K > 2 classes: the contrast is Finer-CAM's (Zhang et al. 2025), the top-1 against its runner-up.
TOP1_VS_TOP2 = (
    "Top-1 vs top-2 explains the difference of the two largest logits: where the photo looks "
    "more like the top class than like its nearest rival. Grad-CAM's map of it is the top-1 map "
    "minus the top-2 map."
)


def no_model(weights_dir: Path, operator: bool = True) -> str:
    """How to get a model; the weights folder by its name only, never the server's path to it.

    Copying files and the command line are the operator's: said only when `operator` (local use).
    """
    if not operator:
        return "To get a model: train one on the **Training** page."
    return (
        "To get a model: train one on the **Training** page (or `python -m core train --data "
        f"DIR`), or copy a `model.keras` with its `model.json` into `{Path(weights_dir).name}/`. "
        "With internet, the app also works before any training: it downloads ResNet-50's ImageNet "
        "weights into Keras' cache and folds ImageNet's dog breeds and cats into two classes."
    )


def nothing_speaks(
    layer: str, target: str, briefly: bool = False, layer_free: bool = False, fused: bool = False
) -> str:
    """Why a ReLU'd map is empty and, unless `briefly`, what shows it anyway.

    `layer_free`: Guided Backprop's map, which no layer makes: its guided gradient is zero.
    `fused`: the fused layer's, where one fused layer without positive evidence zeroes their
    product, whatever ReLU says.
    """
    if layer_free:
        return (
            f"Nothing speaks for '{target}': its guided gradient is zero at every pixel (no "
            "positive gradient came through the ReLUs)."
        )
    if fused:
        why = "a fused layer with no positive evidence zeroes their product"
        more = "Choose one layer to see each layer's own map."
        where = "in the fused map"
    else:
        why, where = "all contributions negative", f"at {layer}"
        more = "Untick ReLU under Advanced to see the signed map."
    if briefly:
        return f"Why '{target}': nothing {where} speaks for it ({why})."
    return f"Nothing {where} speaks for '{target}' ({why}). {more}"


def timing_help(passes: int) -> str:
    """What the "Explained in" time covers: `passes` forward and backward passes."""
    if passes == 1:
        return "All layers, one pass."
    return f"All layers, {passes:,} forward and backward passes."


def subject(class_names: tuple[str, ...] | list[str] | None) -> str:
    """What a photo shows, in the model's own classes: "a cat or a dog" for the default demo.

    Two other classes read "apple or pear"; K > 2, "one of 37 classes".
    """
    names = tuple(class_names or ("cat", "dog"))
    if names == ("cat", "dog"):
        return "a cat or a dog"
    if len(names) == 2:
        return f"{names[0]} or {names[1]}"
    return f"one of {len(names):,} classes"


def page_title(class_names: tuple[str, ...] | list[str] | None) -> str:
    """The Explain page's title: which of the model's classes, and why."""
    if not class_names or len(class_names) == 2:
        return f"Why does the model think it's {subject(class_names)}?"
    return f"Which of {len(class_names):,} classes is it, and why?"


def contrast_toggle(class_names: tuple[str, ...] | list[str]) -> str:
    """The label of the toggle that shows each of two classes' maps and their contrast's."""
    if len(class_names) == 2:
        return f"Why {class_names[0]}, why {class_names[1]}, and the contrast"
    return "Why the top two classes, and top-1 vs top-2"


def true_class_line(photo, predicted: str, probabilities: dict[str, float]) -> str | None:
    """ "True class: **cat** · right" for a validation photo whose folder or name says its class.

    None for a photo with no known class (an upload, the camera) or a class the model lacks.
    """
    if photo is None or photo.labelled_as is None:
        return None
    true = true_class(photo.labelled_as, list(probabilities))
    if true is None:
        return None
    verdict = "right" if true == predicted else f"wrong (p = {probabilities[true]:.1%} for {true})"
    return f"True class: **{true}** · {verdict}"


# The Explain page's "Every layer at once" for a method that pays per layer.
ONE_LAYER = (
    "{method} costs a forward pass per channel tried at each layer, so this page computes only "
    "the layer on the slider: move it to see another, or see every layer on the Compare page."
)
