"""The numbers the Explain page shows beside its pictures: a map's own, faithfulness, sanity."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.cams import FUSED
from core.explain.explainer import Explanation

# A map's figures as the page labels them. A CAM's map at a layer is kept before ReLU, so its
# minimum may be negative; a fused map and a guided method's magnitude are >= 0 already.
MAP_LABELS = {
    "min": "map min",
    "max": "map max",
    "zero share": "cells ≤ 0",
    "score": "logit explained",
}


def map_figures(explanation: Explanation, layer: str) -> list[tuple[str, str]]:
    """The map's range, the share of cells at or below zero and the logit explained, as (label,
    text); a CAM's map at a layer says it is before ReLU."""
    before_relu = layer != FUSED and explanation.pixels is None
    labels = {**MAP_LABELS, "min": "raw map min (before ReLU)"} if before_relu else MAP_LABELS
    return [
        (labels[label], f"{value:.3g}" if label != "zero share" else f"{value:.0%}")
        for label, value in explanation.figures(layer).items()
    ]


# The sanity check's columns as the page heads them.
SANITY_COLUMNS = {
    "randomised": "randomised up to",
    "spearman": "Spearman",
    "spearman_abs": "Spearman of |map|",
    "ssim": "SSIM",
}


@dataclass(frozen=True)
class Metric:
    """One figure as st.metric shows it: its change against a random map, and that change's colour.

    A deletion AUC lower than the random map's is the good direction: its colour is "inverse".
    """

    label: str
    value: str
    delta: str | None = None
    delta_color: str = "normal"


def faithfulness_metrics(figures: dict) -> list[Metric]:
    """Explainer.faithfulness's figures, each against a random map's where it has one."""
    ours, chance = figures["map"], figures["random"]
    return [
        Metric(
            "Deletion AUC",
            f"{ours['deletion_auc']:.3f}",
            f"{ours['deletion_auc'] - chance['deletion_auc']:+.3f} vs random",
            "inverse",
        ),
        Metric(
            "Insertion AUC",
            f"{ours['insertion_auc']:.3f}",
            f"{ours['insertion_auc'] - chance['insertion_auc']:+.3f} vs random",
        ),
        Metric("Average drop", f"{ours['average_drop']:.1f} %"),
        Metric("Confidence increases", "yes" if ours["increase"] else "no"),
    ]


def faithfulness_curves(figures: dict) -> pd.DataFrame:
    """Deletion and insertion curves of the map and of a random map, by fraction of pixels."""
    ours, chance = figures["map"], figures["random"]
    return pd.DataFrame(
        {
            "deletion (map)": ours["deletion"],
            "deletion (random)": chance["deletion"],
            "insertion (map)": ours["insertion"],
            "insertion (random)": chance["insertion"],
        },
        index=pd.Index(ours["fractions"], name="fraction of pixels"),
    )


def sanity_table(steps: list[dict]) -> pd.DataFrame:
    """The sanity check's steps as a table; a figure that could not be computed says so."""
    table = pd.DataFrame(steps).drop(columns="class_index").rename(columns=SANITY_COLUMNS)
    return table.astype(object).fillna("cannot be computed")


def top_classes(explanation: Explanation, k: int = 5) -> pd.DataFrame:
    """The `k` most probable classes (both of two), most probable first, as the bar chart's rows.

    Columns: "class" and "probability (%)".
    """
    top = explanation.top(k)
    return pd.DataFrame(
        {"class": [name for name, _ in top], "probability (%)": [100 * p for _, p in top]}
    )
