"""The pipeline every CAM method shares: forward, target, backward, weighting, smoothing.

A method is a small subclass that says how channels are weighted (`channel_weights`) or, for
methods that weigh each position, how activations are weighted (`weighted_activations`). Arrays in,
arrays out: no image I/O, colouring or display here.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from core.cams.fusion import FUSED, fuse
from core.cams.fusion import normalize as normalize  # re-exported: guided.py, core.cams
from core.models.graph import flatten_model, map_grids
from core.models.info import probabilities
from core.models.tokens import to_grid
from core.pace import advance

PREDICTED = -1  # class index meaning "whatever the model predicts for this image"
CONTRAST = -2  # "class 1 minus class 0" (dog minus cat)
# "The largest logit minus the second largest": Finer-CAM's contrast of the predicted class with
# its nearest rival (Zhang et al. 2025), "why Bengal rather than Abyssinian".
TOP_TWO = -3
NO_REFERENCE = -1  # a reference (subtracted) class index meaning "none"
# Intensity scales of test-time augmentation, each with and without a flip.
TTA_FACTORS = (0.9, 1.0, 1.1)


def flat_form(model: keras.Model) -> keras.Model:
    """`model`, or its flat copy (graph.flatten_model) when it is Sequential or nests models:
    CAMs read layer outputs, which a nested model hides."""
    if isinstance(model, keras.Sequential) or any(
        isinstance(layer, keras.Model) for layer in model.layers
    ):
        return flatten_model(model)
    return model


def predicted_class(logits: tf.Tensor) -> tf.Tensor:
    """(N,) int32: the class each image is predicted to be.

    A one-logit head predicts class 1 when its logit is > 0; a K-logit head, the argmax.
    """
    if logits.shape[-1] == 1:
        return tf.cast(logits[:, 0] > 0, tf.int32)
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def resolve_targets(
    logits: tf.Tensor, class_index: tf.Tensor, reference: tf.Tensor | None = None
) -> tuple[tf.Tensor, tf.Tensor]:
    """(N, K) logits, (N,) targets -> (N,) class explained, (N,) class subtracted (NO_REFERENCE).

    A target is a class index or PREDICTED, CONTRAST (class 1 minus class 0) or TOP_TWO (the
    image's top-1 class minus its top-2). A `reference` >= 0 is kept as given: the class pair of
    an image stays fixed on its masked or augmented copies.
    """
    if logits.shape[-1] == 1:
        first = predicted_class(logits)
        second = 1 - first
    else:
        top = tf.math.top_k(logits, k=2).indices
        first, second = top[:, 0], top[:, 1]
    class_index = tf.cast(class_index, tf.int32)
    chosen = tf.where(
        (class_index == PREDICTED) | (class_index == TOP_TWO),
        first,
        tf.where(class_index == CONTRAST, 1, class_index),
    )
    subtracted = tf.where(
        class_index == TOP_TWO,
        second,
        tf.where(class_index == CONTRAST, 0, NO_REFERENCE),
    )
    if reference is not None:
        reference = tf.cast(reference, tf.int32)
        subtracted = tf.where(reference >= 0, reference, subtracted)
    return chosen, subtracted


def _pick(values: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """(N, K) values, (N,) class index -> (N,); a one-logit z gives class 1 z and class 0 -z."""
    if values.shape[-1] == 1:
        return tf.where(index == 1, values[:, 0], -values[:, 0])
    return tf.gather(values, tf.maximum(index, 0), axis=1, batch_dims=1)


def class_scores(
    logits: tf.Tensor, class_index: tf.Tensor, reference: tf.Tensor | None = None
) -> tf.Tensor:
    """(N,) logit of each image's chosen class: the score a CAM explains (never a probability).

    A one-logit sigmoid head z = log P(class 1) / P(class 0): class 1 is explained by z, class 0 by
    -z. A target with a reference class (`resolve_targets`) explains the difference of the two
    logits: CONTRAST l1 - l0 (with one logit that is 2z: the dog map, doubled), TOP_TWO
    l_top1 - l_top2 (Finer-CAM, Zhang et al. 2025). Grad-CAM is linear in the score, so its map of
    a difference is the difference of the two maps.
    """
    chosen, reference = resolve_targets(logits, class_index, reference)
    subtracted = _pick(logits, reference)
    return _pick(logits, chosen) - tf.where(reference >= 0, subtracted, 0.0)


def class_probabilities(
    logits: tf.Tensor, class_index: tf.Tensor, reference: tf.Tensor | None = None
) -> tf.Tensor:
    """(N,) probability of each image's chosen class; with a reference class, the difference.

    For CONTRAST class 1's minus class 0's, for TOP_TWO top-1's minus top-2's (the pair
    resolved on these logits unless `reference` fixes it).
    """
    every = probabilities(logits)
    chosen, reference = resolve_targets(logits, class_index, reference)
    picked, subtracted = _pick(every, chosen), _pick(every, reference)
    return picked - tf.where(reference >= 0, subtracted, 0.0)


def first_component(activations: tf.Tensor, reference: tf.Tensor | None = None) -> tf.Tensor:
    """(N, h, w, C) -> (N, h, w): projection on the centred channels' first principal component.

    SVD leaves the sign free; it is chosen so that the map agrees with `reference` (default: the
    channel sum). Where the reference is float noise (a LayerNorm's tokens sum to ~0 over their
    channels) or barely correlates (|r| < 1e-3), the sign makes the map's largest magnitude
    positive, so float noise never flips it.
    """
    h, w, c = activations.shape[1:]
    flat = tf.reshape(activations, (-1, h * w, c))
    centred = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
    _, _, v = tf.linalg.svd(centred)
    projection = tf.einsum("npc,nc->np", centred, v[:, :, 0])
    reference = tf.reshape(
        tf.reduce_sum(activations, -1) if reference is None else reference, (-1, h * w)
    )
    reference -= tf.reduce_mean(reference, 1, keepdims=True)
    agreement = tf.reduce_sum(projection * reference, 1)
    # The reference decides only where it is more than float noise beside the activations.
    telling = (tf.norm(reference, axis=1) > 1e-3 * tf.norm(centred, axis=(1, 2))) & (
        tf.abs(agreement) > 1e-3 * tf.norm(projection, axis=1) * tf.norm(reference, axis=1)
    )
    peak = tf.gather(projection, tf.argmax(tf.abs(projection), 1), axis=1, batch_dims=1)
    sign = tf.sign(tf.where(telling, agreement, peak))
    return tf.reshape(projection * tf.where(sign == 0, 1.0, sign)[:, None], (-1, h, w))


def equal_weight_mean(variants: np.ndarray) -> np.ndarray:
    """(V, N, h, w) signed maps -> (N, h, w): each scaled by its own max |value|, then averaged.

    A plain mean lets the variant with the largest gradients decide (and Grad-CAM++'s grow with
    e^score); scaled first, every variant has the same say. Signs are kept, so ReLU-off views still
    show "against".
    """
    scale = np.abs(variants).max(axis=(2, 3), keepdims=True)
    return (variants / np.where(scale > 0, scale, 1.0)).mean(axis=0)




@dataclass(frozen=True)
class Option:
    """A setting a method declares: the page draws it, the CLI offers it, the cache keys on it."""

    default: int | None
    choices: tuple = ()
    label: str = ""
    help: str = ""


@dataclass
class CAMResult:
    """What a CAM gives for a batch of N images."""

    # layer -> (N, h, w) raw maps: signed, before ReLU; also FUSED (>= 0) when layers are fused
    maps: dict[str, np.ndarray]
    logits: np.ndarray  # (N, K)
    class_index: np.ndarray  # (N,) the class explained (the contrasts' first class)
    scores: np.ndarray  # (N,) the logit explained (a difference of two for a contrast)
    extra: list[np.ndarray]  # the extra outputs asked for (e.g. ImageNet logits)
    # (N,) the class whose logit is subtracted (CONTRAST, TOP_TWO), else NO_REFERENCE
    reference: np.ndarray | None = None
    # Guided methods only: layer -> (N, H, W, 3) signed gradient at the model's input resolution,
    # whose per-pixel magnitude `maps` holds.
    pixels: dict[str, np.ndarray] | None = None


class BaseCAM:
    """Raw class activation maps of a model at chosen layers, compiled once, reused every call.

    A method is one small subclass. It sets its `name`, whether it needs gradients, whether its
    maps can be computed inside the compiled graph (`compiled`), the options it takes (`options`,
    name -> Option) and its cost beyond one forward and backward pass (`forward_passes`); and it
    overrides one hook: `channel_weights`, `weighted_activations`, `combine` or, for a method that
    runs the model again per channel, `raw_maps`.
    """

    name = "base"
    uses_gradients = True
    compiled = True  # raw_maps runs inside tf.function; False: eagerly, after a compiled pass
    options: dict[str, Option] = {}
    # Forward and backward passes per photo beyond the one, for all layers together (Guided
    # Grad-CAM's guided pass); `forward_passes` counts those per layer.
    passes_per_photo = 0

    def __init__(
        self,
        model: keras.Model,
        layers: list[str],
        extra_outputs: tuple[str, ...] = (),
        eigen_smooth: bool = False,
        *,
        fused_from: tuple[str, ...] = (),
        **options,
    ):
        unknown = set(options) - set(self.options)
        if unknown:
            raise ValueError(f"{self.name} takes no option(s) {sorted(unknown)}.")
        self.settings = self.own_options(options)
        model = flat_form(model)
        names = [layer.name for layer in model.layers]
        unknown = [name for name in [*layers, *extra_outputs] if name not in names]
        if unknown:
            raise ValueError(
                f"Layer(s) {unknown} are not in model {model.name!r}; it has e.g. {names[-6:]}."
            )
        grids = map_grids(model)
        flat = [name for name in layers if name not in grids]
        if flat:
            raise ValueError(
                f"Layer(s) {flat} have no map: neither an (N, H, W, C) output nor tokens on a "
                "patch grid."
            )
        # Token layers (N, T, C) are read as (N, h, w, C) patches (core/models/tokens.py).
        self.grids = {name: grids[name] for name in layers}
        self.model, self.layers, self.eigen_smooth = model, list(layers), eigen_smooth
        # `fused_from` (of `layers`; `fusion.fused_layers` says which) gives one more map, FUSED.
        self.fused_from = tuple(fused_from)
        if set(self.fused_from) - set(layers) or (self.fused_from and FUSED in layers):
            raise ValueError(
                f"fused_from {self.fused_from} must be among the layers {layers}, none named "
                f"{FUSED!r}."
            )
        self.fuses = bool(self.fused_from)
        # A separate model over the same layers: the caller's model is never changed.
        outputs = [model.get_layer(name).output for name in [*layers, *extra_outputs]]
        self._graph = keras.Model(
            model.inputs, [*outputs[: len(layers)], model.output, *outputs[len(layers) :]]
        )
        self._pass = tf.function(self._outputs, reduce_retracing=True)
        self._step = tf.function(self._maps, reduce_retracing=True)

    @classmethod
    def own_options(cls, options) -> dict:
        """This method's options out of `options`, each one it is not given at its default.

        `options` may be any mapping: all that a page keeps, say.
        """
        return {name: options.get(name, option.default) for name, option in cls.options.items()}

    @classmethod
    def forward_passes(cls, channels: int, **options) -> int:
        """Forward passes per image and layer beyond the one every method makes.

        The page and the Compare grid quote it before running.
        """
        return 0

    # The hooks a method overrides -------------------------------------------------------------
    def channel_weights(
        self, activations: tf.Tensor, gradients: tf.Tensor, scores: tf.Tensor
    ) -> tf.Tensor:
        """(N, h, w, C) activations and gradients, (N,) scores -> (N, C) weight of each channel."""
        raise NotImplementedError

    def weighted_activations(self, activations, gradients, scores) -> tf.Tensor:
        return activations * self.channel_weights(activations, gradients, scores)[:, None, None, :]

    def combine(self, activations, gradients, scores) -> tf.Tensor:
        """(N, h, w) raw map: the weighted channels summed (eigen-smooth: their first PC)."""
        weighted = self.weighted_activations(activations, gradients, scores)
        return first_component(weighted) if self.eigen_smooth else tf.reduce_sum(weighted, axis=-1)

    def raw_maps(self, images, activations, gradients, scores, class_index, reference) -> list:
        """One (N, h, w) raw map per layer, from the model inputs and what the pass computed.

        `class_index` and `reference` are (N,) resolved classes (`resolve_targets`).
        """
        return [self.combine(a, g, scores) for a, g in zip(activations, gradients)]

    # The shared pipeline -----------------------------------------------------------------------
    def _outputs(self, images: tf.Tensor, class_index: tf.Tensor, reference: tf.Tensor):
        with tf.GradientTape() as tape:
            outputs = self._graph(images, training=False)  # inference mode: dropout off, BN frozen
            activations, logits = outputs[: len(self.layers)], outputs[len(self.layers)]
            chosen, reference = resolve_targets(logits, class_index, reference)
            # Summing the per-image scores keeps each image's gradient its own: images don't mix.
            scores = class_scores(logits, chosen, reference)
        gradients = (
            tape.gradient(scores, activations)
            if self.uses_gradients
            else [None] * len(activations)
        )
        grids = [self.grids[name] for name in self.layers]
        activations = [to_grid(a, grid) for a, grid in zip(activations, grids)]
        gradients = [g if g is None else to_grid(g, grid) for g, grid in zip(gradients, grids)]
        pair = (chosen, reference)
        return activations, gradients, logits, pair, scores, outputs[len(self.layers) + 1 :]

    def _maps(self, images: tf.Tensor, class_index: tf.Tensor, reference: tf.Tensor):
        activations, gradients, logits, pair, scores, extra = self._outputs(
            images, class_index, reference
        )
        maps = self.raw_maps(images, activations, gradients, scores, *pair)
        return maps, logits, pair, scores, extra

    def __call__(
        self,
        images: np.ndarray,
        class_index: int | np.ndarray = PREDICTED,
        aug_smooth: bool = False,
        reference: int | np.ndarray = NO_REFERENCE,
    ) -> CAMResult:
        """Raw (signed, pre-ReLU) maps at each layer's resolution for a batch of model inputs.

        `class_index`: a class, PREDICTED, CONTRAST or TOP_TWO; a `reference` class >= 0 is
        subtracted from it (a contrast's pair, fixed). With `aug_smooth` the maps are averaged
        over flips x intensity scales (TTA_FACTORS), all in one batch, each variant first scaled by
        its own largest |value|: still signed, but with a maximum of 1 at most.
        `maps` also holds FUSED when the CAM was built `fused_from` layers: their maps fused
        (`fusion.fuse`) without another model call.
        """
        images = np.asarray(images, dtype=np.float32)
        n = len(images)
        class_index = np.broadcast_to(np.asarray(class_index, dtype=np.int32), (n,))
        reference = np.broadcast_to(np.asarray(reference, dtype=np.int32), (n,))
        if aug_smooth:
            result = self._smoothed(images, class_index, reference)
        else:
            result = self._run(images, class_index, reference)
        if self.fuses:
            result.maps[FUSED] = fuse([result.maps[layer] for layer in self.fused_from])
        return result

    def _smoothed(self, images: np.ndarray, class_index, reference) -> CAMResult:
        """The maps averaged over TTA variants (see __call__), the rest from the plain images."""
        n = len(images)
        variants = [images * f for f in TTA_FACTORS] + [
            images[:, :, ::-1] * f for f in TTA_FACTORS
        ]
        # The plain image decides what "predicted" and "top-1 vs top-2" mean, so every variant
        # explains the same class pair.
        plain = self._run(images, class_index, reference)
        result = self._run(
            np.concatenate(variants),
            np.tile(plain.class_index, len(variants)),
            np.tile(plain.reference, len(variants)),
        )
        half = len(TTA_FACTORS) * n
        for layer, maps in result.maps.items():
            # The mirrored maps are flipped back before averaging.
            maps = np.concatenate([maps[:half], maps[half:, :, ::-1]])
            plain.maps[layer] = equal_weight_mean(maps.reshape(len(variants), n, *maps.shape[1:]))
        return plain

    def _run(self, images: np.ndarray, class_index: np.ndarray, reference) -> CAMResult:
        inputs = (tf.constant(images), tf.constant(class_index), tf.constant(reference))
        if self.compiled:
            maps, logits, pair, scores, extra = self._step(*inputs)
        else:
            activations, gradients, logits, pair, scores, extra = self._pass(*inputs)
            maps = self.raw_maps(inputs[0], activations, gradients, scores, *pair)
        advance(len(images))  # the guided pass and Score-CAM's masked ones count their own
        return CAMResult(
            maps={name: np.asarray(m) for name, m in zip(self.layers, maps)},
            logits=logits.numpy(),
            class_index=pair[0].numpy(),
            scores=scores.numpy(),
            extra=[e.numpy() for e in extra],
            reference=pair[1].numpy(),
        )
