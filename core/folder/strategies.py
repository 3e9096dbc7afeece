"""A folder's strategies (core/explain/strategies.py) from a Folder run's kept maps, with no model
pass; or, for photos with no run, from one pass per photo (the command line's way).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.data.layouts import true_class
from core.explain.localization import annotations_for
from core.explain.strategies import Strategy, on_the_pet, strategies
from core.folder.jobs import FolderJob
from core.folder.table import raw_maps, read_table
from core.images import ImageError, photo_for_model, to_model_input

THUMB = 64  # px: the small copies a strategy's mean photo and typical photos are made of


@dataclass(frozen=True)
class Found:
    """A folder's strategies, the photos they index (paths within the folder) and their copies."""

    strategies: list[Strategy]
    photos: list[str]  # the photos clustered, in the order `Strategy.members` index
    thumbs: np.ndarray  # (N, THUMB, THUMB, 3) uint8 squashed copies
    confidence: np.ndarray  # (N,) each photo's predicted class's probability

    def before(self, strategy: Strategy) -> np.ndarray:
        """The members' confidence in their class, as `check` takes it (no pass again)."""
        return self.confidence[list(strategy.members)]

    def mean_photo(self, strategy: Strategy) -> np.ndarray:
        """(THUMB, THUMB, 3) uint8: the strategy's members averaged."""
        return self.thumbs[list(strategy.members)].mean(axis=0).astype(np.uint8)


def from_run(
    folder: Path, job: FolderJob, layer: str | None = None, roots: tuple[Path, ...] | None = None
) -> Found:
    """The strategies of a Folder run's photos from its kept maps at `layer` (default: the first
    kept, the model's default layer). No model is loaded; each photo is decoded once for its copy
    (and its trimap, when Oxford-IIIT Pet's annotations lie beside the folder, within `roots` when
    given: `annotations_near`). ValueError when the run kept no map at `layer`."""
    table, names = read_table(folder, job)
    maps, kept = [], []
    for index, row in table.iterrows():
        found = raw_maps(folder, row["batch"], int(row["row"]))
        chosen = layer or next(iter(found), None)
        if chosen not in found:
            raise ValueError(f"The run kept no map at layer {chosen!r}; it kept {list(found)}.")
        maps.append(found[chosen])
        kept.append(index)
    if not kept:
        return Found([], [], np.zeros((0, THUMB, THUMB, 3), np.uint8), np.zeros(0))
    rows, annotations = table.loc[kept], annotations_near(Path(job.folder), roots)
    thumbs, on_pet = [], []
    for photo, heatmap in zip(rows["photo"], maps):
        path = Path(job.folder) / photo
        try:
            pixels = photo_for_model(path)
        except ImageError:
            thumbs.append(np.zeros((THUMB, THUMB, 3), np.uint8))
            on_pet.append(None)
            continue
        thumbs.append(to_model_input([pixels], THUMB)[0].astype(np.uint8))
        on_pet.append(_on_pet(heatmap, path, pixels, annotations))
    truth = [t if isinstance(t, str) else None for t in rows["true"]]
    thumbs = np.stack(thumbs)
    found_ = strategies(np.stack(maps), list(rows["predicted"]), truth, thumbs, on_pet)
    return Found(found_, list(rows["photo"]), thumbs, rows["confidence"].to_numpy(float))


def annotations_near(folder: Path, roots: tuple[Path, ...] | None = None) -> Path | None:
    """Oxford-IIIT Pet's annotations for a folder of its photos: DEST/annotations beside
    DEST/validation as `python -m core download-data` and the Training page lay them out, or
    inside the folder; None when neither holds trimaps/, or (with `roots`, the page's data roots)
    when it lies outside them."""
    for candidate in (folder / "annotations", folder.parent / "annotations"):
        inside = roots is None or any(
            candidate.resolve().is_relative_to(Path(root).resolve()) for root in roots
        )
        if inside and (candidate / "trimaps").is_dir():
            return candidate
    return None


def from_photos(
    explainer,
    root: Path,
    photos: list[str],
    layer: str,
    batch: int = 16,
    annotations: Path | None = None,
) -> Found:
    """The strategies of `photos` (paths below `root`) explained at `layer`, one pass per photo,
    for the predicted class; true classes from their folders or names. Unreadable photos are left
    out. `annotations`: a folder with Oxford-IIIT Pet's trimaps/<stem>.png, so that a cluster off
    the pet is flagged (each mask is read, used and dropped: only whether the map peaks on the pet
    is kept)."""
    names = list(explainer.class_names)
    maps, predicted, truth, thumbs, kept, confidence, on_pet = [], [], [], [], [], [], []
    for start in range(0, len(photos), batch):
        loaded = []
        for photo in photos[start : start + batch]:
            try:
                loaded.append((photo, photo_for_model(Path(root) / photo)))
            except ImageError:
                continue
        if not loaded:
            continue
        for (photo, pixels), explanation in zip(
            loaded, explainer.explain([p for _, p in loaded], "predicted")
        ):
            maps.append(explanation.raw_maps[layer])
            predicted.append(explanation.label)
            confidence.append(explanation.probabilities[explanation.label])
            truth.append(true_class(photo, names))
            thumbs.append(to_model_input([pixels], THUMB)[0].astype(np.uint8))
            kept.append(photo)
            on_pet.append(_on_pet(explanation.raw_maps[layer], root / photo, pixels, annotations))
    if not kept:
        return Found([], [], np.zeros((0, THUMB, THUMB, 3), np.uint8), np.zeros(0))
    thumbs = np.stack(thumbs)
    found = strategies(np.stack(maps), predicted, truth, thumbs, on_pet)
    return Found(found, kept, thumbs, np.array(confidence))


def _on_pet(heatmap, path: Path, pixels: np.ndarray, annotations: Path | None) -> bool | None:
    """Does the map peak on the photo's pet? None without a trimap of the photo's size."""
    if annotations is None:
        return None
    return on_the_pet(heatmap, annotations_for(path, annotations, *pixels.shape[:2]).get("pet"))
