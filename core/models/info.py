"""What a model is: its sidecar (ModelInfo), a loaded Classifier, its logits' probabilities, its
compiled forward pass, and the model file and sidecar written and read as one pair.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import weakref
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from core.atomic import replacing
from core.config import MAX_CLASSES
from core.errors import ModelError, one_line, writing
from core.models.graph import default_layer, map_grids, offered_layers
from core.models.tokens import Grid

# weights/current links to the run folder whose model the app uses (core/training/store.py).
CURRENT = "current"

# weights/imported/<name>/model.keras (+ model.json): models a person brought (core/imported.py).
IMPORTED = "imported"


def probabilities(logits) -> tf.Tensor:
    """(N, 1) sigmoid logits or (N, K) softmax logits -> (N, K) class probabilities.

    The app's one conversion from logits: predictions, training reports, Score-CAM, faithfulness.
    """
    logits = tf.convert_to_tensor(logits)
    if logits.shape[-1] == 1:
        dog = tf.sigmoid(logits[:, 0])
        return tf.stack([1.0 - dog, dog], axis=-1)
    return tf.nn.softmax(logits)


# One compiled forward per model, kept while the model lives (the app's model is shared).
_FORWARDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_FORWARDS_LOCK = threading.Lock()


def compiled_forward(model: keras.Model):
    """`model`'s forward pass (inference) as a tf.function: (N, H, W, 3) float32 -> logits.

    Built once per model and traced once: its signature leaves the batch free, so a short last
    batch is neither padded nor traced again. Compiled,
    not eager, for memory: an eager ResNet-50 call on 32 photos at 224 x 224 peaks at ~5.8 GB
    resident, and oneDNN's CPU kernels keep that after it returns; the compiled call, which
    reuses its buffers, peaks at ~1.2 GB (figures: docs/performance.md). It holds the model
    weakly, so the entry goes with the model.
    """
    with _FORWARDS_LOCK:
        if model not in _FORWARDS:
            held = weakref.ref(model)
            spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
            _FORWARDS[model] = tf.function(
                lambda x: held()(x, training=False), input_signature=[spec]
            )
        return _FORWARDS[model]


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
