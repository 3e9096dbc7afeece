"""HiResCAM (Draelos & Carin 2020): gradients times activations, position by position, no pooling.

Faithful to the model for heads that end in global average pooling and a dense layer.
"""

from core.cams.base import BaseCAM


class HiResCAM(BaseCAM):
    name = "HiResCAM"

    def weighted_activations(self, activations, gradients, scores):
        return activations * gradients
