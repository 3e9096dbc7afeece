"""Models a person brings: checked (facts.py), stored under weights/imported/<name>/ as they came
(a legacy .h5 converted to .keras) beside a sidecar naming their classes and preprocessing, and
explained: loading one (load.load_classifier) builds facts.explained_model.
"""

from __future__ import annotations

import re
from pathlib import Path

import keras

from core.data.classes import DataError, check_class_names
from core.errors import ModelError
from core.models.facts import (
    ModelFacts,
    examined,
    facts_of,
    input_size_of,
    known_backbone,
    preprocessing_question,
)
from core.models.info import IMPORTED, Classifier, ModelInfo, check_output_count, save_classifier
from core.models.preprocessing import PREPROCESSING
from core.models.safe_load import ImportRefused, check_shape, load_source


def _slug(name: str) -> str:
    """A folder name from a person's model name: letters, digits, '-' and '_'."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.casefold()).strip("-_")[:60]
    if not slug:
        raise ImportRefused(f"The name {name!r} has no letter or digit: give the model a name.")
    return slug


def _check_outputs(facts: ModelFacts, classes: tuple[str, ...], name: str) -> None:
    check_output_count(name, facts.outputs, classes, facts.activation, ImportRefused)


def _check_not_preprocessed_twice(model: keras.Model, preprocessing: str, name: str) -> None:
    """ImportRefused when a model this app built (its preprocessing inside) gets more."""
    known = known_backbone(model)
    if preprocessing != "none" and known and known[0] == "catdog":
        raise ImportRefused(
            f"{name} was built by this app and preprocesses 0-255 pixels inside it: its "
            f"preprocessing is 'none', not '{preprocessing}' (that would preprocess twice)."
        )


def import_model(
    source: Path,
    weights_dir: Path,
    classes: list[str],
    preprocessing: str,
    name: str | None = None,
    max_bytes: int | None = None,
) -> Path:
    """Store a person's model as weights_dir/imported/<name>/model.keras + model.json.

    `classes` in output order; `preprocessing` a PREPROCESSING name; `name` defaults to the file's
    stem; `max_bytes` to the config's cap (CATDOG_MAX_MODEL_MB). A legacy .h5 is converted to
    .keras. Returns the model.keras path. Raises ImportRefused (ModelError), one sentence, with
    nothing written: every refusal of `inspect_model`, a reserved or repeated class name, an
    unknown preprocessing, an output count that does not match the classes, a name already taken,
    a preprocessing other than "none" for a model this app built (it preprocesses inside).
    """
    source = Path(source)
    _check_request(weights_dir, classes, preprocessing, name or source.stem)  # before loading
    model = load_source(source, max_bytes)
    return import_loaded(model, source.name, weights_dir, classes, preprocessing, name)[0]


def import_loaded(
    model: keras.Model,
    source_name: str,
    weights_dir: Path,
    classes: list[str],
    preprocessing: str,
    name: str | None = None,
) -> tuple[Path, ModelFacts]:
    """`import_model` for a model already loaded (`load_source`) from the file `source_name`.

    Returns the model.keras path and the model's facts, read while checking it.
    """
    folder, classes = _check_request(
        weights_dir, classes, preprocessing, name or Path(source_name).stem
    )
    facts = facts_of(model, source_name)
    _check_outputs(facts, classes, source_name)
    _check_not_preprocessed_twice(model, preprocessing, source_name)
    known = known_backbone(model)
    info = ModelInfo(
        kind=IMPORTED,
        class_names=classes,
        image_size=max(facts.input_size),
        input_size=facts.input_size,
        backbone=known[0] if known else "unknown",
        backbone_weights=source_name,
        preprocessing=preprocessing,
        extra={
            "source": source_name,
            "activation": facts.activation,
            "size_assumed": facts.size_assumed,
        },
    )
    return save_classifier(model, info, folder / "model.keras"), facts


def _check_request(
    weights_dir: Path, classes: list[str], preprocessing: str, name: str
) -> tuple[Path, tuple[str, ...]]:
    """(the folder to import into, the class names checked); ImportRefused for a bad answer."""
    if preprocessing not in PREPROCESSING:
        raise ImportRefused(
            f"Preprocessing {preprocessing!r} is not one of {', '.join(PREPROCESSING)}."
        )
    try:
        classes = check_class_names([c.strip() for c in classes], "The class list")
    except DataError as error:
        raise ImportRefused(str(error)) from None
    folder = Path(weights_dir) / IMPORTED / _slug(name)
    if folder.exists():
        raise ImportRefused(
            f"An imported model named {folder.name!r} already exists: choose another name."
        )
    return folder, tuple(classes)


def imported_models(weights_dir: Path) -> list[Path]:
    """The model.keras of every imported model under weights_dir/imported/, by folder name."""
    root = Path(weights_dir) / IMPORTED
    if not root.is_dir():
        return []
    return sorted(p / "model.keras" for p in root.iterdir() if (p / "model.keras").is_file())


def explained_classifier(model: keras.Model, info: ModelInfo, name: str) -> Classifier:
    """The Classifier of a loaded imported model (or one given --classes/--preprocessing).

    Its model is `explained_model`'s: 0-255 RGB at the sidecar's input size, logits out. Raises
    ModelError (one sentence) when the model does not fit the sidecar, or when a model this app
    built (its preprocessing inside) is given a preprocessing other than "none".
    """
    check_shape(model, name)
    size = info.size
    takes = tuple(model.input_shape[1:3])
    if any(t is not None and t != s for t, s in zip(takes, size)):
        raise ModelError(
            f"{name} takes {takes[0]} x {takes[1]} photos, but its sidecar says "
            f"{size[0]} x {size[1]}."
        )
    _check_not_preprocessed_twice(model, info.preprocessing, name)
    facts, flat = examined(model, name, info.preprocessing, size)
    _check_outputs(facts, info.class_names, name)
    return Classifier(flat, info)


def info_for(model: keras.Model, classes, preprocessing: str | None, name: str) -> ModelInfo:
    """The ModelInfo of a model given with --classes and --preprocessing and no sidecar.

    ImportRefused (`preprocessing_question`, with the proposal) when --preprocessing is missing.
    """
    if preprocessing is None:
        question = preprocessing_question(model)
        raise ImportRefused(f"{name} has no sidecar, so {question[:1].lower()}{question[1:]}")
    size, assumed = input_size_of(model)
    known = known_backbone(model)
    return ModelInfo(
        kind=IMPORTED,
        class_names=tuple(classes),
        image_size=max(size),
        input_size=size,
        backbone=known[0] if known else "unknown",
        backbone_weights=name,
        preprocessing=preprocessing,
        extra={"size_assumed": assumed},
    )
