"""Grad-CAM++ (Chattopadhay et al. 2018): positive gradients weighted by per-position alphas.

With Y = exp(score), the higher derivatives are powers of the first, so
alpha = g^2 / (2 g^2 + sum(A) g^3); the alphas are then normalised over positions, as in the authors'
reference code and tf-keras-vis; weight = sum over positions of alpha * relu(exp(score) * g).
"""

import tensorflow as tf

from core.cams.base import BaseCAM


class GradCAMPlusPlus(BaseCAM):
    name = "Grad-CAM++"

    def channel_weights(self, activations, gradients, scores):
        first = tf.exp(scores)[:, None, None, None] * gradients
        second, third = first * gradients, first * gradients * gradients
        denominator = 2.0 * second + third * tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
        alphas = second / tf.where(second == 0.0, 1.0, denominator)
        total = tf.reduce_sum(alphas, axis=(1, 2), keepdims=True)
        alphas = alphas / tf.where(total == 0.0, 1.0, total)
        return tf.reduce_sum(alphas * tf.nn.relu(first), axis=(1, 2))
