"""What the pages need besides widgets: load the app's model once, explain uploaded bytes.

Plain functions without Streamlit; the pages wrap them in st.cache_resource / st.cache_data.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

import numpy as np

from core.config import Config
from core.explain import Explainer, Explanation
from core.images import ImageError, load_image
from core.model import ModelError, ModelInfo, file_sha256, load_default


@dataclass(frozen=True)
class LoadedModel:
    """Either an explainer or the one-line reason there is none."""

    explainer: Explainer | None
    error: str | None = None


def model_key(config: Config) -> str:
    """Identity of the app's model: path and modification times of the file and its sidecar (either changes -> new key)."""
    path = config.model_path
    stamps = [str(p.stat().st_mtime_ns) if p.exists() else "absent" for p in (path, path.with_suffix(".json"))]
    return f"{path}:{':'.join(stamps)}"


def load_app_model(config: Config) -> LoadedModel:
    try:
        explainer = Explainer(load_default(config), config=config)
    except ModelError as error:
        return LoadedModel(None, str(error))
    # Trace and compile the gradient graph now, so the first photo is as fast as the others.
    size = explainer.classifier.info.image_size
    explainer.explain([np.zeros((size, size, 3), np.uint8)])
    return LoadedModel(explainer)


def describe(info: ModelInfo) -> str:
    """One line on where the model came from, for the page's caption."""
    if info.kind == "zero-shot":
        return "Model: ResNet-50's ImageNet classifier, cats and dogs folded (zero-shot)."
    parts = [f"Model: fine-tuned {info.backbone}", f"backbone weights: {info.backbone_weights}"]
    if info.trained_on:
        parts.append(f"trained on {info.trained_on}" + (f" at {info.trained_at}" if info.trained_at else ""))
    if info.val_accuracy is not None:
        parts.append(f"validation accuracy {info.val_accuracy:.1%}")
    return " · ".join(parts)


def explain_bytes(loaded: LoadedModel, data: bytes, name: str, target: str, **options) -> tuple[np.ndarray, Explanation] | str:
    """Decode and explain one photo at every offered layer, or the one-line reason it was refused.

    `options` go to Explainer.explain: method, aug_smooth, eigen_smooth, top_n.
    """
    try:
        photo = load_image(data, name)
    except ImageError as error:
        return str(error)
    return photo, loaded.explainer.explain([photo], target, **options)[0]


def manifest(loaded: LoadedModel, explanation: Explanation, layer: str, options: dict, config: Config) -> dict:
    """What is needed to reproduce a map: model file and hash, layer, target, method, options, versions."""
    info = loaded.explainer.classifier.info
    path = config.model_path
    digest = info.sha256 or (file_sha256(path) if path.exists() else None)
    return {
        "model": {"file": str(path) if info.kind != "zero-shot" else None, "sha256": digest, "kind": info.kind,
                  "backbone_weights": info.backbone_weights, "class_names": list(info.class_names)},
        "layer": layer, "target": explanation.target, "method": explanation.method, "options": options,
        "probabilities": explanation.probabilities, "score": explanation.score, "figures": explanation.figures(layer),
        "versions": {name: metadata.version(name) for name in ("tensorflow-cpu", "keras", "numpy", "opencv-python-headless")
                     if _installed(name)},
    }


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True
