"""Score-CAM (Wang et al. 2020): each channel masks the input; no gradients.

Each channel, upsampled and scaled to [0, 1], masks the input; the channel's weight is the target
class's probability for that masked input.

The masking baseline is black: the masked input is the 0-255 RGB photo times the mask, before the
model's own preprocessing, so a masked-out pixel is (0, 0, 0), as in the paper and tf-keras-vis
(deletion curves also black pixels out; insertion starts from a blurred copy). With a one-logit
head, class 1 weighs a channel by sigmoid(z), class 0 by 1 - sigmoid(z), and the contrast by their
difference. A contrast of two classes (dog minus cat, top-1 vs top-2) weighs a channel by the
difference of their two probabilities, the pair being the unmasked photo's: a masked copy's own
top two may be others.

Costs one forward pass per channel (batched): `top_n` keeps the channels whose maps vary most (the
"faster Score-CAM" of tf-keras-vis), so ResNet-50's 2,048 channels need not all be tried.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from scipy.ndimage import zoom

from core.cams.base import BaseCAM, Option, class_probabilities, first_component
from core.pace import advance


class ScoreCAM(BaseCAM):
    name = "Score-CAM"
    uses_gradients = False
    compiled = False  # masks are made with SciPy, image by image
    options = {
        "top_n": Option(
            64,
            (16, 32, 64, 128, 256, 512, 1024, 2048),
            "Score-CAM channels tried",
            "The channels whose maps vary most; each costs one forward pass per layer.",
        )
    }
    # Masked images per forward pass: on 2 cores 8 pass as fast per image as 32, and expensive
    # work gives way to a visitor's cheap explanation between two batches (ui/slots.py).
    batch_size = 8

    def __init__(self, model, layers, extra_outputs=(), eigen_smooth=False, **options):
        super().__init__(model, layers, extra_outputs, eigen_smooth, **options)
        self.top_n = self.settings["top_n"]
        self._predict = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    @classmethod
    def forward_passes(cls, channels: int, top_n: int | None = 64, **options) -> int:
        """One masked forward pass per channel tried."""
        return min(top_n or channels, channels)

    def raw_maps(self, images, activations, gradients, scores, class_index, reference) -> list:
        images, pairs = images.numpy(), np.stack([class_index.numpy(), reference.numpy()], 1)
        return [
            np.stack(
                [self._image_map(image, a.numpy()[i], pairs[i]) for i, image in enumerate(images)]
            )
            for a in activations
        ]

    def _image_map(self, image: np.ndarray, activations: np.ndarray, pair) -> np.ndarray:
        """One image's map; `pair` is its (class explained, class subtracted or NO_REFERENCE)."""
        h, w, channels = activations.shape
        keep = np.arange(channels)
        if self.top_n and self.top_n < channels:
            keep = np.sort(np.argsort(-activations.std(axis=(0, 1)), kind="stable")[: self.top_n])
        weights = []
        for start in range(0, len(keep), self.batch_size):
            chosen = activations[..., keep[start : start + self.batch_size]]
            masks = zoom(
                chosen, (image.shape[0] / h, image.shape[1] / w, 1), order=1, mode="nearest"
            )
            low, high = (
                masks.min(axis=(0, 1), keepdims=True),
                masks.max(axis=(0, 1), keepdims=True),
            )
            masks = (masks - low) / (high - low + 1e-7)
            masked = image[None] * np.moveaxis(masks, -1, 0)[..., None]  # (channels, H, W, 3)
            logits = self._predict(tf.constant(masked, dtype=tf.float32))
            advance(len(masked))
            chosen, reference = (tf.fill([len(masked)], int(c)) for c in pair)
            weights.append(class_probabilities(logits, chosen, reference).numpy())
        weighted = activations[..., keep] * np.concatenate(weights)
        if self.eigen_smooth:
            return first_component(tf.constant(weighted[None], dtype=tf.float32))[0].numpy()
        return weighted.sum(axis=-1)
