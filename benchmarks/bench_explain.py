"""Speed of the explain path on ResNet-50 at 224 px, as ratios to a compiled forward in one run.

    .venv/bin/python benchmarks/bench_explain.py [--repeats 30]

Random weights (offline machines cannot download ImageNet's); speed does not depend on them.
Timings are interleaved round-robin and summarised by their median, since these machines are noisy.
"""

# The imports below follow the sys.path entry that lets them work from a checkout.
# ruff: noqa: E402

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras
import numpy as np
import tensorflow as tf

from benchmarks.timing import interleaved
from core.cams import GradCAM
from core.config import STAGE_LAYERS, Config
from core.explain.overlay import blend, colorize
from core.model import LAST_STAGE, build_classifier

# Keras notes that a bare tensor is fed to a model whose input is named; harmless, and noisy here.
warnings.filterwarnings("ignore", message="The structure of `inputs`")


def keras_io_recipe(model: keras.Model, images: np.ndarray, layer: str) -> np.ndarray:
    """keras-io's make_gradcam_heatmap as published: eager, the gradient model rebuilt per call."""
    grad_model = keras.models.Model(model.inputs, [model.get_layer(layer).output, model.output])
    with tf.GradientTape() as tape:
        activations, predictions = grad_model(images)
        score = predictions[:, 0]
    grads = tape.gradient(score, activations)
    pooled = tf.reduce_mean(grads, axis=(0, 1, 2))
    return (activations[0] @ pooled[..., tf.newaxis]).numpy()


def median_ms(timings: list[float]) -> float:
    return statistics.median(timings) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    config = Config()
    model = build_classifier("none", config)
    photo = np.random.default_rng(0).uniform(0, 255, (1, 224, 224, 3)).astype(np.float32)

    forward = tf.function(lambda x: model(x, training=False))
    one_layer = GradCAM(model, [LAST_STAGE])
    all_layers = GradCAM(model, list(STAGE_LAYERS))
    candidates = {
        "compiled forward": lambda: forward(photo).numpy(),
        f"Grad-CAM {LAST_STAGE}": lambda: one_layer(photo),
        f"Grad-CAM all {len(STAGE_LAYERS)} stages": lambda: all_layers(photo),
        "keras-io recipe (eager)": lambda: keras_io_recipe(model, photo, LAST_STAGE),
    }
    timings = interleaved(candidates, args.repeats)

    big = np.random.default_rng(1).integers(0, 256, (768, 1024, 3), dtype=np.uint8)
    heatmap = np.random.default_rng(2).uniform(0, 1, (7, 7))
    colored = colorize(heatmap, 768, 1024)
    reblend, recolor = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        blend(big, colored, 0.5)
        reblend.append(time.perf_counter() - start)
        start = time.perf_counter()
        blend(big, colorize(heatmap, 768, 1024), 0.5)
        recolor.append(time.perf_counter() - start)

    base = median_ms(timings["compiled forward"])
    print(
        f"ResNet-50, 224x224, batch 1, {args.repeats} interleaved repeats, median; TF "
        f"{tf.__version__}"
    )
    print(f"{'compiled forward':34s} {base:8.1f} ms   1.00x")
    targets = {
        f"Grad-CAM {LAST_STAGE}": 1.2,
        f"Grad-CAM all {len(STAGE_LAYERS)} stages": 3.0,
    }
    for name in list(candidates)[1:]:
        ms = median_ms(timings[name])
        target = f"  (target <= {targets[name]})" if name in targets else ""
        print(f"{name:34s} {ms:8.1f} ms  {ms / base:5.2f}x{target}")
    print(
        f"{'alpha re-blend 1024x768':34s} {median_ms(reblend):8.2f} ms          (target <= 30 ms)"
    )
    print(f"{'colour + blend 1024x768':34s} {median_ms(recolor):8.2f} ms")
    print(
        f"{'peak memory (max RSS)':34s} "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MiB"
    )


if __name__ == "__main__":
    main()
