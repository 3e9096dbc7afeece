"""A folder run's results as a table: filters, sorting by confidence, accuracy and confusion.

One row per photo explained: photo (its path in the folder), true (its class folder's class, or
None), predicted, confidence (the predicted class's probability), right (None without a true
class), and where its maps are (batch, row).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.layouts import true_class
from core.folder.jobs import FolderJob, batches

VERDICTS = ("all", "right", "wrong")
COLUMNS = ["photo", "true", "predicted", "confidence", "right"]


def read_table(folder: Path, job: FolderJob) -> tuple[pd.DataFrame, list[str]]:
    """The rows explained so far, in the photos' order, and the model's class names.

    Only each batch's indices and probabilities are read; the maps stay on disk.
    """
    rows, names = [], []
    for path in batches(folder):
        with np.load(path) as batch:
            names = batch["class_names"].tolist()
            for row, (index, chances) in enumerate(zip(batch["index"], batch["probabilities"])):
                best = int(np.argmax(chances))
                rows.append((int(index), names[best], float(chances[best]), path.name, row))
    frame = pd.DataFrame(rows, columns=["index", "predicted", "confidence", "batch", "row"])
    frame.insert(0, "photo", [job.photos[i] for i in frame["index"]])
    frame.insert(1, "true", [true_class(photo, names) for photo in frame["photo"]])
    known = frame["true"].notna()
    frame["right"] = (frame["true"] == frame["predicted"]).where(known, None)
    return frame.sort_values("index").set_index("index"), names


@dataclass(frozen=True)
class Filters:
    """What the table and the gallery show, and in which order."""

    verdict: str = "all"  # one of VERDICTS; right and wrong keep only photos with a true class
    classes: tuple[str, ...] = ()  # photos whose true or predicted class is one of these; (): all
    band: tuple[float, float] = (0.0, 1.0)  # confidence from, to (inclusive), as probabilities
    least_sure_first: bool = False  # sorted by confidence, the most sure first unless this


def filtered(table: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The rows `filters` keeps, sorted by confidence (ties: the photos' order)."""
    keep = table["confidence"].between(*filters.band)
    if filters.verdict != "all":
        keep &= table["right"] == (filters.verdict == "right")
    if filters.classes:
        keep &= table["true"].isin(filters.classes) | table["predicted"].isin(filters.classes)
    kept = table[keep].reset_index()
    order = kept.sort_values(
        ["confidence", "index"], ascending=[filters.least_sure_first, True], kind="stable"
    )
    return order.set_index("index")


def confusion(table: pd.DataFrame, class_names: list[str]) -> np.ndarray | None:
    """The K x K counts of photos with a true class (rows true, columns predicted), or None."""
    known = table[table["true"].notna()]
    if known.empty:
        return None
    counts = np.zeros((len(class_names), len(class_names)), dtype=int)
    truth = known["true"].map(class_names.index).to_numpy(int)
    predicted = known["predicted"].map(class_names.index).to_numpy(int)
    np.add.at(counts, (truth, predicted), 1)
    return counts


def accuracy(table: pd.DataFrame) -> float | None:
    """The share right among photos with a true class; None when no photo has one."""
    known = table["right"].dropna()
    return float(known.astype(bool).mean()) if len(known) else None


def raw_maps(folder: Path, batch: str, row: int) -> dict[str, np.ndarray]:
    """One photo's raw maps, layer -> (h, w) float32 signed map before ReLU (FUSED: >= 0)."""
    with np.load(Path(folder) / batch) as found:
        return {
            key.removeprefix("map:"): found[key][row] for key in found.files if key[:4] == "map:"
        }
