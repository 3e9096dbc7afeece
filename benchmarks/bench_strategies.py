"""A folder's strategies (core/explain/strategies.py): clustering 2,000 maps, and the shortcut
check's cost per photo it hides as a ratio to a forward pass F measured in the same run (ResNet-50,
224 px, random weights, batches of 16). Targets: clustering 2,000 maps <= 2 s; the check <= 1 F per
photo. The check is that one forward pass plus hiding the region, so its hiding alone is timed too:
on a loaded machine the ratio's noise hides a cost of a few percent, this figure does not.
(Strategies of a Folder run with matching maps load no model: tests/test_strategies.py makes
any model pass fail there.)

    .venv/bin/python benchmarks/bench_strategies.py [--maps 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.timing import interleaved  # noqa: E402
from core.explain.shortcuts import check, hidden_batch, region  # noqa: E402
from core.explain.strategies import Strategy, strategies  # noqa: E402
from core.models.build import build_classifier  # noqa: E402
from core.models.info import Classifier, ModelInfo  # noqa: E402


def maps_of(count: int, rng) -> tuple[np.ndarray, list[str]]:
    """`count` 7 x 7 maps in two predicted classes, each a bump at one of five places."""
    ys, xs = np.mgrid[0:7, 0:7]
    places = [(1, 1), (5, 5), (3, 3), (1, 5), (5, 1)]
    maps, labels = [], []
    for i in range(count):
        y, x = places[rng.integers(len(places))]
        maps.append(np.exp(-((ys - y) ** 2 + (xs - x) ** 2) / 2) + 0.05 * rng.random((7, 7)))
        labels.append(("cat", "dog")[i % 2])
    return np.stack(maps), labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--maps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    maps, labels = maps_of(args.maps, rng)
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        found = strategies(maps, labels)
        seconds.append(time.perf_counter() - start)
    clustering = statistics.median(seconds)

    model = build_classifier("none")
    classifier = Classifier(model, ModelInfo(backbone_weights="none"))
    photos = [rng.integers(0, 256, (224, 224, 3), dtype=np.uint8) for _ in range(32)]
    batch = np.stack(photos[:16]).astype(np.float32)
    forward = tf.function(lambda x: model(x, training=False))
    corner = np.zeros((8, 8))
    corner[0, 0] = 1
    strategy = Strategy("dog", tuple(range(32)), corner, None, (0.06, 0.06), 0.0, (0,))
    before = np.full(32, 0.9)  # the run's confidence: the check makes one pass, after hiding
    masks = {(224, 224): region(strategy, 224, 224)}
    timings = interleaved(
        {
            "forward, 16 photos": lambda: forward(batch).numpy(),
            "check (blur), 32 photos": lambda: check(classifier, photos, strategy, "blur", before),
            "check (mean), 32 photos": lambda: check(classifier, photos, strategy, "mean", before),
            "hiding (blur), 32 photos": lambda: hidden_batch(photos, masks, "blur"),
            "hiding (mean), 32 photos": lambda: hidden_batch(photos, masks, "mean"),
        },
        args.repeats,
        warmups=1,
    )
    f = statistics.median(timings["forward, 16 photos"]) / 16
    print(f"TF {tf.__version__}; F = {f * 1000:.1f} ms a photo (ResNet-50, 224 px, batches of 16)")
    print(
        f"clustering {args.maps:,} maps into {len(found)} strategies: {clustering:.2f} s "
        f"(median of {args.repeats}; target <= 2 s: {'met' if clustering <= 2 else 'MISSED'})"
    )
    for name in ("check (blur), 32 photos", "check (mean), 32 photos"):
        per_photo = statistics.median(timings[name]) / 32
        print(
            f"{name}: {per_photo * 1000:.1f} ms a photo = {per_photo / f:.3f} F "
            f"(target <= 1 F: {'met' if per_photo <= f else 'MISSED'})"
        )
    for name in ("hiding (blur), 32 photos", "hiding (mean), 32 photos"):
        per_photo = statistics.median(timings[name]) / 32
        print(
            f"{name}, the check's work beside F: {per_photo * 1000:.2f} ms a photo = "
            f"{per_photo / f:.3f} F"
        )


if __name__ == "__main__":
    main()
