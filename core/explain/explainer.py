"""From photos to predictions and Grad-CAM maps: the one entry point the app and the CLI share."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

import numpy as np

from core.cams import CONTRAST, FUSED, METHODS, PREDICTED, TOP_TWO, BaseCAM, is_guided, normalize
from core.cams.fusion import fused_layers
from core.cams.guided import LEFT, guidance
from core.config import PREDICTED_TARGET, TOP1_VS_TOP2
from core.errors import SettingError
from core.explain.faithfulness import faithfulness, sanity_check
from core.images import to_model_input
from core.models.build import IMAGENET_CATS, IMAGENET_DOGS, imagenet_class_names
from core.models.info import Classifier

NO_LAYER = "–"  # the layer shown for a map no layer makes: Guided Backprop's, the centre prior's


def top_k(probabilities: dict[str, float], k: int = 5) -> list[tuple[str, float]]:
    """The `k` most probable (class, probability) pairs, most probable first (ties: name order).

    All of them when there are fewer than `k` (two classes show both).
    """
    return sorted(probabilities.items(), key=lambda item: (-item[1], item[0]))[:k]


# A map whose largest magnitude is this share of its score's scale (the logit, or 1 when the
# logit is smaller) or less is float noise, not evidence.
FLAT = 1e-6


@dataclass(frozen=True)
class Explanation:
    """One photo's prediction and its raw Grad-CAM maps at every explained layer."""

    probabilities: dict[str, float]  # class name -> probability
    label: str  # the predicted class
    target: str  # what was explained: a class name, the two-class contrast or TOP1_VS_TOP2
    score: float  # that logit (a contrast's: the difference of two logits)
    # layer -> signed map at the layer's resolution, before ReLU; FUSED (>= 0) when it is offered
    raw_maps: dict[str, np.ndarray]
    seconds: float  # the batch's explanation time, shared by its photos
    note: str | None = None  # e.g. zero-shot: "top ImageNet class is neither a cat nor a dog"
    method: str = "Grad-CAM"
    # The class whose logit is explained (a contrast's first class: dog, the top-1), and the class
    # whose logit is subtracted from it (a contrast's second: cat, the top-2), else None.
    scored: str = ""
    versus: str | None = None
    # Guided methods only: layer -> (H, W, 3) signed gradient at the model's input resolution,
    # whose per-pixel magnitude raw_maps holds (the .npy download keeps the 3 channels).
    pixels: dict[str, np.ndarray] | None = None
    # Guided methods only: what was guided (cams.guided.guidance), e.g. "49 of 49 activations
    # guided", or "1 of 17 activations guided; 16 silu left as they are".
    guidance: str | None = None
    # Transformer layers only: layer -> how its tokens were read as a patch grid
    # (tokens.Grid.describe), said when the grid was assumed rather than the model's own.
    grid_notes: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str:
        """The target as a person reads it, e.g. "top-1 vs top-2 (Bengal minus Abyssinian)"."""
        if self.target == TOP1_VS_TOP2:
            return f"top-1 vs top-2 ({self.scored} minus {self.versus})"
        return self.target

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The `k` most probable classes and their probabilities, most probable first."""
        return top_k(self.probabilities, k)

    @property
    def partly_guided(self) -> bool:
        """A guided method left some of the model's activations unguided (swish, GELU...)."""
        return bool(self.guidance) and LEFT in self.guidance

    def heatmap(self, layer: str) -> np.ndarray:
        """The heatmap: ReLU of the raw map, scaled to [0, 1], at the layer's resolution.

        A flat map (`is_flat`) stays all zeros: scaled up, float noise would look like evidence.
        """
        if self.is_flat(layer):
            return np.zeros(self.raw_maps[layer].shape, np.float32)
        return normalize(self.raw_maps[layer])

    def is_flat(self, layer: str) -> bool:
        """Whether the map is float noise: its largest magnitude at most FLAT times the score's
        scale (an untrained model's map of 1e-13 for a logit of 1e-12). The fused map, scaled
        already, is flat when every map it is made from is."""
        if layer == FUSED:
            made_from = [name for name in self.raw_maps if name != FUSED]
            return bool(made_from) and all(self.is_flat(name) for name in made_from)
        largest = float(np.abs(self.raw_maps[layer]).max(initial=0.0))
        return largest <= FLAT * max(1.0, abs(self.score))

    def figures(self, layer: str) -> dict[str, float]:
        """The raw numbers behind a map: range, share of cells ReLU zeroes, score explained."""
        raw = self.raw_maps[layer]
        return {
            "min": float(raw.min()),
            "max": float(raw.max()),
            "zero share": float((raw <= 0).mean()),
            "score": self.score,
        }


class Explainer:
    """CAMs for one loaded model: each method's graph is built once, then reused for each photo."""

    def __init__(self, classifier: Classifier, layers: list[str] | None = None):
        self.classifier = classifier
        self.class_names = list(classifier.info.class_names)
        self.layers = list(layers or classifier.layers)
        grids = classifier.grids
        names = {layer.name for layer in classifier.model.layers}
        for layer in self.layers:
            if layer not in grids:
                why = "has no map (no (N, H, W, C) output, no tokens on a patch grid)"
                raise SettingError(
                    f"Layer {layer!r} {why if layer in names else 'is not in the model'}; "
                    f"choose one of {list(classifier.layers)}."
                )
        self._shapes = {layer: grids[layer].size for layer in self.layers}
        # FUSED is made from the offered layers explained, whatever else is explained beside them.
        self.fused_from = fused_layers(list(classifier.layers), self.layers)
        self._extra = (classifier.imagenet_layer,) if classifier.imagenet_layer else ()
        self._cams: dict[tuple, BaseCAM] = {}
        self._narrowed: dict[tuple[str, ...], Explainer] = {}
        self.cam("Grad-CAM")  # build (and validate the layers) now

    @property
    def layer_choices(self) -> dict[str, tuple[int, int]]:
        """Layer -> (h, w) of its map: the explained layers, then FUSED on the finest grid.

        FUSED is offered when `fused_from` is not empty (`fusion.fused_layers`): two or more
        offered layers explained, and no model layer named FUSED among the offered or explained.
        """
        shapes = dict(self._shapes)
        if not self.fused_from:
            return shapes
        fused = [shapes[layer] for layer in self.fused_from]
        return {**shapes, FUSED: max(fused, key=lambda hw: hw[0] * hw[1])}

    @property
    def targets(self) -> list[str]:
        """What can be explained: predicted, every class, then the contrast."""
        return [PREDICTED_TARGET, *self.class_names, self.contrast_name]

    @property
    def contrast_name(self) -> str:
        """Two classes: "<class 1> minus <class 0>" (dog minus cat); K > 2: TOP1_VS_TOP2."""
        if len(self.class_names) > 2:
            return TOP1_VS_TOP2
        return f"{self.class_names[1]} minus {self.class_names[0]}"

    def contrast_targets(self, explanation: Explanation) -> list[str]:
        """Each of two classes, then their contrast: the Explain page's "why this, why that" row.

        Two classes: cat, dog, dog minus cat. K > 2: the photo's top-1, its top-2, top1-vs-top2.
        """
        if len(self.class_names) == 2:
            return [*self.class_names, self.contrast_name]
        return [*(name for name, _ in explanation.top(2)), TOP1_VS_TOP2]

    def cam(self, method: str, eigen_smooth: bool = False, **options) -> BaseCAM:
        """The method's CAM, built once per setting.

        `options` may hold any method's options (the page keeps them all): only those this method
        declares are used.
        """
        if method not in METHODS:
            raise ValueError(f"Unknown method {method!r}; choose one of {list(METHODS)}.")
        own = METHODS[method].own_options(options)
        key = (method, eigen_smooth, tuple(sorted(own.items())))
        if key not in self._cams:
            self._cams[key] = METHODS[method](
                self.classifier.model,
                self.layers,
                self._extra,
                eigen_smooth,
                fused_from=self.fused_from,
                **own,
            )
        return self._cams[key]

    def release(self) -> None:
        """Drop every CAM built so far, and the narrowed Explainers': the next `explain` builds
        its method's again. For a run that goes method by method (`evaluate`): each CAM holds
        its compiled passes (~30 MB for ResNet-50; Score-CAM's masked batch, ~100 MB), so nine
        kept would hold ~0.5 GB more than one. A CAM and its tf.functions refer to each other,
        so the garbage collector is run to free them now.
        """
        self._cams.clear()
        self._narrowed.clear()
        gc.collect()

    def cost(self, method: str, layers: tuple[str, ...] = (), **options) -> int:
        """Forward passes per photo for all layers (or `layers`): the one pass, plus what the
        method adds.

        It adds `forward_passes` per layer, and `passes_per_photo` for all layers together
        (Guided Grad-CAM's guided pass).
        """
        cls = METHODS[method]
        own = cls.own_options(options)
        model = self.classifier.model
        channels = [model.get_layer(name).output.shape[-1] for name in layers or self.layers]
        return 1 + cls.passes_per_photo + sum(cls.forward_passes(c, **own) for c in channels)

    def target_index(self, target: str) -> int:
        """A target's class index, or PREDICTED, CONTRAST or TOP_TWO; SettingError if unknown.

        TOP1_VS_TOP2 is taken for two classes too (the predicted class minus the other).
        """
        specials = {PREDICTED_TARGET: PREDICTED, TOP1_VS_TOP2: TOP_TWO}
        if target in specials:
            return specials[target]
        if len(self.class_names) == 2 and target == self.contrast_name:
            return CONTRAST
        if target not in self.class_names:
            shown = self.targets if len(self.targets) <= 8 else [*self.targets[:4], "…"]
            raise SettingError(
                f"Target {target!r} is not one of the model's {len(self.class_names)} classes or "
                f"{PREDICTED_TARGET}/{self.contrast_name} (e.g. {', '.join(shown)})."
            )
        return self.class_names.index(target)

    def scored_class(self, explanation: Explanation) -> int:
        """The class whose probability faithfulness curves follow: the one explained.

        A named class is itself; a contrast's is its first class (dog minus cat: dog; top-1 vs
        top-2: the top-1).
        """
        return self.class_names.index(explanation.scored)

    def model_input(self, photo: np.ndarray) -> np.ndarray:
        """One photo as the model sees it: resized to its input size, 0-255 RGB floats."""
        return to_model_input([photo], self.classifier.input_size)[0]

    def faithfulness(self, photo: np.ndarray, explanation: Explanation, layer: str, steps=50):
        """Deletion and insertion curves of the map at `layer`, beside a random map's."""
        return faithfulness(
            self.classifier.model,
            self.model_input(photo),
            explanation.heatmap(layer),
            self.scored_class(explanation),
            steps,
        )

    def sanity_check(
        self, photo: np.ndarray, layer: str, target: str, method: str, progress=None
    ) -> list[dict]:
        """The cascading randomisation check of the map (faithfulness.sanity_check; `progress()`
        hears each of its `sanity_steps`)."""
        return sanity_check(
            self.classifier.model,
            layer,
            self.model_input(photo),
            self.target_index(target),
            method,
            layers=list(self.fused_from) if layer == FUSED else None,  # FUSED's own layers
            progress=progress,
        )

    def explain(
        self,
        photos: list[np.ndarray],
        target: str = "predicted",
        method: str = "Grad-CAM",
        aug_smooth: bool = False,
        eigen_smooth: bool = False,
        layers: tuple[str, ...] = (),
        **options,
    ) -> list[Explanation]:
        """Predict and explain a batch of RGB uint8 photos (any size) at all layers in one pass,
        or at `layers` alone (a method that pays per layer, Score-CAM, for the one shown)."""
        if layers and tuple(layers) != tuple(self.layers):
            narrowed = self._narrowed.get(tuple(layers))
            if narrowed is None:
                narrowed = self._narrowed[tuple(layers)] = Explainer(self.classifier, list(layers))
            return narrowed.explain(photos, target, method, aug_smooth, eigen_smooth, **options)
        start = time.perf_counter()
        inputs = to_model_input(photos, self.classifier.input_size)
        cam = self.cam(method, eigen_smooth, **options)
        result = cam(inputs, self.target_index(target), aug_smooth=aug_smooth)
        probabilities = self.classifier.probabilities(result.logits)
        seconds = time.perf_counter() - start
        notes = _imagenet_notes(result.extra[0]) if result.extra else [None] * len(photos)
        names = self.class_names
        grids = self.classifier.grids
        grid_notes = {
            layer: grids[layer].describe(layer)
            for layer in self.layers
            if grids[layer].tokens and grids[layer].assumed
        }
        return [
            Explanation(
                probabilities=dict(zip(names, map(float, probabilities[i]))),
                label=names[int(np.argmax(probabilities[i]))],
                # "predicted" is named by the class it resolved to.
                target=names[chosen] if target == PREDICTED_TARGET else target,
                score=float(result.scores[i]),
                raw_maps={layer: maps[i] for layer, maps in result.maps.items()},
                seconds=seconds,
                note=notes[i],
                method=method,
                scored=names[chosen],
                versus=names[versus] if versus >= 0 else None,
                pixels={k: v[i] for k, v in result.pixels.items()} if result.pixels else None,
                guidance=guidance(self.classifier.model) if is_guided(method) else None,
                grid_notes=grid_notes,
            )
            for i, (chosen, versus) in enumerate(zip(result.class_index, result.reference))
        ]


def _imagenet_notes(imagenet_logits: np.ndarray) -> list[str | None]:
    """Zero-shot only: say when the photo's top ImageNet class is neither a dog nor a house cat."""
    notes = []
    for top in np.argmax(imagenet_logits, axis=-1):
        if top in IMAGENET_DOGS or top in IMAGENET_CATS:
            notes.append(None)
        else:
            notes.append(
                f"ResNet-50's top ImageNet class ({imagenet_class_names()[top]}, #{top}) is "
                "neither a cat nor a dog."
            )
    return notes
