"""What a person chose on the Explain and Compare pages, and the keys their results are kept under.

Frozen dataclasses without Streamlit. `Settings`' defaults are the sidebar widgets' defaults, and
its field names are the widgets' keys, so `Settings.from_state` reads a rerun's choices out of
`session_state` before any widget is drawn and gets what the widgets will hold: one source. The
widgets themselves, their labels and the pages' other keys live with the screens, in ui/.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, fields, replace

import numpy as np

from core.cams import FUSED, METHODS
from core.config import Config
from core.explain.explainer import Explainer, Explanation

# How a map is brought to the photo's size: smoothly, or cell by cell (the layer's true grid).
SMOOTH, NEAREST = "smooth", "nearest (true grid)"
UPSAMPLING = (SMOOTH, NEAREST)
# The zero-shot model's two views: ImageNet's dog breeds and cats folded into two classes (the
# default), or all of ImageNet's 1,000 classes, each explained by its own logit.
FOLDED, IMAGENET = "cat vs dog (folded)", "ImageNet's 1,000 classes"
VIEWS = (FOLDED, IMAGENET)


@dataclass(frozen=True)
class Photo:
    """A photo's bytes as a person sent them, with their digest computed once."""

    data: bytes = field(repr=False, compare=False)
    name: str
    digest: str  # SHA-1 of the bytes: what results are keyed by
    # A validation photo's path below its folder ("cats/cat_0301.jpg"): its true class is there.
    labelled_as: str | None = field(default=None, compare=False)

    @classmethod
    def of(cls, data: bytes, name: str, labelled_as: str | None = None) -> Photo:
        return cls(data, name, hashlib.sha1(data).hexdigest(), labelled_as)


@dataclass(frozen=True)
class ExplanationKey:
    """Everything one explanation depends on, built once per rerun; results are kept under it."""

    photo_id: str  # the photo's digest
    model_key: str  # the model file and its modification times (catalog.model_key)
    target: str  # "predicted", a class name or the contrast
    # The method and its options as Explainer.explain takes them; () on the Compare page, where
    # every method runs with its defaults.
    options: tuple[tuple[str, Hashable], ...] = ()
    view: str = FOLDED  # the zero-shot model's view (VIEWS); a fine-tuned model has one

    def for_target(self, target: str) -> ExplanationKey:
        return replace(self, target=target)


@dataclass(frozen=True)
class Look:
    """How a map is drawn: a change here redraws a picture without explaining again."""

    relu: bool = True
    colormap: str = Config.colormap
    smooth: bool = True


@dataclass(frozen=True)
class Settings:
    """The Explain page's sidebar: a field is a widget's key, its default the widget's default.

    Two are computed by `from_state`: `photo`, the photo chosen (ui/photos.py), and
    `method_options`, the options the chosen method declares.
    """

    photo: Photo | None = None
    method: str = "Grad-CAM"
    # The options the method declares, each at its Option.default unless chosen, e.g. top_n.
    method_options: tuple[tuple[str, Hashable], ...] = ()
    layer: str = ""  # "" until read: the model's default layer
    target: str = "predicted"
    view: str = FOLDED  # the zero-shot model's view; a fine-tuned model ignores it
    alpha: float = Config.alpha
    colormap: str = Config.colormap
    relu: bool = True
    upsampling: str = SMOOTH
    aug_smooth: bool = False
    eigen_smooth: bool = False

    @classmethod
    def from_state(
        cls, state: Mapping, default_layer: str, photo: Photo | None = None
    ) -> Settings:
        """The settings `state` (session_state) holds, each one it does not hold at its default;
        `photo` the one the page's photo widgets chose (ui/photos.py keeps it)."""
        computed = ("photo", "method_options", "layer")
        plain = {
            f.name: state.get(f.name, f.default) for f in fields(cls) if f.name not in computed
        }
        own = METHODS[plain["method"]].own_options(state)
        return cls(
            photo=photo,
            method_options=tuple(own.items()),
            layer=state.get("layer", default_layer),
            **plain,
        )

    @property
    def options(self) -> tuple[tuple[str, Hashable], ...]:
        """What Explainer.explain takes besides the photo and the target, as a hashable key."""
        smoothing = (("aug_smooth", self.aug_smooth), ("eigen_smooth", self.eigen_smooth))
        narrowed = (("layers", self.layers),) if self.layers else ()
        return (("method", self.method), *smoothing, *self.method_options, *narrowed)

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers to explain when the method pays per layer (Score-CAM: a forward pass per
        channel tried, per layer): the one shown; () for every other method, whose one pass
        serves every layer, and for FUSED, made of them all."""
        per_layer = METHODS[self.method].forward_passes(1, **dict(self.method_options)) > 0
        return (self.layer,) if per_layer and self.layer and self.layer != FUSED else ()

    @property
    def look(self) -> Look:
        return Look(self.relu, self.colormap, self.upsampling == SMOOTH)

    def key(self, model_key: str) -> ExplanationKey:
        """The one key of this photo's explanation with these settings (a photo must be set)."""
        return ExplanationKey(
            self.photo.digest, model_key, self.target, self.options, self.view
        )

    def cost(self, explainer: Explainer) -> int:
        """Forward passes the explanation takes: 1 for a gradient method."""
        return explainer.cost(self.method, self.layers, **dict(self.method_options))


@dataclass(frozen=True)
class View:
    """One explained photo, as the Explain page draws it."""

    settings: Settings
    key: ExplanationKey
    picture: np.ndarray  # the photo at display size
    explanation: Explanation


@dataclass(frozen=True)
class Check:
    """A check a person asked for (faithfulness, sanity): one explanation at one layer."""

    key: ExplanationKey
    layer: str

    @property
    def target(self) -> str:
        return self.key.target

    @property
    def method(self) -> str:
        return dict(self.key.options)["method"]


@dataclass(frozen=True)
class Result:
    """A result kept in session_state with what it was made for: shown while that still holds."""

    made_for: Hashable
    value: object
