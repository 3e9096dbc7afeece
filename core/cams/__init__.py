"""CAM methods on one shared pipeline (`base.BaseCAM`); each method is one small module."""

from core.cams.base import CONTRAST, PREDICTED, TOP_TWO, BaseCAM, class_scores, normalize
from core.cams.eigen_cam import EigenCAM
from core.cams.fusion import FUSED, fuse
from core.cams.grad_cam import GradCAM
from core.cams.grad_cam_plus_plus import GradCAMPlusPlus
from core.cams.guided import Guided, GuidedBackprop, GuidedGradCAM
from core.cams.hires_cam import HiResCAM
from core.cams.layer_cam import LayerCAM
from core.cams.score_cam import ScoreCAM
from core.cams.xgrad_cam import XGradCAM
from core.models.graph import flatten_model

METHODS: dict[str, type[BaseCAM]] = {
    cls.name: cls
    for cls in (
        GradCAM,
        GradCAMPlusPlus,
        HiResCAM,
        XGradCAM,
        LayerCAM,
        EigenCAM,
        ScoreCAM,
        GuidedGradCAM,
        GuidedBackprop,
    )
}


def is_guided(method: str) -> bool:
    """Whether `method` shows a guided gradient at the input's pixels (ReLU and TTA off for it)."""
    return issubclass(METHODS[method], Guided)


def uses_layer(method: str) -> bool:
    """Whether the layer chosen changes `method`'s map: not for Guided Backprop, which has none."""
    return not issubclass(METHODS[method], GuidedBackprop)


__all__ = [
    "BaseCAM",
    "CONTRAST",
    "FUSED",
    "METHODS",
    "PREDICTED",
    "TOP_TWO",
    "class_scores",
    "flatten_model",
    "fuse",
    "is_guided",
    "normalize",
    "uses_layer",
    *[cls.__name__ for cls in METHODS.values()],
]
