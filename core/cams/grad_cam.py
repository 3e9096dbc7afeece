"""Grad-CAM (Selvaraju et al. 2017): each channel weighted by the spatial mean of its gradient."""

import tensorflow as tf

from core.cams.base import BaseCAM


class GradCAM(BaseCAM):
    name = "Grad-CAM"

    def channel_weights(self, activations, gradients, scores):
        return tf.reduce_mean(gradients, axis=(1, 2))
