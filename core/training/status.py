"""What the Training page shows of a run, as text, tables and pictures, without Streamlit.

Its caption, its progress line, its curves, its confusion heatmap, per-class accuracy and most
confused pairs, and the Grad-CAM overlays of its mistakes and of the photos it watched.
`jobs.latest_run` gives the run's progress as a TrainingProgress; these functions turn it into
text, tables and RGB arrays, and the page draws them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from core.cams import normalize
from core.config import Config, settings
from core.data.choices import label
from core.explain.overlay import overlay
from core.images import load_image, shrink
from core.models.build import imagenet_weights_available
from core.training.report import MOST_CONFUSED, most_confused, per_class_accuracy
from core.workers.records import TrainingProgress

# The four figures the page shows for the latest epoch, in its order.
FIGURES = ("accuracy", "val_accuracy", "loss", "val_loss")
# Classes up to which the confusion heatmap writes each cell's count (beyond, colour alone).
COUNTS_IN_CELLS = 12


def caption(status: TrainingProgress, roots: tuple[Path, ...]) -> str | None:
    """The run's data and backbone in one line; None before the data is scanned.

    Named as a visitor may read them: the dataset below its data root, weights by file name.
    """
    if not status.summary:
        return None
    weights = Path(status.config.get("backbone_weights", "?")).name
    data = label(Path(status.data or "?"), roots)
    return f"{status.summary} · backbone weights: {weights} · data: {data}"


@dataclass(frozen=True)
class Notice:
    """A sentence the Training page shows, and how: a run's outcome, a click's result."""

    # The Streamlit call that shows it: "success", "info", "warning" or "error".
    kind: str
    text: str


def outcome(status: TrainingProgress, explain_follows: bool = True) -> Notice:
    """How a run that is not running ended: a success, an error or an info.

    `explain_follows`: whether this person's Explain page follows the newest model (they never
    picked another there), so that what the sentence says of it is true for them.
    """
    state = status.state
    if state == "done" and status.published is False:  # kept beside the current model
        return Notice("info", status.message)
    if state == "done":
        page = (
            " The Explain page now uses this model."
            if explain_follows
            else " The Explain page keeps the model you chose there: pick this run in its Model "
            "list to explain with it."
        )
        return Notice("success", status.message + page)
    if state in ("failed", "killed"):
        return Notice("error", status.message or "The run failed.")
    return Notice("info", status.message or state)


def backbones(config: Config, weights_files: list[Path]) -> list[str]:
    """The backbone weights a run may start from, as the page offers them.

    ImageNet's, none (random), the files found, and the operator's own file; a visitor sees the
    files by their names only.
    """
    offered = ["imagenet", "none", *map(str, weights_files)]
    if config.backbone_weights and config.backbone_weights not in offered:
        offered.append(config.backbone_weights)
    return offered


# Said under the backbone choice when it starts random: what such a run gives.
RANDOM_BACKBONE = (
    "A random backbone ('none') trains offline, but expect little: its accuracy stays far below "
    "a pretrained one's, and its maps mean little."
)
IMAGENET_MISSING = "ImageNet's weights are not on this machine and cannot be downloaded here."


def default_backbone(config: Config) -> str:
    """The backbone the form opens on: the operator's file, else ImageNet's when its weights are
    here (Keras' cache, nothing downloaded), else 'none', the one that works offline."""
    if config.backbone_weights:
        return config.backbone_weights
    return "imagenet" if imagenet_weights_available(include_top=False, config=config) else "none"


def progress_text(status: TrainingProgress) -> str:
    """A running run's progress line: the phase, its photos or epochs, and the time left."""
    if status.phase == "features":
        # One forward pass per photo, training then validation.
        text = f"features · {status.step:,}/{status.steps:,} photos"
    else:
        phase = status.phase or "starting"
        text = f"{phase} · epoch {status.epoch}/{status.epochs}"
    eta = status.eta_seconds
    return text + (f" · ETA {int(eta // 60)}m {int(eta % 60):02d}s" if eta else "")


def curves(status: TrainingProgress) -> pd.DataFrame | None:
    """Both phases end to end, one row per epoch; None before the first epoch.

    The seed article's accuracy and loss plots are drawn from it.
    """
    history = {phase: figures for phase, figures in status.history.items() if figures}
    rows = [
        {"phase": phase, **{key: values[i] for key, values in figures.items()}}
        for phase, figures in history.items()
        for i in range(len(next(iter(figures.values()), [])))
    ]
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="epoch")
    return frame


def latest_figures(frame: pd.DataFrame) -> dict[str, str]:
    """The last epoch's figures, labelled with its number: {"val_loss (epoch 4)": "0.123"}."""
    last = frame.iloc[-1]
    return {f"{key} (epoch {len(frame)})": f"{last[key]:.3f}" for key in FIGURES if key in last}


def confusion_figure(report: dict) -> Figure:
    """The K x K validation confusion matrix as a heatmap, rows true, columns predicted.

    A cell's colour is its share of the true class's photos, so a few mistakes of a small class
    still show. Readable at 37 classes: the figure grows with K, its class names are small and the
    columns' turned; the counts are written in the cells up to COUNTS_IN_CELLS classes.
    """
    names, counts = report["class_names"], np.asarray(report["confusion"])
    k = len(names)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    font = 8 if k <= COUNTS_IN_CELLS else 6
    side = max(3.5, 0.2 * k + 2.5)  # inches: about 0.2 per class, plus room for the names
    figure = Figure(figsize=(side, side), dpi=100, layout="constrained")
    axes = figure.add_subplot()
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(k), names, rotation=90 if k > 4 else 0, fontsize=font)
    axes.set_yticks(range(k), names, fontsize=font)
    axes.set_xlabel("predicted", fontsize=font + 1)
    axes.set_ylabel("true", fontsize=font + 1)
    if k <= COUNTS_IN_CELLS:
        for (true, predicted), n in np.ndenumerate(counts):
            colour = "white" if shares[true, predicted] > 0.5 else "black"
            axes.text(
                predicted, true, str(n), ha="center", va="center", fontsize=font, color=colour
            )
    return figure


def confusion_picture(report: dict) -> np.ndarray:
    """`confusion_figure` drawn as an (H, W, 3) uint8 RGB array."""
    canvas = FigureCanvasAgg(confusion_figure(report))
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def per_class(report: dict) -> pd.DataFrame:
    """One row per class: its validation photos, those predicted right, and the share."""
    counts = np.asarray(report["confusion"])
    return pd.DataFrame(
        {
            "validation photos": counts.sum(axis=1),
            "right": np.diag(counts),
            "accuracy": per_class_accuracy(counts),
        },
        index=pd.Index(report["class_names"], name="class"),
    )


def confused_pairs(report: dict, limit: int = MOST_CONFUSED) -> list[str]:
    """The most-confused pairs as "true -> predicted: n", most first; empty when none are."""
    names = report["class_names"]
    return [
        f"{names[cell['true']]} -> {names[cell['predicted']]}: {cell['count']}"
        for cell in most_confused(report["confusion"], limit)
    ]


def watched_photo(path: str, config: Config | None = None) -> np.ndarray:
    """A watched photo at thumbnail size, ready for its maps epoch after epoch."""
    return shrink(load_image(path), (config or settings()).thumbnail_side)


def watch_overlay(
    photo: np.ndarray, raw_map: np.ndarray, config: Config | None = None
) -> np.ndarray:
    """One epoch's raw map of a watched photo (watch.py), ReLU'd, scaled and laid over it."""
    return overlay(photo, normalize(raw_map), (config or settings()).alpha)
