"""How every kind of model is loaded: a training run's, one copied in by hand, one a person
imported (or gave with --classes and --preprocessing), and zero-shot ImageNet as the fallback.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import keras

from core.config import Config, settings
from core.errors import ModelError, one_line
from core.models import imported
from core.models.build import build_zero_shot
from core.models.custom_objects import load_operator_module, refusal, saved_classes
from core.models.graph import LAST_STAGE
from core.models.info import (
    CURRENT,
    IMPORTED,
    Classifier,
    ModelInfo,
    check_output_count,
    file_sha256,
    read_sidecar,
)


def load_classifier(
    path: Path, classes: tuple[str, ...] | None = None, preprocessing: str | None = None
) -> Classifier:
    """Load a .keras model (safe_mode=True) and its sidecar; refuse any that does not match.

    `classes` and `preprocessing` (the CLI's --classes and --preprocessing) win over the sidecar's
    and let a plain .keras with no sidecar be explained (both needed then: no preprocessing is
    assumed). An imported model, one with a preprocessing other than "none", or one given either
    flag is explained through facts.explained_model: 0-255 RGB in, preprocessing, flat
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

def app_model_path(config: Config | None = None) -> Path:
    """The model the app uses: weights/current/model.keras, else weights/model.keras.

    `current` is a link to the newest finished run's folder (core/training/store.py switches it);
    it is resolved once here, so the model file and its sidecar come from the same run.
    """
    config = config or settings()
    link = config.weights_dir / CURRENT
    if link.is_symlink() and link.exists():
        return link.resolve() / config.model_file
    return config.weights_dir / config.model_file

def load_default(config: Config | None = None) -> Classifier:
    """The app's model: the fine-tuned one in weights/, else zero-shot ImageNet, else an error."""
    config = config or settings()
    path = app_model_path(config)
    if path.exists():
        return load_classifier(path)
    try:
        return build_zero_shot(config.imagenet_weights or "imagenet", config)
    except ModelError as error:
        raise ModelError(
            f"No fine-tuned model at {path}, and no zero-shot fallback: {error}"
        ) from None
