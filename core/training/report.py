"""The validation report of a run (and its test split's, never trained on): accuracy, the K x K
confusion, per-class accuracy, the pairs most often confused, the misclassified photos.

`report` makes progress.json's "report"; core/training/status.py draws it for the page.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from core.cams.base import predicted_class
from core.data.classes import label_names
from core.data.folders import DataFolders, Split
from core.data.leakage import MAX_PAIRS
from core.models.info import probabilities
from core.training.recipe import TOP5_FROM

# Off-diagonal cells of the confusion matrix the report lists: the pairs most often confused.
MOST_CONFUSED = 5


def report(logits: np.ndarray, split: Split, class_names: tuple[str, ...]) -> dict:
    """The figures of K classes on one split (validation, test), from (N,) or (N, K) logits.

    Keys: accuracy; top5_accuracy (K >= 10 only); confusion (K x K, rows the true class, columns
    the predicted one); per_class_accuracy (K, None for a class without validation photos);
    most_confused ({"true", "predicted", "count"} off the diagonal, most first); misclassified
    ({"path", "true", "predicted", "confidence"}: the probability of the predicted class);
    class_names. Classes are indices into class_names.
    """
    k, truth = len(class_names), np.asarray(split.labels, dtype=int)
    logits = np.asarray(logits, dtype=np.float64).reshape(len(truth), -1)
    predicted = predicted_class(tf.constant(logits)).numpy()  # the rule the maps explain
    confidence = probabilities(logits).numpy()[np.arange(len(truth)), predicted]
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (truth, predicted), 1)
    wrong = [
        {"path": path, "true": int(t), "predicted": int(p), "confidence": float(c)}
        for path, t, p, c in zip(split.paths, truth, predicted, confidence)
        if t != p
    ]
    figures = {
        "accuracy": float((predicted == truth).mean()),
        "confusion": confusion.tolist(),
        "per_class_accuracy": per_class_accuracy(confusion),
        "most_confused": most_confused(confusion),
        "misclassified": wrong,
        "class_names": label_names(class_names),
    }
    if k >= TOP5_FROM:
        top5 = np.argsort(-logits, axis=1)[:, :5]
        figures["top5_accuracy"] = float((top5 == truth[:, None]).any(axis=1).mean())
    return figures


def per_class_accuracy(confusion) -> list[float | None]:
    """Each true class's share predicted right (the diagonal over its row); None for no photos."""
    confusion = np.asarray(confusion)
    rows = confusion.sum(axis=1)
    return [float(confusion[i, i] / n) if n else None for i, n in enumerate(rows)]


def most_confused(confusion, limit: int = MOST_CONFUSED) -> list[dict]:
    """The `limit` largest off-diagonal cells, {"true", "predicted", "count"}, most first.

    Ties go by the true class, then the predicted one; empty cells are left out.
    """
    confusion = np.asarray(confusion)
    cells = [(-int(n), t, p) for (t, p), n in np.ndenumerate(confusion) if t != p and n > 0]
    return [{"true": t, "predicted": p, "count": -n} for n, t, p in sorted(cells)[:limit]]


def leakage_report(data: DataFolders) -> dict:
    """{"count": pairs, "pairs": [{"split", "path", "other_split", "other_path", "distance"}]}.

    The photos of two splits that are one photo (core/data/leakage.py), closest first; the first
    MAX_PAIRS are listed, all counted.
    """
    keys = ("split", "path", "other_split", "other_path", "distance")
    pairs = [dict(zip(keys, pair)) for pair in data.near_duplicates[:MAX_PAIRS]]
    return {"count": data.near_duplicate_count, "pairs": pairs}
