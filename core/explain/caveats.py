"""When an explanation means little, said in words before the map, in the CLI's record and in a
Folder export's manifest: a flat map, a photo far below the model's input size, a transformer's
tokens read on an assumed grid, a model near chance or with a backbone that was never pretrained.
A map is still a picture of the model's gradients; these say when that picture cannot carry the
meaning a person reads into it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.images import photo_caveat

if TYPE_CHECKING:  # for the hints only: importing this loads no TensorFlow
    from core.explain.explainer import Explanation
    from core.models.info import ModelInfo

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
    found = [
        map_caveat(explanation, layer),
        photo_caveat(photo_shape, info.size),
        explanation.grid_notes.get(layer),
    ]
    return [sentence for sentence in found if sentence] + model_caveats(info)
