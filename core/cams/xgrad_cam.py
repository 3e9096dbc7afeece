"""XGrad-CAM (Fu et al. 2020): gradients averaged with the activations as weights."""

import tensorflow as tf

from core.cams.base import BaseCAM


class XGradCAM(BaseCAM):
    name = "XGrad-CAM"

    def channel_weights(self, activations, gradients, scores):
        total = tf.reduce_sum(activations, axis=(1, 2))
        return tf.reduce_sum(activations * gradients, axis=(1, 2)) / tf.where(
            total == 0.0, 1.0, total
        )
