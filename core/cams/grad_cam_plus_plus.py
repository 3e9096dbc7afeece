"""Grad-CAM++ (Chattopadhay et al. 2018), eq. 19, as pytorch-grad-cam computes it.

With Y = exp(S), every higher derivative is a power of the first: alpha = g^2 / (2 g^2 + sum(A)
g^3), and the channel weight is sum over positions of alpha * relu(exp(S) g). exp(S) is one
positive number per image, so it scales the whole map and cancels once the map is normalised: it is
left out, which keeps the map finite at any logit (exp(90) overflows float32). Where the gradient
is 0 the alpha is 0. Unlike tf-keras-vis, the alphas are not normalised over positions, so a
channel's weight is never negative when its activations are not. pytorch-grad-cam adds 1e-6 to the
denominator; here a zero denominator is guarded instead (no other change).
"""

import tensorflow as tf

from core.cams.base import BaseCAM


class GradCAMPlusPlus(BaseCAM):
    name = "Grad-CAM++"

    def channel_weights(self, activations, gradients, scores):
        squared, cubed = gradients**2, gradients**3
        denominator = (
            2.0 * squared + tf.reduce_sum(activations, axis=(1, 2), keepdims=True) * cubed
        )
        alphas = tf.where(
            gradients != 0.0, squared / tf.where(denominator == 0.0, 1.0, denominator), 0.0
        )
        return tf.reduce_sum(alphas * tf.nn.relu(gradients), axis=(1, 2))
