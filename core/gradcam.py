"""Grad-CAM (Selvaraju et al. 2017) for a batch, at several layers in one forward/backward pass.

Only arrays in, arrays out: no image I/O, colouring or display here.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf

PREDICTED = -1  # class index meaning "whatever the model predicts for this image"


def predicted_class(logits: tf.Tensor) -> tf.Tensor:
    """(N,) int32: a one-logit head predicts class 1 when its logit is > 0; a K-logit head, the argmax."""
    if logits.shape[-1] == 1:
        return tf.cast(logits[:, 0] > 0, tf.int32)
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def class_scores(logits: tf.Tensor, class_index: tf.Tensor) -> tf.Tensor:
    """(N,) logit of each image's chosen class: the score Grad-CAM explains (never a probability).

    A one-logit sigmoid head z = log P(class 1) / P(class 0): class 1 is explained by z, class 0 by -z.
    """
    if logits.shape[-1] == 1:
        return tf.where(class_index == 1, logits[:, 0], -logits[:, 0])
    return tf.gather(logits, class_index, axis=1, batch_dims=1)


def normalize(raw_map: np.ndarray) -> np.ndarray:
    """ReLU, then scale to [0, 1] by the map's maximum; an all-zero map stays zero, never NaN."""
    positive = np.maximum(raw_map, 0.0)
    top = positive.max(initial=0.0)
    return positive / top if top > 0 else np.zeros_like(positive)


def flatten_model(model: keras.Model) -> keras.Model:
    """A copy of `model` with its nested sub-models inlined: same layers (cloned) and same weights.

    The usual transfer-learning recipe nests the backbone as ONE layer, which hides its conv outputs
    ("Graph disconnected", keras-team/keras-io#1999). Re-running the graph op by op on a new input
    gives a flat model in which every layer's output is reachable. Layers are cloned, not reused, so
    each has one output tensor and the caller's model is left exactly as it was.
    """

    def call(operation, *args, **kwargs):
        if isinstance(operation, keras.Sequential):
            x = args[0]
            for layer in operation.layers:
                x = call(layer, x)
            return x
        if isinstance(operation, keras.Model):
            # Keras' own graph walker; every operation goes through `call`, so nested models are expanded.
            return operation._run_through_graph(
                args[0],
                operation_fn=lambda op: functools.partial(call, op),
            )
        clone = operation.__class__.from_config(operation.get_config())
        outputs = clone(*args, **kwargs)
        clone.set_weights(operation.get_weights())
        return outputs

    inputs = keras.Input(model.input_shape[1:])
    return keras.Model(inputs, call(model, inputs), name=f"{model.name}_flat")


class GradCAM:
    """Raw Grad-CAM maps of a model at chosen layers, compiled once and reused for every call.

    Subclasses change how channels are weighted by overriding `channel_weights` (one small method,
    as in pytorch-grad-cam); forward, target, backward and the weighted sum are shared.
    """

    def __init__(self, model: keras.Model, layers: list[str], extra_outputs: tuple[str, ...] = ()):
        if isinstance(model, keras.Sequential) or any(isinstance(layer, keras.Model) for layer in model.layers):
            model = flatten_model(model)
        names = [layer.name for layer in model.layers]
        unknown = [name for name in [*layers, *extra_outputs] if name not in names]
        if unknown:
            raise ValueError(f"Layer(s) {unknown} are not in model {model.name!r}; it has e.g. {names[-6:]}.")
        flat = [name for name in layers if len(model.get_layer(name).output.shape) != 4]
        if flat:
            raise ValueError(f"Layer(s) {flat} have no (N, H, W, C) output; Grad-CAM needs a conv layer.")
        self.layers = list(layers)
        # A separate model over the same layers: the caller's model is never changed.
        outputs = [model.get_layer(name).output for name in [*layers, *extra_outputs]]
        self._graph = keras.Model(model.inputs, [*outputs[: len(layers)], model.output, *outputs[len(layers) :]])
        self._step = tf.function(self._maps, reduce_retracing=True)

    @staticmethod
    def channel_weights(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
        """Grad-CAM's alpha: the spatial mean of the gradients, (N, H, W, C) -> (N, C), per image."""
        return tf.reduce_mean(gradients, axis=(1, 2))

    def _maps(self, images: tf.Tensor, class_index: tf.Tensor):
        with tf.GradientTape() as tape:
            outputs = self._graph(images, training=False)  # inference mode: dropout off, BN frozen
            activations, logits = outputs[: len(self.layers)], outputs[len(self.layers)]
            chosen = tf.where(class_index == PREDICTED, predicted_class(logits), class_index)
            # Summing the per-image scores keeps each image's gradient its own (images don't interact).
            score = class_scores(logits, chosen)
        gradients = tape.gradient(score, activations)
        raw_maps = [
            tf.einsum("nhwc,nc->nhw", a, self.channel_weights(a, g)) for a, g in zip(activations, gradients)
        ]
        return raw_maps, logits, chosen, score, outputs[len(self.layers) + 1 :]

    def __call__(self, images: np.ndarray, class_index: int | np.ndarray = PREDICTED) -> dict:
        """Raw (signed, pre-ReLU) maps at each layer's resolution for a batch of preprocessed inputs.

        Returns a dict: "maps" {layer: (N, h, w)}, "logits" (N, K), "class_index" (N,) explained,
        "scores" (N,) the logit explained, "extra" [arrays of the extra outputs].
        """
        images = tf.convert_to_tensor(images, dtype=tf.float32)
        class_index = tf.broadcast_to(tf.constant(class_index, dtype=tf.int32), [images.shape[0]])
        raw_maps, logits, chosen, score, extra = self._step(images, class_index)
        return {
            "maps": {name: m.numpy() for name, m in zip(self.layers, raw_maps)},
            "logits": logits.numpy(),
            "class_index": chosen.numpy(),
            "scores": score.numpy(),
            "extra": [e.numpy() for e in extra],
        }
