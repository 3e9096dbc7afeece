"""From photos to predictions and Grad-CAM maps: the one entry point the app and the CLI share."""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from core.config import Config
from core.gradcam import PREDICTED, GradCAM, normalize
from core.model import IMAGENET_CATS, IMAGENET_DOGS, Classifier


def to_model_input(photos: list[np.ndarray], size: int) -> np.ndarray:
    """Squash each RGB photo to size x size, bilinear, as float32 0-255: the same in training and here.

    Squashing, not cropping, keeps the whole photo in view, so the map lines up with it when stretched back.
    """
    return np.stack([cv2.resize(p, (size, size), interpolation=cv2.INTER_LINEAR) for p in photos]).astype(np.float32)


@dataclass(frozen=True)
class Explanation:
    """One photo's prediction and its raw Grad-CAM maps at every explained layer."""

    probabilities: dict[str, float]  # class name -> probability
    label: str  # the predicted class
    target: str  # the class whose logit was explained
    score: float  # that logit
    raw_maps: dict[str, np.ndarray]  # layer -> signed map at the layer's resolution, before ReLU
    seconds: float  # the batch's explanation time, shared by its photos
    note: str | None = None  # e.g. zero-shot: "top ImageNet class is neither a cat nor a dog"

    def heatmap(self, layer: str) -> np.ndarray:
        """The Grad-CAM heatmap: ReLU of the raw map, scaled to [0, 1], at the layer's resolution."""
        return normalize(self.raw_maps[layer])


class Explainer:
    """Grad-CAM for one loaded model: built once, then reused for every photo, layer and target."""

    def __init__(self, classifier: Classifier, layers: list[str] | None = None, config: Config = Config()):
        self.classifier = classifier
        self.class_names = list(classifier.info.class_names)
        self.layers = list(layers or classifier.offered_layers(config))
        extra = (classifier.imagenet_layer,) if classifier.imagenet_layer else ()
        self._cam = GradCAM(classifier.model, self.layers, extra_outputs=extra)

    def target_index(self, target: str) -> int:
        if target == "predicted":
            return PREDICTED
        if target not in self.class_names:
            raise ValueError(f"Target {target!r} is not 'predicted' or one of {self.class_names}.")
        return self.class_names.index(target)

    def explain(self, photos: list[np.ndarray], target: str = "predicted") -> list[Explanation]:
        """Predict and explain a batch of RGB uint8 photos (any sizes) at every layer in one pass."""
        start = time.perf_counter()
        inputs = to_model_input(photos, self.classifier.info.image_size)
        result = self._cam(inputs, self.target_index(target))
        probabilities = self.classifier.probabilities(result["logits"])
        seconds = time.perf_counter() - start
        notes = _imagenet_notes(result["extra"][0]) if result["extra"] else [None] * len(photos)
        return [
            Explanation(
                probabilities=dict(zip(self.class_names, map(float, probabilities[i]))),
                label=self.class_names[int(np.argmax(probabilities[i]))],
                target=self.class_names[int(result["class_index"][i])],
                score=float(result["scores"][i]),
                raw_maps={layer: maps[i] for layer, maps in result["maps"].items()},
                seconds=seconds,
                note=notes[i],
            )
            for i in range(len(photos))
        ]


def _imagenet_notes(imagenet_logits: np.ndarray) -> list[str | None]:
    """Zero-shot only: say when the photo's top ImageNet class is neither a dog breed nor a domestic cat."""
    notes = []
    for top in np.argmax(imagenet_logits, axis=-1):
        if top in IMAGENET_DOGS or top in IMAGENET_CATS:
            notes.append(None)
        else:
            notes.append(f"ResNet-50's top ImageNet class (#{top}) is neither a cat nor a dog.")
    return notes
