"""A person's model file, read without running any of it: checked, then loaded in safe mode.

Keras' safe mode refuses a Lambda layer (Python code) and any class it does not know (unless the
operator loaded its module: core/custom_objects.py); its error is long and technical, so the
file's saved config is also read as text (nothing of it run) to say in one sentence which layer
is refused.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import keras

from core.config import settings
from core.errors import ModelError, one_line
from core.models.custom_objects import load_operator_module, refusal, saved_classes

# The first 8 bytes of every HDF5 file (a legacy Keras .h5).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# The model files taken, in any case (MODEL.KERAS too): the page's uploader offers these.
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


class ImportRefused(ModelError):
    """A model file that cannot be imported; the message is one sentence meant for the person."""


def load_source(path: Path, max_bytes: int | None = None) -> keras.Model:
    """A person's .keras or full-model .h5 file, loaded with safe_mode=True; ImportRefused if not.

    No layer of it may be a Lambda (its code would run here), nor a class this app does not know.
    """
    path = Path(path)
    max_bytes = settings().max_model_mb * 2**20 if max_bytes is None else max_bytes
    if not path.is_file():
        raise ImportRefused(f"No model file at {path}.")
    if path.stat().st_size > max_bytes:
        raise ImportRefused(
            f"{path.name} is {path.stat().st_size / 2**20:.0f} MB, over the "
            f"{max_bytes / 2**20:.0f} MB limit for an imported model."
        )
    if not _is_keras_file(path):
        raise ImportRefused(
            f"{path.name} is not a Keras model file: save the whole model with "
            "model.save('model.keras') (or a legacy .h5 with model.save('model.h5'))."
        )
    if "Lambda" in _class_names(path):
        raise ImportRefused(
            f"{path.name} has a Lambda layer, whose Python code this app will not run (safe "
            "mode): rebuild the model without it, e.g. preprocessing as a named option here."
        )
    load_operator_module()
    try:
        model = _load(path)
    except Exception as error:
        custom = sorted(_class_names(path, unknown=True))
        if custom:
            raise ImportRefused(refusal(path.name, custom)) from None
        raise ImportRefused(
            f"{path.name} could not be loaded in safe mode ({one_line(error, 160)})."
        ) from None
    if not isinstance(model, keras.Model):
        raise ImportRefused(f"{path.name} holds weights only, not a whole model.")
    return model


def _load(path: Path) -> keras.Model:
    """keras.saving.load_model(path) in safe mode, the suffix lower-cased for it.

    Keras tells a .keras from a .h5 by the suffix, case and all: MODEL.KERAS is loaded through a
    link named model.keras in a temporary folder (the file itself is not copied).
    """
    suffix = path.suffix.lower()
    if path.suffix == suffix:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    with tempfile.TemporaryDirectory() as folder:
        link = Path(folder) / f"model{suffix}"
        link.symlink_to(path.resolve())
        return keras.saving.load_model(link, compile=False, safe_mode=True)


def _is_keras_file(path: Path) -> bool:
    """A .keras zip with a config.json, or an HDF5 file (.h5/.hdf5) with a whole model's config."""
    if path.suffix.lower() == ".keras":
        if not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as archive:
            return "config.json" in archive.namelist()
    if path.suffix.lower() in MODEL_SUFFIXES:
        with open(path, "rb") as file:
            return file.read(8) == HDF5_SIGNATURE
    return False


def _class_names(path: Path, unknown: bool = False) -> set[str]:
    """`custom_objects.saved_classes`, its refusals as ImportRefused."""
    try:
        return saved_classes(path, unknown)
    except ImportRefused:
        raise
    except ModelError as error:
        raise ImportRefused(str(error)) from None


def check_shape(model: keras.Model, name: str) -> None:
    """One (N, H, W, 3) input and one (N, units) output, else ImportRefused."""
    try:
        inputs, outputs = model.inputs, model.outputs
    except (AttributeError, ValueError):
        raise ImportRefused(f"{name} has no defined input: build it before saving.") from None
    if len(inputs) != 1 or len(outputs) != 1:
        raise ImportRefused(
            f"{name} has {len(inputs)} input(s) and {len(outputs)} output(s); this app explains a "
            "model with one image input and one output."
        )
    shape, out = tuple(model.input_shape), tuple(model.output_shape)
    if len(shape) != 4 or shape[-1] != 3:
        raise ImportRefused(
            f"{name} takes input of shape {shape}; this app gives (batch, height, width, 3) RGB."
        )
    if len(out) != 2:
        raise ImportRefused(
            f"{name} gives output of shape {out}; this app explains (batch, classes) scores."
        )
    if first := next(iter(_channels_first(model)), None):
        raise ImportRefused(
            f"{name} computes channels_first inside (layer '{first}'): its maps would be read "
            "with the channels as the height; save it built channels_last to explain it here."
        )


def _channels_first(model: keras.Model) -> list[str]:
    """Names of the layers, sub-models' included, that compute in (N, C, H, W) order."""
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += _channels_first(layer)
        elif getattr(layer, "data_format", None) == "channels_first":
            found.append(layer.name)
    return found
