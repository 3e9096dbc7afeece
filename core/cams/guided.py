"""Guided Backprop (Springenberg et al. 2015) and Guided Grad-CAM (Selvaraju et al. 2017, sec. 3).

Guided backpropagation takes the class logit's gradient with respect to the input pixels, letting
it through each ReLU only where the ReLU's input and the gradient arriving from above are both
positive. In TF2/Keras 3 a graph's gradient override no longer applies, so the guided pass runs on
a clone whose ReLUs are `tf.custom_gradient` functions (as tf-keras-vis'
`GuidedBackpropagation` modifier does on its clone); the model the caller holds is never touched.

The gradient is (N, H, W, 3) at the model's input resolution; the map shown is its per-pixel
magnitude, max |g| over the three channels (the saliency of Simonyan et al. 2014, as
tf-keras-vis' `Saliency` reduces it): a pixel counts as much as its most sensitive channel, and
opposite signs in two channels do not cancel as in a sum. Guided Grad-CAM multiplies the gradient
by the Grad-CAM map (ReLU'd, scaled to [0, 1], stretched bilinearly to the input), which makes
the sharp but class-blind guided gradient class-specific.

Adebayo et al. 2018 found guided backprop nearly blind to the model's weights (its map is mostly
the photo's edges): tests/test_guided.py states what our sanity check says of both methods.
"""

from __future__ import annotations

import collections
import threading
import weakref
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from core.cams.base import (
    NO_REFERENCE,
    PREDICTED,
    BaseCAM,
    CAMResult,
    class_scores,
    flat_form,
    resolve_targets,
)
from core.cams.fusion import FUSED, stretched_units
from core.cams.grad_cam import GradCAM
from core.errors import SettingError
from core.pace import advance

# Activations guided, and their ReLU settings (Keras' relu(x, negative_slope, max_value, ...)).
RELUS = {
    keras.activations.relu: {},
    keras.activations.relu6: {"max_value": 6.0},
    tf.nn.relu: {},
    tf.nn.relu6: {"max_value": 6.0},
}


def guided_relu(negative_slope: float = 0.0, max_value: float | None = None, threshold=0.0):
    """Keras' relu with these settings, whose gradient is guided (Springenberg et al. 2015,
    "Striving for Simplicity: The All Convolutional Net", sec. 3.4, eq. for R_i^l).

    Backwards it passes dy * 1[dy > 0] times the true local derivative: 1 where
    threshold < x (< max_value), 0 at and above max_value (ReLU6), `negative_slope` below the
    threshold (0 for a plain ReLU). So a plain ReLU passes dy only where x > 0 and dy > 0.
    """

    @tf.custom_gradient
    def guided(x):
        y = keras.activations.relu(x, negative_slope, max_value, threshold)

        def gradient(dy):
            local = tf.where(x > threshold, tf.ones_like(x), negative_slope * tf.ones_like(x))
            if max_value is not None:
                local = tf.where(x >= max_value, tf.zeros_like(x), local)
            return tf.nn.relu(dy) * tf.cast(local, dy.dtype)

        return y, gradient

    return guided


class NoReLUError(SettingError):
    """Guided Backprop asked of a model without a ReLU to guide: it would be the plain gradient."""


def _guided_layer(layer: keras.layers.Layer, guided: list[str]) -> keras.layers.Layer:
    """A clone of `layer` whose ReLU, if it has one, is guided (its name added to `guided`);
    other layers cloned as they are.

    Covers activation="relu"/"relu6" on any layer (conv, dense, Activation) and ReLU layers.
    """
    if isinstance(layer, keras.layers.ReLU):
        settings = {k: layer.get_config()[k] for k in ("negative_slope", "max_value", "threshold")}
        guided.append(layer.name)
        return keras.layers.Activation(guided_relu(**settings), name=layer.name)
    clone = layer.__class__.from_config(layer.get_config())
    activation = getattr(clone, "activation", None)
    if activation in RELUS:
        clone.activation = guided_relu(**RELUS[activation])
        guided.append(layer.name)
    return clone


def _activations(model: keras.Model) -> list[str]:
    """The names of the non-linear activations `model`'s layers use, e.g. ["silu", "sigmoid"]."""
    return sorted(set(_activation_names(model)) - {"linear"}) or ["none"]


def _activation_names(model: keras.Model) -> list[str]:
    """Each layer's activation by name ("relu", "silu", "linear"), sub-models' layers included;
    a ReLU layer is "relu"."""
    names = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            names += _activation_names(layer)
        elif isinstance(layer, keras.layers.ReLU):
            names.append("relu")
        elif callable(activation := getattr(layer, "activation", None)):
            guided = activation in RELUS
            names.append("relu" if guided else getattr(activation, "__name__", "unknown"))
    return names


LEFT = "left as they are"  # what `guidance` says of activations a guided pass does not guide


def guidance(model: keras.Model) -> str:
    """What a guided method guides in `model`, in words: "49 of 49 activations guided", or on a
    swish backbone with one ReLU in its head "1 of 17 activations guided; 16 silu left as they
    are" (then the map is mostly the plain gradient, not Guided Backprop's)."""
    names = [name for name in _activation_names(model) if name != "linear"]
    left = collections.Counter(name for name in names if name != "relu")
    text = f"{names.count('relu')} of {len(names)} activations guided"
    if left:
        text += "; " + ", ".join(f"{n} {name}" for name, n in left.most_common())
        text += f" {LEFT}"
    return text


def guided_model(model: keras.Model, progress: Callable[[], None] | None = None) -> keras.Model:
    """A flat functional `model`'s clone with guided ReLUs: same layer names, weights, forward.

    A new model every call (`shared_guided_model` keeps one per model); `model` itself is left
    exactly as it was. Models with nested sub-models are flattened first (BaseCAM does that).
    NoReLUError if it has no ReLU to guide (swish, GELU): its guided gradient would silently be
    the plain one. `progress()` hears each layer cloned.
    """
    guided: list[str] = []

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if progress:
            progress()
        return _guided_layer(layer, guided)

    clone = keras.models.clone_model(model, clone_function=clone)
    if not guided:
        raise NoReLUError(
            f"Guided Backprop needs ReLUs; model {model.name!r} has none (its activations are "
            f"{', '.join(_activations(model))}): use Grad-CAM or another CAM method instead."
        )
    clone.set_weights(model.get_weights())
    return clone


# One guided clone per caller's model, shared by every guided CAM over it (a ResNet-50 clone is
# ~100 MB and ~10 s to build); it goes when the model does. The clone has layers of its own: the
# model's layers, called on new inputs, would gain a second output node and break
# `get_layer(name).output` for CAMs built later.
_CLONES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CLONES_LOCK = threading.Lock()


def shared_guided_model(
    key: keras.Model, flat: keras.Model, progress: Callable[[], None] | None = None
) -> keras.Model:
    """The guided clone of `flat` (the flat form of `key`, the caller's model), built once per
    `key` (`progress()` hearing each layer cloned) and given `flat`'s current weights on every
    call.

    The weights are copied again because a model's weights may change between two CAMs (the
    sanity check re-initialises its copy's layers group by group, building a CAM after each).
    """
    with _CLONES_LOCK:
        clone = _CLONES.get(key)
        if clone is None:
            clone = _CLONES[key] = guided_model(flat, progress)
        else:
            clone.set_weights(flat.get_weights())
        return clone


def layers_to_clone(model: keras.Model) -> int:
    """The layers `build_guided` clones for `model` (nested models' counted in), 0 once built:
    a guided method's first use builds it, a ResNet-50's in ~10 s."""
    if model in _CLONES:  # read without the lock, which a build holds for its ~10 s
        return 0

    def count(model: keras.Model) -> int:  # clone_model clones all but the input layers
        return sum(
            count(x) if isinstance(x, keras.Model) else not isinstance(x, keras.layers.InputLayer)
            for x in model.layers
        )

    return count(model)


def build_guided(model: keras.Model, progress: Callable[[], None] | None = None) -> None:
    """Build `model`'s shared guided clone now, `progress()` hearing each layer cloned, so that
    its wait can be shown; NoReLUError if it has no ReLU to guide."""
    shared_guided_model(model, flat_form(model), progress)


def saliency(gradients: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) gradient -> (N, H, W) float32 >= 0: max |g| over the channels per pixel."""
    return np.abs(gradients).max(axis=-1).astype(np.float32)


class Guided:
    """The guided pass both methods share, a mixin before BaseCAM: one guided clone for every
    guided CAM over the same model (`shared_guided_model`), its pass compiled once per CAM."""

    def __init__(self, model, layers, extra_outputs=(), eigen_smooth=False, **options):
        """BaseCAM's arguments; also the guided model, with `extra_outputs` as its extra outputs.

        NoReLUError (a SettingError) if `model` has no ReLU to guide.
        """
        super().__init__(model, layers, extra_outputs, eigen_smooth, **options)
        # self.model is BaseCAM's: the caller's model, flattened if it nests sub-models; the
        # clone is kept per caller's model, as flattening makes a new model each time.
        guided = shared_guided_model(model, self.model)
        extra = [guided.get_layer(name).output for name in extra_outputs]
        self._guided = keras.Model(guided.inputs, [guided.output, *extra])
        self._guided_step = tf.function(self._guided_pass, reduce_retracing=True)

    def _guided_pass(self, images: tf.Tensor, class_index: tf.Tensor, reference: tf.Tensor):
        """(N, H, W, 3) images, (N,) class index and reference -> the (N, H, W, 3) gradient of
        each image's class score at its pixels, (N, K) logits, the (N,) class pair, (N,) scores
        and the extra outputs; compiled once per CAM (`_guided_step`)."""
        with tf.GradientTape() as tape:
            tape.watch(images)
            # A list even with no extra output (a one-output model gives a bare tensor).
            outputs = tf.nest.flatten(self._guided(images, training=False))
            logits = outputs[0]
            pair = resolve_targets(logits, class_index, reference)
            scores = class_scores(logits, *pair)
        return tape.gradient(scores, images), logits, pair, scores, outputs[1:]

    def guided(self, images: np.ndarray, class_index: np.ndarray, reference: np.ndarray):
        """(N, H, W, 3) guided gradient of each image's class score, and what the pass gave."""
        inputs = (tf.constant(images), tf.constant(class_index), tf.constant(reference))
        outputs = self._guided_step(*inputs)
        advance(len(images))
        return outputs


class GuidedBackprop(Guided, BaseCAM):
    """Guided backpropagation: the guided gradient at the input; no layer, no CAM.

    Its map (the magnitude, `saliency`) is the same under every layer key (and FUSED), so a page
    that offers layers shows it whatever the layer. TTA and eigen-smooth do not apply.
    """

    name = "Guided Backprop"

    def __call__(
        self, images, class_index=PREDICTED, aug_smooth: bool = False, reference=NO_REFERENCE
    ) -> CAMResult:
        """One guided pass over (N, H, W, 3) model inputs; `aug_smooth` is ignored (test-time
        augmentation does not apply).

        `maps`: layer -> (N, H, W) max |g| over the channels, the same array under every layer
        key (and FUSED); `pixels`: layer -> the (N, H, W, 3) signed gradient, likewise.
        """
        images = np.asarray(images, dtype=np.float32)
        n = len(images)
        class_index = np.broadcast_to(np.asarray(class_index, dtype=np.int32), (n,))
        reference = np.broadcast_to(np.asarray(reference, dtype=np.int32), (n,))
        gradients, logits, pair, scores, extra = self.guided(images, class_index, reference)
        gradients = gradients.numpy()
        keys = [*self.layers, FUSED] if self.fuses else self.layers
        magnitude = saliency(gradients)
        return CAMResult(
            maps={key: magnitude for key in keys},
            logits=logits.numpy(),
            class_index=pair[0].numpy(),
            scores=scores.numpy(),
            extra=[e.numpy() for e in extra],
            reference=pair[1].numpy(),
            pixels={key: gradients for key in keys},
        )


class GuidedGradCAM(Guided, GradCAM):
    """Guided Grad-CAM: the guided gradient times the Grad-CAM map stretched to the input.

    The CAM part is Grad-CAM's at each layer (and FUSED), with its TTA and eigen-smooth; the
    guided part is one more pass on the plain images, for the class pair the CAM part explained.
    """

    name = "Guided Grad-CAM"
    passes_per_photo = 1  # the guided pass, one forward and backward for all layers together

    def __call__(
        self, images, class_index=PREDICTED, aug_smooth: bool = False, reference=NO_REFERENCE
    ) -> CAMResult:
        """Grad-CAM's result over (N, H, W, 3) model inputs, at each layer (and FUSED): `pixels`
        the (N, H, W, 3) guided gradient times the layer's Grad-CAM map stretched to (H, W),
        `maps` its (N, H, W) max |.| over the channels. `aug_smooth` and eigen-smooth change the
        Grad-CAM part only."""
        result = super().__call__(images, class_index, aug_smooth, reference)
        images = np.asarray(images, dtype=np.float32)
        gradients = self.guided(images, result.class_index, result.reference)[0].numpy()
        height, width = images.shape[1:3]
        result.pixels = {
            key: gradients * stretched_units(maps, height, width)[..., None]
            for key, maps in result.maps.items()
        }
        result.maps = {key: saliency(pixels) for key, pixels in result.pixels.items()}
        return result
