"""`evaluate`'s numbers: each photo's figures per method and layer, and their table of means.

One photo is explained once per method at every layer asked for (fused included: no extra model
call), then each layer's map is scored (Guided Backprop's, which no layer changes, once, at layer
"–"): the pointing game and its energy form against the photo's
masks (`localization`), deletion and insertion AUC beside a random map (`faithfulness`). The
figures of each photo are kept apart, so shards of a job (`core.data.shards`) merge into the table
one run would print; its maps are not kept (`method_rows`).
"""

from __future__ import annotations

import numpy as np

from core.explain.compare import cell_layers
from core.explain.explainer import NO_LAYER, Explainer
from core.explain.localization import TOLERANCE, centre_prior, localization

# Table column -> (which map: the explained one or the random baseline, figure of faithfulness).
FAITHFULNESS = {
    "deletion AUC": ("map", "deletion_auc"),
    "random deletion AUC": ("random", "deletion_auc"),
    "insertion AUC": ("map", "insertion_auc"),
    "random insertion AUC": ("random", "insertion_auc"),
    "avg drop %": ("map", "average_drop"),
    "increase": ("map", "increase"),
}
CENTRE_PRIOR = "centre prior"  # the baseline row: a Gaussian bump at the photo's centre


def method_rows(
    explainer: Explainer,
    photo: np.ndarray,
    masks: dict[str, np.ndarray] | None,
    method: str,
    layers: dict[str, str],
    target: str,
    steps: int,
) -> list[tuple[str, str, dict]]:
    """One photo's (method, layer, figures) rows for one method, a row per layer shown.

    `photo` is (H, W, 3) uint8; `masks` name -> (H, W) bool (None: no annotations asked for);
    `layers` maps each layer as shown to its key in the explanation's maps (`layer:fused`, a
    model's own layer of that name, to "fused"). `steps` = 0 leaves deletion/insertion out. A
    method the layer does not change (Guided Backprop) is scored once, at NO_LAYER. The maps are
    dropped on return: only the figures (a few floats per row) are kept.
    """
    rows = []
    first = next(iter(layers.values()))
    explanation = explainer.explain([photo], target, method)[0]
    for shown in cell_layers(method, list(layers)):
        key = first if shown == NO_LAYER else layers[shown]
        figures = localization(explanation.heatmap(key), masks or {})
        if steps:
            both = explainer.faithfulness(photo, explanation, key, steps)
            figures |= {name: both[which][f] for name, (which, f) in FAITHFULNESS.items()}
        rows.append((method, shown, figures))
    return rows


def centre_prior_row(photo: np.ndarray, masks: dict[str, np.ndarray]) -> tuple[str, str, dict]:
    """The baseline row of a photo with masks, after its methods' rows: the centre prior's."""
    return CENTRE_PRIOR, NO_LAYER, localization(centre_prior(*photo.shape[:2]), masks)


def summary(photos: list[dict], data: str, layers: list[str], target: str) -> str:
    """The header line and the table of means, from each photo's {"masks": n, "rows": [...]}.

    With one layer the table has a row per method, with several a row per method and layer. A
    photo that could not be read ({"error": ...}) is counted apart.
    """
    unreadable = sum("error" in photo for photo in photos)
    photos = [photo for photo in photos if "error" not in photo]
    annotated = sum(bool(photo["masks"]) for photo in photos)
    named = f"layer {layers[0]}" if len(layers) == 1 else f"layers {', '.join(layers)}"
    left_out = f", {unreadable} unreadable left out" if unreadable else ""
    header = (
        f"{len(photos)} photos from {data} ({annotated} with a mask{left_out}), {named}, target "
        f"{target}; lower deletion and higher insertion AUC = more faithful; pointing = the "
        f"hottest point on the object (within {TOLERANCE} px), energy = the map's share on it"
    )
    rows: dict[tuple[str, str], list[dict]] = {}
    for photo in photos:
        for method, layer, figures in photo["rows"]:
            rows.setdefault((method, layer), []).append(figures)
    return header + "\n" + table(rows, layered=len(layers) > 1)


def table(rows: dict[tuple[str, str], list[dict]], layered: bool) -> str:
    """A Markdown table of each (method, layer) row's mean figures, over the photos with them.

    The layer column is there only when `layered`.
    """
    columns = list(
        dict.fromkeys(key for figures in rows.values() for each in figures for key in each)
    )
    names = ["method", "layer"] if layered else ["method"]
    lines = [
        "| " + " | ".join([*names, *columns]) + " |",
        "|" + "---|" * (len(columns) + len(names)),
    ]
    for (method, layer), figures in rows.items():
        means = []
        for column in columns:
            values = [each[column] for each in figures if each.get(column) is not None]
            means.append(f"{np.mean(values):.3f}" if values else "–")
        lines.append("| " + " | ".join([method, layer][: len(names)] + means) + " |")
    return "\n".join(lines)
