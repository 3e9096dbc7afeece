"""The models a person may choose between, each with the facts that tell them apart.

    weights/runs/<stamp>/model.keras     a trained run that holds a model (newest first)
    weights/model.keras                  a model copied in by hand
    weights/imported/<name>/model.keras  a model a person brought (core/imported.py)
    zero-shot ImageNet                   always offered; built from Keras' ImageNet weights

Read from the folders and the sidecars only (no model is loaded here). A label and the facts never
name a server path: a run by its date and its dataset's name below the data roots, an imported
model by its folder's name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from core.config import Config, settings
from core.data.choices import label as choice_label
from core.errors import ModelError
from core.models.build import imagenet_weights_available
from core.models.imported import imported_models
from core.models.info import IMPORTED, ModelInfo, read_sidecar
from core.models.load import app_model_path

RUNS = "runs"  # weights/runs/<stamp>/: one folder per training run (core/training/store.py)
ZERO_SHOT = "zero-shot"  # the zero-shot entry's key (the others are paths below weights/)
SHOWN_CLASSES = 3  # class names a fact line spells out before "…"
SHA_PREFIX = 12  # hex digits of the SHA-256 a fact line shows



@dataclass(frozen=True)
class ModelEntry:
    """One model to choose: a stable key, what a person reads, and where it is loaded from."""

    key: str  # "runs/<stamp>", "model.keras", "imported/<name>" or ZERO_SHOT
    label: str  # e.g. "Run 2026-11-25 18:01 · pets (current)"
    path: Path | None  # the .keras file; None for zero-shot, which is built
    info: ModelInfo | None  # its sidecar; None when it cannot be read (loading then says why)
    current: bool = False  # the app's model (load.app_model_path): the default
    unavailable: str | None = None  # why it cannot be loaded here (zero-shot offline), or None

    @property
    def digest(self) -> str | None:
        """ "SHA-256 1a2b3c4d5e6f": the model file's digest prefix, as results name their model."""
        sha = self.info.sha256 if self.info else None
        return f"SHA-256 {sha[:SHA_PREFIX]}" if sha else None

    @property
    def named(self) -> str:
        """The model as a result names it: its label, and its digest where it has one."""
        return f"{self.label} ({self.digest})" if self.digest else self.label

    @property
    def facts(self) -> str:
        """One line: kind, classes, input size, preprocessing, accuracy, SHA-256 prefix."""
        info = self.info
        if info is None:
            return "Its sidecar (model.json) cannot be read: loading it says why."
        names = ", ".join(info.class_names[:SHOWN_CLASSES])
        more = ", …" if len(info.class_names) > SHOWN_CLASSES else ""
        height, width = info.size
        # Zero-shot ResNet-50 preprocesses inside (CaffePreprocess): "none" is done before it.
        inside = " (caffe inside)" if self.key == ZERO_SHOT else ""
        parts = [
            info.kind,
            f"{len(info.class_names):,} classes ({names}{more})",
            f"input {height}×{width}",
            f"preprocessing {info.preprocessing}{inside}",
        ]
        if info.val_accuracy is not None:
            parts.append(f"validation accuracy {info.val_accuracy:.1%}")
        if self.key == ZERO_SHOT:
            parts.append("ImageNet weights from Keras")
        elif info.sha256:
            parts.append(self.digest)
        return " · ".join(parts)


def models(config: Config | None = None) -> list[ModelEntry]:
    """Every model to choose: the runs (newest first), the one copied in, imported ones, zero-shot.

    Exactly one is `current`: the app's model, else zero-shot (the app's fallback).
    """
    config = config or settings()
    weights = Path(config.weights_dir)
    in_use = app_model_path(config).resolve()
    found = [(run / config.model_file, f"runs/{run.name}") for run in previous_runs(weights)]
    if (weights / config.model_file).is_file():
        found.append((weights / config.model_file, config.model_file))
    found += [(path, f"{IMPORTED}/{path.parent.name}") for path in imported_models(weights)]
    entries = [_entry(path, key, path.resolve() == in_use, config) for path, key in found]
    fallback = not any(entry.current for entry in entries)
    return [*entries, zero_shot_entry(config, current=fallback)]


def current(entries: list[ModelEntry]) -> ModelEntry:
    """The entry marked current (`models` marks exactly one)."""
    return next(entry for entry in entries if entry.current)


def second_choice(entries: list[ModelEntry], first: ModelEntry) -> ModelEntry:
    """What to set beside `first`: the run before it (the newest run if `first` is not a run),
    else any other model on disk, else zero-shot (unless its weights are missing), else `first`
    itself (nothing else to compare with)."""
    runs = [entry for entry in entries if entry.key.startswith("runs/")]
    older = runs[runs.index(first) + 1 :] if first in runs else runs
    on_disk = [entry for entry in entries if entry.path is not None and entry not in runs]
    zero_shot = (entry for entry in entries if entry.key == ZERO_SHOT and not entry.unavailable)
    others = [*older, *on_disk, *zero_shot]
    return next((entry for entry in others if entry != first), first)


def zero_shot_entry(config: Config, current: bool = False) -> ModelEntry:
    """ResNet-50's ImageNet classifier, cats and dogs folded: built, never read from weights/.

    Without ImageNet's weights here (offline, nothing cached), it is offered as unavailable, with
    the reason, and never tried: a download would fail, or wait for a network that is not there.
    """
    info = ModelInfo(kind=ZERO_SHOT, image_size=config.image_size, preprocessing="none")
    unavailable = zero_shot_unavailable(config)
    label = "Zero-shot ImageNet (ResNet-50)" + (" · unavailable offline" if unavailable else "")
    label += " (current)" if current else ""
    return ModelEntry(ZERO_SHOT, label, None, info, current, unavailable)


def zero_shot_unavailable(config: Config) -> str | None:
    """Why zero-shot ImageNet cannot be built here without a download, or None when it can.

    Its with-top weights file is the one CATDOG_IMAGENET_WEIGHTS names, else Keras' cached copy
    (build.imagenet_weights_available); nothing is downloaded to find out.
    """
    if imagenet_weights_available(include_top=True, config=config):
        return None
    if config.imagenet_weights:
        return (
            "Zero-shot ImageNet is unavailable: its weights file "
            f"{config.imagenet_weights} does not exist."
        )
    return (
        "Zero-shot ImageNet is unavailable: ResNet-50's ImageNet weights are not in Keras' cache, "
        "and this app does not download them on a page. Connect once and run `python -m core "
        "explain` on a photo, or point CATDOG_IMAGENET_WEIGHTS at a copy of the with-top file."
    )


def _entry(path: Path, key: str, current: bool, config: Config) -> ModelEntry:
    info = read_info(path)
    if key.startswith("runs/"):
        label = run_name(path.parent.name) + _dataset(info, config)
    elif key.startswith(f"{IMPORTED}/"):
        label = f"Imported: {path.parent.name}"
    else:
        label = f"Copied in by hand: {config.model_file}" + _dataset(info, config)
    return ModelEntry(key, label + (" (current)" if current else ""), path, info, current)


def read_info(path: Path) -> ModelInfo | None:
    """The sidecar beside `path` as a ModelInfo; None when it is missing or not a sidecar."""
    try:
        return read_sidecar(Path(path))
    except ModelError:
        return None


def run_name(stamp: str) -> str:
    """A run as every page names it: "Run 2026-11-25 18:01", when it started (its folder's stamp,
    20261125-180102, core/training/store.py), the same while it runs and once it has finished."""
    try:
        return "Run " + time.strftime("%Y-%m-%d %H:%M", time.strptime(stamp[:15], "%Y%m%d-%H%M%S"))
    except ValueError:
        return f"Run {stamp}"


def _dataset(info: ModelInfo | None, config: Config) -> str:
    """The dataset as " · data/pets": named below its data root, never by its server path."""
    if not (info and info.trained_on):
        return ""
    path = Path(info.trained_on)
    return f" · {choice_label(path.resolve(), config.data_roots) if path.is_absolute() else path}"


def run_folders(weights_dir: Path) -> list[Path]:
    """Every run folder in weights/runs/, newest first; links and hidden folders left out."""
    runs = Path(weights_dir) / RUNS
    if not runs.is_dir():
        return []
    found = (p for p in runs.iterdir() if p.is_dir() and not p.is_symlink())
    return sorted((p for p in found if not p.name.startswith(".")), reverse=True)


def previous_runs(weights_dir: Path) -> list[Path]:
    """Finished runs (those holding a model), newest first."""
    return [p for p in run_folders(weights_dir) if (p / "model.keras").is_file()]


def model_key(path: Path) -> str:
    """Identity of a model file: its path, the modification times of it and its sidecar, and the
    SHA-256 its sidecar records.

    Any of them changing gives a new key, so a replaced model is loaded again (even one copied
    over with its old modification time kept).
    """
    path = Path(path)
    stamps = [
        str(p.stat().st_mtime_ns) if p.exists() else "absent"
        for p in (path, path.with_suffix(".json"))
    ]
    info = read_info(path) if path.exists() else None
    return f"{path}:{':'.join(stamps)}:{(info and info.sha256) or 'no-sha'}"
