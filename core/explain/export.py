"""What a person downloads from the Explain page: the full-size overlay, the raw map, a manifest.

The overlay is made only when clicked (Streamlit calls the function); the manifest says what
reproduces the map and never names a server path.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from core.cams import FUSED, uses_layer
from core.config import Config
from core.explain.display import LoadedModel, colored_map, model_name, weights_name
from core.explain.explainer import Explanation
from core.explain.overlay import blend
from core.explain.settings import View
from core.images import encode_png, load_image
from core.models.catalog import ModelEntry, current, models
from core.models.info import file_sha256

GUIDED_MAP = "max |gradient| over the 3 channels (the .npy holds the signed (H, W, 3) gradient)"
FUSION = "geometric mean of the ReLU'd, max-scaled maps (core/cams/fusion.py)"


def full_size_overlay(
    data: bytes,
    name: str,
    explanation: Explanation,
    layer: str,
    alpha: float,
    relu: bool = True,
    colormap: str = "jet",
    smooth: bool = True,
) -> bytes:
    """PNG of the overlay at the photo's own size: made only when a person downloads it."""
    photo = load_image(data, name)
    return encode_png(
        blend(
            photo, colored_map(explanation, layer, *photo.shape[:2], relu, colormap, smooth), alpha
        )
    )


@dataclass(frozen=True)
class Download:
    """A file a person may download: the bytes, or a function Streamlit calls on the click."""

    label: str
    data: bytes | str | Callable[[], bytes]
    file_name: str
    mime: str


def downloads(
    view: View, loaded: LoadedModel, config: Config, entry: ModelEntry | None = None
) -> list[Download]:
    """The overlay at the photo's own size (made only on a click), the raw map, its manifest.

    The raw map of a guided method is its signed (H, W, 3) gradient at the model's input
    resolution, not the magnitude shown. `entry` is the model in use (core.catalog); None: the
    app's current model.
    """
    photo, layer = view.settings.photo, view.settings.layer
    stem = Path(photo.name).stem
    raw = io.BytesIO()
    pixels = view.explanation.pixels
    np.save(raw, pixels[layer] if pixels else view.explanation.raw_maps[layer])
    overlay = functools.partial(
        full_size_overlay,
        photo.data,
        photo.name,
        view.explanation,
        layer,
        view.settings.alpha,
        **asdict(view.settings.look),
    )
    options = dict(view.settings.options)
    look = {"alpha": view.settings.alpha, **asdict(view.settings.look)}
    record = manifest(loaded, view.explanation, layer, options, config, entry, look)
    return [
        Download("Overlay (PNG)", overlay, f"{stem}_overlay.png", "image/png"),
        Download(
            "Raw gradient (.npy, 3 channels)" if pixels else "Raw map (.npy)",
            raw.getvalue(),
            f"{stem}_raw.npy",
            "application/octet-stream",
        ),
        Download(
            "Manifest (JSON)",
            json.dumps(record, indent=2),
            f"{stem}_manifest.json",
            "application/json",
        ),
    ]


def manifest(
    loaded: LoadedModel,
    explanation: Explanation,
    layer: str,
    options: dict,
    config: Config,
    entry: ModelEntry | None = None,
    look: dict | None = None,
) -> dict:
    """What reproduces a map: the model (its name, file and hash), layer, target, method,
    options, how it was drawn (alpha, ReLU, colormap, upsampling), versions.

    The layer is null for Guided Backprop (it has none); FUSED names the layers it is fused from
    and how.

    `entry` is the model in use (core.catalog); None: the app's current model. The model is named
    below the weights folder and a backbone file by its name: a download never names a server
    path.
    """
    info = loaded.explainer.classifier.info
    entry = entry or current(models(config))
    path = entry.path if info.kind != "zero-shot" else None
    digest = info.sha256 or (file_sha256(path) if path and path.exists() else None)
    return {
        "model": {
            "name": entry.label,
            "key": entry.key,
            "file": model_name(path, config) if path else None,
            "sha256": digest,
            "kind": info.kind,
            "backbone_weights": weights_name(info.backbone_weights),
            "class_names": list(info.class_names),
        },
        **layer_record(loaded, explanation.method, layer),
        "target": explanation.target,
        "method": explanation.method,
        "options": options,
        "look": look or {},
        "explained": explanation.title,  # a contrast names its two classes
        "probabilities": dict(explanation.top(5)),  # the top 5 (both of two classes)
        "score": explanation.score,
        "figures": explanation.figures(layer),
        # A guided method's map: the gradient's per-pixel magnitude; its download keeps 3 channels.
        **({"map": GUIDED_MAP} if explanation.pixels else {}),
        **({"guided": explanation.guidance} if explanation.guidance else {}),
        "versions": {
            name: metadata.version(name)
            for name in ("tensorflow-cpu", "keras", "numpy", "opencv-python-headless")
            if _installed(name)
        },
    }


def layer_record(loaded: LoadedModel, method: str, layer: str) -> dict:
    """The manifest's "layer": None for a method without one; FUSED with what it is made from."""
    if not uses_layer(method):
        return {"layer": None}
    if layer != FUSED:
        return {"layer": layer}
    return {"layer": layer, "fused_from": list(loaded.explainer.fused_from), "fusion": FUSION}


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True
