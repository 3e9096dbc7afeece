"""What the pages need besides widgets: the app's model, explained photos, maps, check tables.

Plain functions without Streamlit; the pages wrap them in st.cache_resource / st.cache_data.
The browser gets display-size pictures (DISPLAY_SIDE); only a download works at the photo's own
size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.config import Config, settings
from core.errors import ModelError
from core.explain.explainer import Explainer, Explanation
from core.explain.overlay import DIVERGING, colorize, signed_to_unit
from core.explain.settings import IMAGENET, VIEWS
from core.images import MODEL_SIDE, photo_for_model, upright_size
from core.models.build import build_zero_shot, imagenet_view
from core.models.catalog import ModelEntry, zero_shot_unavailable
from core.models.info import Classifier, ModelInfo
from core.models.load import load_classifier, load_default

# Long side of every picture sent to the browser: the photo as the model gets it (images.py).
DISPLAY_SIDE = MODEL_SIDE


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
        if name == IMAGENET and self.imagenet is not None:
            return replace(self, explainer=self.imagenet)
        return self


def load_app_model(
    config: Config | None = None, path: Path | None = None, zero_shot: bool = False
) -> LoadedModel:
    """A model warmed up, or the one line why there is none: the file at `path`, else zero-shot
    ImageNet if `zero_shot`, else the app's model.

    The app's model is weights/current, else weights/model.keras, else the zero-shot classifier
    (with its second view, ImageNet's 1,000 classes, over the same layers and weights).
    """
    config = config or settings()
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
    # Weights neither named nor in Keras' cache: said, never a download tried from a page.
    if unavailable := zero_shot_unavailable(config):
        raise ModelError(unavailable)
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
    if info.kind == "imported":
        return imported_caption(info)
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


def imported_caption(info: ModelInfo) -> str:
    """An imported model: the file it came from, its backbone if known, classes, preprocessing."""
    source = weights_name(info.extra.get("source", info.backbone_weights))
    height, width = info.size
    parts = [f"Model: imported from {source}"]
    if info.backbone != "unknown":
        parts.append(f"a {info.backbone} inside")
    parts += [
        f"{len(info.class_names)} classes",
        f"input {height}×{width}",
        f"preprocessing {info.preprocessing}",
    ]
    return " · ".join(parts)


def model_caption(entry: ModelEntry, info: ModelInfo) -> str:
    """The page's caption: the model in use by its picker label, where it came from, and its
    digest, so that a screenshot of a result names the very model that made it."""
    caption = f"Model: {entry.label} · {describe(info).removeprefix('Model: ')}"
    return f"{caption} · {entry.digest}" if entry.digest else caption


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
    **options,
) -> tuple[np.ndarray, Explanation]:
    """Decode one photo at display size and explain it at every offered layer; ImageError if not.

    The display-size photo is the one every route gives the model (images.photo_for_model), so
    the page's prediction is the run's, the Folder page's and the CLI's. `options` go to
    Explainer.explain: method, aug_smooth, eigen_smooth, top_n.
    """
    photo = photo_for_model(data, name)
    return photo, loaded.explainer.explain([photo], target, **options)[0]


def photo_caption(name: str, data: bytes, shown: np.ndarray) -> str:
    """"cat.jpg (500×375)"; a photo shown smaller: "IMG.jpg (4032×3024, shown at 1024×768)"."""
    height, width = shown.shape[:2]
    full_width, full_height = upright_size(data)
    if (full_width, full_height) == (width, height):
        return f"{name} ({width}×{height})"
    return f"{name} ({full_width}×{full_height}, shown at {width}×{height})"


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
    raw = explanation.raw_maps[layer]
    signed = np.zeros_like(raw) if explanation.is_flat(layer) else raw  # flat: neither way
    unit = explanation.heatmap(layer) if relu else signed_to_unit(signed)
    return colorize(unit, height, width, colormap if relu else DIVERGING, smooth)
