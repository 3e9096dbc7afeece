"""When an explanation means little, said in words before the map, in the CLI's record and in a
Folder export's manifest: a flat map, a photo far below the model's input size, a model near chance
or with a backbone that was never pretrained. A map is still a picture of the model's gradients;
these say when that picture cannot carry the meaning a person reads into it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the hints only: a dataset upload asks photo_caveat without TensorFlow
    from core.explain.explainer import Explanation
    from core.model import ModelInfo

# A photo upscaled this much or more to the model's input (a 56-px photo for 224 px) carries a
# few pixels of evidence smeared over the grid.
UPSCALED = 4.0
# A model whose validation accuracy is within this share of the way from chance to perfect
# (62.5 % for two classes, 27 % for 37) has learnt too little for its maps to be read.
NEAR_CHANCE = 0.25


def map_caveat(explanation: Explanation, layer: str) -> str | None:
    """The map is float noise (`Explanation.is_flat`): shown blank, not stretched."""
    if not explanation.is_flat(layer):
        return None
    largest = float(abs(explanation.raw_maps[layer]).max(initial=0.0))
    return (
        f"The map is flat: its largest value is {largest:.1g} for a score of "
        f"{explanation.score:.1g}, float noise rather than evidence, so it is shown blank, not "
        "stretched. The model has likely not learnt to tell its classes apart."
    )


def photo_caveat(photo_shape: tuple[int, ...], input_size: tuple[int, int]) -> str | None:
    """The photo is far below the model's input: upscaled `UPSCALED` times or more."""
    height, width = photo_shape[:2]
    factor = max(input_size[0] / height, input_size[1] / width)
    if factor < UPSCALED:
        return None
    return (
        f"This photo is {width}×{height} px, upscaled {factor:.0f}× to the model's "
        f"{input_size[1]}×{input_size[0]}: its prediction and map rest on a few pixels."
    )


def model_caveats(info: ModelInfo) -> list[str]:
    """A model near chance on its validation photos, or fine-tuned from a random backbone."""
    said = []
    chance = 1 / max(2, len(info.class_names))
    if info.val_accuracy is not None and info.val_accuracy < chance + NEAR_CHANCE * (1 - chance):
        said.append(
            f"This model's validation accuracy is {info.val_accuracy:.1%}, near chance "
            f"({chance:.1%}): its maps show what it guesses from, not what tells the classes "
            "apart."
        )
    if info.kind == "fine-tuned" and info.backbone_weights == "none":
        said.append(
            "This model's backbone was not pretrained (random weights, as offline runs start): "
            "its maps mean little."
        )
    return said


def caveats(
    explanation: Explanation, layer: str, photo_shape: tuple[int, ...], info: ModelInfo
) -> list[str]:
    """Every sentence above that holds for this map, photo and model, in that order."""
    found = [map_caveat(explanation, layer), photo_caveat(photo_shape, info.size)]
    return [sentence for sentence in found if sentence] + model_caveats(info)
