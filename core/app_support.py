"""What the pages need besides widgets: load the app's model once, explain uploaded bytes.

Plain functions without Streamlit; the pages wrap them in st.cache_resource / st.cache_data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.config import Config
from core.explain import Explainer, Explanation
from core.images import ImageError, load_image
from core.model import ModelError, load_default


@dataclass(frozen=True)
class LoadedModel:
    """Either an explainer or the one-line reason there is none."""

    explainer: Explainer | None
    error: str | None = None


def model_key(config: Config) -> str:
    """Identity of the app's model file: path and modification time (new weights -> new key)."""
    path = config.model_path
    return f"{path}:{path.stat().st_mtime_ns}" if path.exists() else f"{path}:absent"


def load_app_model(config: Config) -> LoadedModel:
    try:
        return LoadedModel(Explainer(load_default(config), config=config))
    except ModelError as error:
        return LoadedModel(None, str(error))


def explain_bytes(loaded: LoadedModel, data: bytes, name: str, target: str) -> tuple[np.ndarray, Explanation] | str:
    """Decode and explain one photo at every offered layer, or the one-line reason it was refused."""
    try:
        photo = load_image(data, name)
    except ImageError as error:
        return str(error)
    return photo, loaded.explainer.explain([photo], target)[0]
