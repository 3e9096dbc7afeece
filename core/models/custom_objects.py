"""Layers of a model's own: named in its file, and loaded only from a module the operator trusts.

Keras' safe mode runs no code from a model file, so a layer class of the model's own (a ViT's
class token and position embedding, say) loads only once Keras knows the class: its module
imported, the class registered (`keras.saving.register_keras_serializable`) or handed over as a
custom object. The operator names that module: `python -m core explain|evaluate|import-model
--custom-objects FILE.py`, or the CATDOG_CUSTOM_OBJECTS setting for the app. A visitor never
supplies code: the page takes model files only.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import json
import re
import zipfile
from pathlib import Path

import keras

from core.config import Config, settings
from core.errors import ModelError, one_line

# The largest config.json read from a .keras file: a model's layer list is far smaller.
MAX_CONFIG_BYTES = 64 * 2**20
OPTION = "--custom-objects FILE.py"
SETTING = "CATDOG_CUSTOM_OBJECTS"


def load_module(path: Path) -> tuple[str, ...]:
    """Import the Python file `path` (once) and make its Keras layer classes known to Keras.

    Classes it registers itself are known already; every other keras.layers.Layer subclass it
    defines is added to Keras' custom objects under its class name. Returns the names of the
    classes it defines. ModelError (one line) for a missing file, one that is not .py, or one
    that raises while imported.
    """
    defined = _import(Path(path).resolve())
    known = keras.saving.get_custom_objects()
    for cls in defined:
        if cls not in known.values():
            known[cls.__name__] = cls
    return tuple(cls.__name__ for cls in defined)


@functools.cache
def _import(path: Path) -> tuple[type, ...]:
    if path.suffix != ".py" or not path.is_file():
        raise ModelError(f"No Python module at {path} to load custom layers from ({OPTION}).")
    name = "catdog_custom_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise ModelError(
            f"The custom-layer module {path.name} failed to import: {one_line(error, 200)}"
        ) from None
    return tuple(
        value
        for value in vars(module).values()
        if inspect.isclass(value)
        and issubclass(value, keras.layers.Layer)
        and value.__module__ == name
    )


def load_operator_module(config: Config | None = None) -> tuple[str, ...]:
    """The module CATDOG_CUSTOM_OBJECTS names, loaded once (`load_module`); () when unset."""
    setting = (config or settings()).custom_objects
    return load_module(Path(setting)) if setting else ()


def refusal(file_name: str, classes: list[str]) -> str:
    """The one sentence for a model file whose `classes` Keras does not know."""
    shown = ", ".join(sorted(classes)[:3])
    return (
        f"{file_name} uses {shown}, not a built-in Keras layer, and safe mode loads no outside "
        "code: rebuild the model from Keras' own layers, or have the operator load the module "
        f"that defines it ({OPTION} on the command line, {SETTING} for the app)."
    )


def saved_classes(path: Path, unknown: bool = False) -> set[str]:
    """Every class named in the model file's saved config (nothing of it is run).

    With `unknown`, only those from outside Keras (a "module" or registered name of their own)
    that Keras does not know now (no module loaded registers them). ModelError for an HDF5 file
    with weights only, or a .keras config over MAX_CONFIG_BYTES.
    """
    text = saved_config(Path(path))
    if not unknown:
        return set(re.findall(r'"class_name":\s*"([^"]+)"', text))
    known = keras.saving.get_custom_objects()
    found = set()
    try:
        config = json.loads(text)
    except ValueError:
        raise ModelError(f"{Path(path).name}'s saved model config is not valid JSON.") from None
    for entry in _entries(config):
        module = str(entry.get("module") or "keras")
        registered = str(entry.get("registered_name") or "")
        outside = not module.startswith("keras") or ">" in registered
        if outside and registered not in known and entry["class_name"] not in known:
            found.add(str(entry["class_name"]))
    return found


def saved_config(path: Path) -> str:
    """The model config saved in a .keras zip (config.json) or a legacy .h5 file, as text;
    ModelError (one sentence) for a file too damaged to read it from."""
    try:
        return _config_text(path)
    except ModelError:
        raise
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, EOFError) as error:
        raise ModelError(
            f"{path.name} is damaged: its saved model config cannot be read "
            f"({one_line(error, 120)})."
        ) from None


def _config_text(path: Path) -> str:
    if path.suffix.lower() == ".keras":
        with zipfile.ZipFile(path) as archive:
            size = archive.getinfo("config.json").file_size
            if size > MAX_CONFIG_BYTES:
                raise ModelError(
                    f"{path.name}'s config.json is {size / 2**20:.0f} MB, over the "
                    f"{MAX_CONFIG_BYTES / 2**20:.0f} MB a model's layer list needs."
                )
            return archive.read("config.json").decode("utf-8", "replace")
    import h5py

    with h5py.File(path, "r") as file:
        text = file.attrs.get("model_config", "")
    if not text:
        raise ModelError(
            f"{path.name} holds weights only, not a whole model: save it with model.save()."
        )
    return text.decode() if isinstance(text, bytes) else str(text)


def _entries(config) -> list[dict]:
    """Every dict with a "class_name" in a saved config, nested ones included."""
    if isinstance(config, list):
        return [entry for item in config for entry in _entries(item)]
    if not isinstance(config, dict):
        return []
    own = [config] if "class_name" in config else []
    return own + [entry for value in config.values() for entry in _entries(value)]
