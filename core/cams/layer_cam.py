"""Layer-CAM (Jiang et al. 2021): activations weighted by their positive gradients.

The weighting is position by position, not one weight per channel.
"""

import tensorflow as tf

from core.cams.base import BaseCAM


class LayerCAM(BaseCAM):
    name = "Layer-CAM"

    def weighted_activations(self, activations, gradients, scores):
        return activations * tf.nn.relu(gradients)
