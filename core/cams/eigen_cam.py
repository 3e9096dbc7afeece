"""Eigen-CAM (Muhammad & Yeasin 2020): the first principal component of the activations.

No gradients and no target: it shows what the layer responds to most, whatever the class.
"""

from core.cams.base import BaseCAM, first_component


class EigenCAM(BaseCAM):
    name = "Eigen-CAM"
    uses_gradients = False

    def combine(self, activations, gradients, scores):
        return first_component(activations)
