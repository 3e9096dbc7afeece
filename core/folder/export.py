"""What a folder run shows and hands out: overlays drawn on demand, and the ZIP of its results.

The ZIP is built when a person asks for it (on the page, under a bar with Cancel, into a file
beside the job's results, which the download reads): overlays/ (PNG at display size, the chosen
layer), maps/ (every layer's raw map as .npy), table.csv and manifest.json. It never names a
server path: the folder by its label below its data root.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePath

import numpy as np
import pandas as pd

from core.cams import normalize
from core.data.shards import output_places
from core.explain.caveats import model_caveats
from core.folder.jobs import FolderJob
from core.folder.table import COLUMNS, raw_maps
from core.images import encode_png, load_image, photo_for_model, shrink
from core.models.catalog import ModelEntry


def overlay(
    photo: Path, raw_map: np.ndarray, max_side: int, alpha: float, colormap: str = "jet"
) -> np.ndarray:
    """The map (ReLU'd, scaled to [0, 1]) on the photo at `max_side`: (H, W, 3) uint8 RGB.

    Raises ImageError when the photo can no longer be read.
    """
    from core.explain.overlay import blend, colorize

    picture = load_image(photo, max_side=max_side)
    colored = colorize(normalize(raw_map), *picture.shape[:2], colormap)
    return blend(picture, colored, alpha)


def every_layer(
    explainer, job: FolderJob, photo: str, max_side: int, alpha: float
) -> list[tuple[str, np.ndarray]]:
    """One photo explained now at every layer the explainer offers (and fused), as (layer,
    overlay at `max_side`) pairs: the page's photo opened in full. ImageError if unreadable."""
    from core.explain.display import colored_map
    from core.explain.overlay import blend

    prepared = photo_for_model(Path(job.folder) / photo)
    explanation = explainer.explain([prepared], job.target, job.method)[0]
    picture = shrink(prepared, max_side)
    return [
        (layer, blend(picture, colored_map(explanation, layer, *picture.shape[:2]), alpha))
        for layer in explanation.raw_maps
    ]


def export_zip(
    folder: Path,
    job: FolderJob,
    rows: pd.DataFrame,
    layer: str,
    look: dict,
    about: dict,
    into: Path | None = None,
    progress: Callable[[], None] | None = None,
) -> bytes | None:
    """A ZIP of `rows` (read_table's, filtered): overlays at `layer`, raw maps, CSV, manifest;
    its bytes, or None when written `into` a file.

    `look` is how overlays are drawn: max_side (pixels), alpha, colormap. `about` goes into the
    manifest as it is (the model, the folder's label, the figures). `progress()` hears each photo
    done. The overlays are PNGs, stored as they are (compressing them again gains nothing).
    """
    buffer = io.BytesIO() if into is None else into
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        places = output_places([PurePath(photo) for photo in rows["photo"]])
        for place, (_, row) in zip(places, rows.iterrows()):
            stem = place.as_posix()  # x.jpg beside x.png keep their extensions
            maps = raw_maps(folder, row["batch"], row["row"])
            picture = overlay(Path(job.folder) / row["photo"], maps[layer], **look)
            archive.writestr(f"overlays/{stem}.png", encode_png(picture), zipfile.ZIP_STORED)
            for name, raw in maps.items():
                saved = io.BytesIO()
                np.save(saved, raw)
                archive.writestr(f"maps/{stem}/{name}.npy", saved.getvalue())
            if progress:
                progress()
        archive.writestr("table.csv", rows[COLUMNS].to_csv(index=False))
        record = {
            **about,
            "method": job.method,
            "target": job.target,
            "overlay_layer": layer,
            "look": look,
            "photos": len(rows),
            "made_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        archive.writestr("manifest.json", json.dumps(record, indent=2))
    return buffer.getvalue() if into is None else None


def model_record(entry: ModelEntry) -> dict:
    """The model as a manifest names it: its picker label, key, kind and SHA-256, and when its
    maps mean little (caveats.model_caveats); no path."""
    info = entry.info
    return {
        "name": entry.label,
        "key": entry.key,
        "kind": info.kind if info else None,
        "sha256": info.sha256 if info else None,
        "class_names": list(info.class_names) if info else None,
        "caveats": model_caveats(info) if info else [],
    }
