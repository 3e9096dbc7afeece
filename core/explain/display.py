"""What the pages need besides widgets: the app's model, explained photos, maps, check tables.

Plain functions without Streamlit; the pages wrap them in st.cache_resource / st.cache_data.
The browser gets display-size pictures (DISPLAY_SIDE); only a download works at the photo's own
size.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path

import numpy as np

from core.catalog import ModelEntry, current, models, read_info
from core.config import Config
from core.explain.explainer import Explainer, Explanation
from core.explain.overlay import DIVERGING, blend, colorize, signed_to_unit
from core.explain.settings import VIEWS, View
from core.images import encode_png, load_image
from core.model import (
    Classifier,
    ModelError,
    ModelInfo,
    build_zero_shot,
    file_sha256,
    imagenet_view,
    load_classifier,
    load_default,
)

# Long side of every picture sent to the browser: a page column is ~450 px, a full-width image
# ~1,000 px.
DISPLAY_SIDE = 1024


@dataclass(frozen=True)
class LoadedModel:
    """Either an explainer or the one-line reason there is none."""

    explainer: Explainer | None
    error: str | None = None
    # Zero-shot only: the same ResNet-50 over ImageNet's 1,000 classes (model.imagenet_view).
    imagenet: Explainer | None = None

    @property
    def views(self) -> tuple[str, ...]:
        """The views a person chooses between (VIEWS) for the zero-shot model; () for others."""
        return VIEWS if self.imagenet is not None else ()

    def view(self, name: str) -> LoadedModel:
        """This model seen through the view `name`: the ImageNet one, else itself."""
        if name == VIEWS[1] and self.imagenet is not None:
            return replace(self, explainer=self.imagenet)
        return self


def model_key(path: Path) -> str:
    """Identity of a model file: its path, the modification times of it and its sidecar, and the
    SHA-256 its sidecar records.

    Any of them changing gives a new key, so a replaced model is loaded again (even one copied
    over with its old modification time kept).
    """
    path = Path(path)
    stamps = [
        str(p.stat().st_mtime_ns) if p.exists() else "absent"
        for p in (path, path.with_suffix(".json"))
    ]
    info = read_info(path) if path.exists() else None
    return f"{path}:{':'.join(stamps)}:{(info and info.sha256) or 'no-sha'}"


def load_app_model(
    config: Config | None = None, path: Path | None = None, zero_shot: bool = False
) -> LoadedModel:
    """A model warmed up, or the one line why there is none: the file at `path`, else zero-shot
    ImageNet if `zero_shot`, else the app's model.

    The app's model is weights/current, else weights/model.keras, else the zero-shot classifier
    (with its second view, ImageNet's 1,000 classes, over the same layers and weights).
    """
    config = config or Config()
    try:
        if path:
            classifier = load_classifier(path)
        elif zero_shot:
            classifier = _zero_shot(config)
        else:
            classifier = load_default(config)
        explainer = Explainer(classifier)
    except ModelError as error:
        return LoadedModel(None, str(error))
    imagenet = Explainer(imagenet_view(classifier)) if classifier.imagenet_layer else None
    # Trace and compile the gradient graphs now, so the first photo is as fast as the others.
    size = explainer.classifier.info.image_size
    for each in filter(None, (explainer, imagenet)):
        each.explain([np.zeros((size, size, 3), np.uint8)])
    return LoadedModel(explainer, imagenet=imagenet)


def _zero_shot(config: Config) -> Classifier:
    """The zero-shot classifier chosen by name; ModelError saying so when it cannot be built."""
    try:
        return build_zero_shot(config.imagenet_weights or "imagenet", config)
    except ModelError as error:
        raise ModelError(f"Zero-shot ImageNet could not be built: {error}") from None


def describe(info: ModelInfo) -> str:
    """One line on where the model came from, for the page's caption."""
    if info.kind == "zero-shot" and len(info.class_names) > 2:
        return "Model: ResNet-50's ImageNet classifier, its 1,000 classes (zero-shot)."
    if info.kind == "zero-shot":
        return "Model: ResNet-50's ImageNet classifier, cats and dogs folded (zero-shot)."
    weights = weights_name(info.backbone_weights)
    parts = [f"Model: fine-tuned {info.backbone}", f"backbone weights: {weights}"]
    if len(info.class_names) > 2:
        parts.append(f"{len(info.class_names)} classes")
    if info.trained_on:
        # The dataset's name only: a visitor need not see the server's folders.
        on = Path(info.trained_on).name
        parts.append(f"trained on {on}" + (f" at {info.trained_at}" if info.trained_at else ""))
    if info.val_accuracy is not None:
        parts.append(f"validation accuracy {info.val_accuracy:.1%}")
    return " · ".join(parts)


def model_caption(entry: ModelEntry, info: ModelInfo) -> str:
    """The page's caption: the model in use by its picker label, then where it came from."""
    return f"Model: {entry.label} · {describe(info).removeprefix('Model: ')}"


def weights_name(choice: str | None) -> str | None:
    """Backbone weights as a visitor reads them: imagenet, none, or a weights file by its name."""
    return Path(choice).name if choice and choice not in ("imagenet", "none") else choice


def model_name(path: Path, config: Config) -> str:
    """A model file named below the weights folder (runs/<run>/model.keras), else by its name."""
    path, weights_dir = Path(path).resolve(), Path(config.weights_dir).resolve()
    return str(path.relative_to(weights_dir)) if path.is_relative_to(weights_dir) else path.name


def explain_photo(
    loaded: LoadedModel,
    data: bytes,
    name: str,
    target: str,
    max_side: int | None = DISPLAY_SIDE,
    **options,
) -> tuple[np.ndarray, Explanation]:
    """Decode one photo at display size and explain it at every offered layer; ImageError if not.

    The model input comes from the display-size photo: area-averaged, it matches the full-size
    photo's input to within a grey level or two (tests/test_images.py), at a fraction of the
    decoding time. `options` go to Explainer.explain: method, aug_smooth, eigen_smooth, top_n.
    """
    photo = load_image(data, name, max_side=max_side)
    return photo, loaded.explainer.explain([photo], target, **options)[0]


def colored_map(
    explanation: Explanation,
    layer: str,
    height: int,
    width: int,
    relu: bool = True,
    colormap: str = "jet",
    smooth: bool = True,
) -> np.ndarray:
    """The map as an RGB picture of (height, width).

    ReLU'd and scaled to [0, 1] on `colormap`, or, without ReLU, signed on a diverging colormap.
    """
    unit = explanation.heatmap(layer) if relu else signed_to_unit(explanation.raw_maps[layer])
    return colorize(unit, height, width, colormap if relu else DIVERGING, smooth)


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

    `entry` is the model in use (core.catalog); None: the app's current model.
    """
    photo, layer = view.settings.photo, view.settings.layer
    stem = Path(photo.name).stem
    raw = io.BytesIO()
    np.save(raw, view.explanation.raw_maps[layer])
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
    record = manifest(loaded, view.explanation, layer, options, config, entry)
    return [
        Download("Overlay (PNG)", overlay, f"{stem}_overlay.png", "image/png"),
        Download("Raw map (.npy)", raw.getvalue(), f"{stem}_raw.npy", "application/octet-stream"),
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
) -> dict:
    """What reproduces a map: the model (its name, file and hash), layer, target, method,
    options, versions.

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
        "layer": layer,
        "target": explanation.target,
        "method": explanation.method,
        "options": options,
        "explained": explanation.title,  # a contrast names its two classes
        "probabilities": dict(explanation.top(5)),  # the top 5 (both of two classes)
        "score": explanation.score,
        "figures": explanation.figures(layer),
        "versions": {
            name: metadata.version(name)
            for name in ("tensorflow-cpu", "keras", "numpy", "opencv-python-headless")
            if _installed(name)
        },
    }


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True
