"""Score-CAM (Wang et al. 2020): each channel, upsampled and scaled to [0, 1], masks the input; the
channel's weight is the target class's probability for that masked input. No gradients.

The masking baseline is black: the masked input is the 0-255 RGB photo times the mask, before the
model's own
preprocessing, so a masked-out pixel is (0, 0, 0), as in the paper and tf-keras-vis (deletion
curves also
black pixels out; insertion starts from a blurred copy). With a one-logit head, class 1 weighs a
channel by
sigmoid(z), class 0 by 1 - sigmoid(z), and the contrast by their difference.

Costs one forward pass per channel (batched): `top_n` keeps the channels whose maps vary most (the
"faster Score-CAM" of tf-keras-vis), so ResNet-50's 2,048 channels need not all be tried.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from scipy.ndimage import zoom

from core.cams.base import (
    PREDICTED,
    BaseCAM,
    class_probabilities,
    class_scores,
    first_component,
    predicted_class,
)


class ScoreCAM(BaseCAM):
    name = "Score-CAM"
    uses_gradients = False

    def __init__(
        self,
        model,
        layers,
        extra_outputs=(),
        eigen_smooth=False,
        top_n: int | None = 64,
        batch_size: int = 32,
    ):
        super().__init__(model, layers, extra_outputs, eigen_smooth)
        self.top_n, self.batch_size = top_n, batch_size
        self._forward = tf.function(
            lambda x: self._graph(x, training=False), reduce_retracing=True
        )
        self._predict = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def forward_passes(self, channels: int) -> int:
        """Masked forward passes per image and layer: what the UI quotes before running."""
        return min(self.top_n or channels, channels)

    def _run(self, images: np.ndarray, class_index: np.ndarray) -> dict:
        outputs = self._forward(tf.constant(images))
        activations, logits = outputs[: len(self.layers)], outputs[len(self.layers)]
        chosen = tf.where(class_index == PREDICTED, predicted_class(logits), class_index)
        maps = {
            name: np.stack(
                [
                    self._image_map(image, a.numpy()[i], int(chosen[i]))
                    for i, image in enumerate(images)
                ]
            )
            for name, a in zip(self.layers, activations)
        }
        return {
            "maps": maps,
            "logits": logits.numpy(),
            "class_index": chosen.numpy(),
            "scores": class_scores(logits, chosen).numpy(),
            "extra": [e.numpy() for e in outputs[len(self.layers) + 1 :]],
        }

    def _image_map(
        self, image: np.ndarray, activations: np.ndarray, class_index: int
    ) -> np.ndarray:
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
            weights.append(
                class_probabilities(logits, tf.fill([len(masked)], class_index)).numpy()
            )
        weighted = activations[..., keep] * np.concatenate(weights)
        if self.eigen_smooth:
            return first_component(tf.constant(weighted[None], dtype=tf.float32))[0].numpy()
        return weighted.sum(axis=-1)
