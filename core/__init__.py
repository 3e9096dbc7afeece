"""catdog-gradcam's logic: model, Grad-CAM, overlays, image loading. Never imports Streamlit.

Importing `core` registers the custom layers, so `keras.saving.load_model(..., safe_mode=True)`
opens this project's .keras files.
"""

import os

os.environ.setdefault(
    "TF_CPP_MIN_LOG_LEVEL", "2"
)  # keep TensorFlow's start-up chatter off the CLI

from core.config import Config  # noqa: E402
from core.explain import Explainer, Explanation  # noqa: E402
from core.images import ImageError, load_image  # noqa: E402
from core.model import Classifier, ModelError, ModelInfo, load_classifier, load_default  # noqa: E402

__all__ = [
    "Classifier",
    "Config",
    "Explainer",
    "Explanation",
    "ImageError",
    "ModelError",
    "ModelInfo",
    "load_classifier",
    "load_default",
    "load_image",
]
